"""The `paper` presets hold the paper's settings, and the Fig 3 paper preset (a ~1-day CPU job)
really starts, checkpoints on an interrupt, and resumes from where it stopped.

Section 6.2: d = 100, hidden widths (1000, 100), scalar output, GD with step size 1 for 1e5 steps,
weight decay 1e-4, 10 random draws; Fashion-MNIST (Appendix C.2): step 0.1, weight decay 1e-3,
sample size 10. Section 6.1 (Fig 2): n = 1000, d = 100, two hidden layers of width 10, 5000 epochs,
labels sin(10 w.x) and sin(100 w.x).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from _hostile import interrupt_held_merge
from lrscan.merge import preset


def test_paper_presets_hold_the_papers_settings():
    syn = preset("synthetic", "paper")
    assert (syn.lr, syn.weight_decay, syn.steps, syn.seeds, tuple(syn.widths), syn.d) == (1.0, 1e-4, 100_000, 10, (1000, 100), 100)
    assert {"different", "same-inputs"} <= set(syn.conditions)
    img = preset("images", "paper")
    assert (img.lr, img.weight_decay, img.seeds, tuple(img.widths), img.n) == (0.1, 1e-3, 10, (1000, 100), 10)
    fig2 = preset("fig2", "paper")
    assert (fig2.steps, tuple(fig2.widths), fig2.n, fig2.d, tuple(fig2.label_freqs)) == (5000, (10, 10), 1000, 100, (10.0, 100.0))
    lam = preset("lambda-sweep", "paper")
    assert (lam.lr, lam.steps, tuple(lam.widths)) == (1.0, 100_000, (1000, 100)) and 1e-4 in lam.lambdas


def _run_until(out: Path, tmp: Path, hold_at: int, *extra: str) -> tuple[dict, pd.DataFrame, str]:
    """Start `merge-exp synthetic --preset paper`, interrupt it (SIGINT) once `hold_at` steps are done."""
    err = interrupt_held_merge(["merge-exp", "synthetic", "--preset", "paper", "--out", out, *extra], tmp, hold_at,
                               timeout=240)
    return json.loads((out / "manifest.json").read_text()), pd.read_csv(out / "curves.csv"), err


def test_fig3_paper_preset_starts_checkpoints_and_resumes(tmp_path):
    out = tmp_path / "syn-paper"
    m1, c1, _ = _run_until(out, tmp_path, 2)
    cfg = m1["config"]
    assert (cfg["preset"], cfg["lr"], cfg["weight_decay"], cfg["steps"], cfg["seeds"], cfg["widths"]) == \
        ("paper", 1.0, 1e-4, 100_000, 10, [1000, 100])
    assert m1["complete"] is False and m1["steps_done"] >= 2
    assert (out / "checkpoint.pt").is_file()
    assert set(c1["condition"]) >= {"different", "same-inputs"} and set(c1["seed"]) == set(range(10))
    assert c1["step"].max() <= m1["steps_done"]

    m2, c2, _ = _run_until(out, tmp_path, m1["steps_done"] + 2, "--resume")
    assert m2["resumed_from_step"] == m1["steps_done"]
    assert m2["steps_done"] >= m1["steps_done"] + 2 and m2["complete"] is False
    # the curves logged before the interrupt are kept, row for row
    kept = c2[c2["step"] <= c1["step"].max()].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, c1, check_dtype=False)

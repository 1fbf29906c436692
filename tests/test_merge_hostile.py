"""Issue 5 for `lrscan merge-exp`: every invalid hyperparameter is one line and exit 2 with nothing
written; a diverging run stops, names the step and keeps what was logged; Ctrl-C / SIGTERM keep
the logged curves and --resume continues them; a checkpoint in --out is never unpickled unsafely."""
from __future__ import annotations

import json
import pickle
import signal
from pathlib import Path

import pandas as pd
import pytest

from _hostile import assert_no_output, assert_one_error_line, interrupt_held_merge, run_cli

TINY = ["--seeds", "1", "--widths", "8,4", "--n", "16"]


@pytest.mark.parametrize("args, needle", [
    (["--lr", "0"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--weight-decay", "-1e-4"], "--weight-decay"),
    (["--steps", "0"], "--steps"),
    (["--steps", "-5"], "--steps"),
    (["--widths", ""], "--widths"),
    (["--overlap", "1.5"], "--overlap"),
    (["--overlap", "-0.1"], "--overlap"),
], ids=["lr=0", "lr<0", "wd<0", "steps=0", "steps<0", "widths-empty", "overlap>1", "overlap<0"])
def test_merge_exp_invalid_hyperparameter_is_one_line_and_exit_2(capsys, tmp_path, args, needle):
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, "merge-exp", "synthetic", "--steps", "20", *TINY, *args, "--out", out)
    assert_one_error_line(rc, err, code=2, contains=(needle,))
    assert_no_output(out)


def test_merge_exp_divergence_stops_names_the_step_and_keeps_the_log(capsys, tmp_path):
    out = tmp_path / "div"
    rc, _, err = run_cli(capsys, "merge-exp", "synthetic", "--steps", "200", *TINY, "--lr", "1e6", "--out", out)
    err = "\n".join(line for line in err.splitlines() if not line.startswith("merge-exp "))  # the progress bar
    line = assert_one_error_line(rc, err, code=1, contains=("diverged at step",))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["diverged"]["step"] == int(line.split("diverged at step")[1].split()[0].strip(",:;"))
    curves = pd.read_csv(out / "curves.csv")
    assert len(curves) > 0 and curves["step"].max() <= manifest["diverged"]["step"]
    before = curves[curves["step"] < manifest["diverged"]["step"]]
    assert len(before) > 0 and before["loss"].notna().all()  # what was logged before it is kept, finite


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_merge_exp_interrupted_keeps_logged_curves_and_resumes(sig, capsys, tmp_path):
    out = tmp_path / "run"
    args = ["merge-exp", "synthetic", "--steps", "300", *TINY, "--out", str(out)]
    interrupt_held_merge(args, tmp_path, 120, sig)

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["steps_done"] >= 120
    partial = pd.read_csv(out / "curves.csv")
    assert len(partial) > 0 and 0 < partial["step"].max() <= manifest["steps_done"]

    rc, _, err = run_cli(capsys, *args, "--resume")
    assert rc == 0, err
    full = pd.read_csv(out / "curves.csv")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["resumed_from_step"] >= partial["step"].max()
    kept = full[full["step"] <= partial["step"].max()].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, partial, check_dtype=False)


class _WritesMarker:
    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_merge_exp_resume_never_unpickles_a_planted_checkpoint(capsys, tmp_path):
    out = tmp_path / "run"
    args = ["merge-exp", "synthetic", "--steps", "20", *TINY, "--out", out]
    rc, _, err = run_cli(capsys, *args)
    assert rc == 0, err
    marker = tmp_path / "PAYLOAD-RAN"
    payload = _WritesMarker()
    payload.marker = str(marker)
    import torch

    torch.save({"config": {}, "state": payload}, out / "checkpoint.pt")
    rc, _, err = run_cli(capsys, *args, "--resume")
    assert not marker.exists(), "merge-exp --resume ran code from checkpoint.pt"
    assert_one_error_line(rc, err, contains=("checkpoint.pt", "refused"))
    pickle.loads(pickle.dumps(payload))  # the payload is real
    assert marker.exists()

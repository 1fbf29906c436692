"""report.html of a merge-exp run: the figures and tables, through lrscan.report.page.write_page."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from lrscan.merge import figures, summary

FIGURE = {"synthetic": "Figure 3 (first row, stable ranks)", "lambda-sweep": "Figure 3 (second row, left)",
          "fig2": "Figure 2", "images": "Figure 5 (Appendix C.2)"}

ASSUMPTIONS = {
    "synthetic": "n (training points per task) is not given for Fig 3; initialisation is not given (LeCun normal "
                 "N(0, 1/fan_in) used); the two task subspaces are d/2-dimensional.",
    "lambda-sweep": "as synthetic; the same data and initialisation are used at every λ (paired comparison).",
    "fig2": "learning rate, batch size and the λ grid are not given in the paper; this run's values are in the "
            "meta block above. One step of the x-axis is one epoch of SGD (n / batch size minibatch updates).",
    "images": "the number of GD steps for Fig 5 is not given (the paper preset uses 1e5 as for Fig 3); images are "
              "scaled to unit length; the 'same task' contrast keeps task 2's own images and inverted labels on "
              "task 1's side (same input distribution, different labelling).",
}


def _shapes(d: int, widths) -> list[str]:
    dims = [d, *widths, 1]
    return [f"{dims[k + 1]}x{dims[k]}" for k in range(len(dims) - 1)]


def write_report(path: Path, df: pd.DataFrame, cfg, text: str, *, complete: bool, diverged: dict | None, d_in: int) -> Path:
    from lrscan.report.page import write_page

    meta = {"experiment": f"{cfg.experiment}: reproduces the paper's {FIGURE[cfg.experiment]}",
            "preset": cfg.preset, "learning rate η": cfg.lr,
            # fig2 and lambda-sweep train every λ of the grid; cfg.weight_decay is used only without a grid
            "weight decay λ": ("each λ of the grid" if cfg.experiment in ("fig2", "lambda-sweep") and cfg.lambdas
                               else cfg.weight_decay),
            "λ grid": ", ".join(f"{v:g}" for v in cfg.lambdas) or "—",
            "steps" if cfg.experiment != "fig2" else "epochs": cfg.steps,
            "batch size": cfg.batch_size or "full batch (GD)",
            "seeds": cfg.seeds, "widths": ",".join(map(str, cfg.widths)), "input dim": d_in,
            "training points per task": cfg.n, "bias": cfg.bias, "precision": cfg.precision,
            "status": "complete" if complete else ("DIVERGED" if diverged else "incomplete (resume with --resume)"),
            "assumed where the paper is silent": ASSUMPTIONS[cfg.experiment]}
    if cfg.experiment == "images":
        meta["dataset"] = cfg.dataset
    blocks: list[tuple[str, object]] = [("Summary", f"<pre>{html.escape(text)}</pre>")]
    if df.empty:
        return write_page(path, f"lrscan merge-exp {cfg.experiment}", meta, blocks)
    K = len(cfg.widths) + 1
    if cfg.experiment == "fig2":
        blocks.append(("Figure 2: low rank induced by weight decay", figures.fig2(df, "final network vs weight decay (mean ± sd over seeds)")))
        blocks.append(("Final values", summary.fig2_table(df)))
        return write_page(path, f"lrscan merge-exp {cfg.experiment}", meta, blocks)
    lam = cfg.weight_decay if cfg.experiment != "lambda-sweep" else max(df.weight_decay)
    main_conds = df[df.weight_decay == lam]
    if cfg.experiment in ("synthetic", "images"):
        blocks.append(("Merging: individual vs merged training loss (first row of the figure)",
                       figures.merge_curves(df, lam, f"λ = {lam:g}; bands: ± sd over {cfg.seeds} seeds (lower edge ≤ 0 on the log axis: drawn at 1% of the mean)")))
    if df.weight_decay.nunique() > 1:
        blocks.append(("Weight decay enables merging (second row, left)",
                       figures.lambda_gap(df, "gap between the merged (sum) model and the individual models, condition different")))
    cond = "different" if "different" in set(main_conds.condition) else main_conds.condition.iloc[0]
    blocks.append(("Stable ranks over training (second row, right)",
                   figures.stable_ranks(df, lam, cond, _shapes(d_in, cfg.widths), f"condition {cond}, λ = {lam:g}")))
    blocks.append(("Merging results at the last step", summary.merge_table(df)))
    blocks.append(("Final stable ranks", summary.rank_table(df, cfg.widths, d_in)))
    blocks.append(("Theory: Lemma 3, norm preservation",
                   figures.lemma3(df, lam, cond, K, f"model A, condition {cond}: λ‖W_k‖²_F per layer vs the Lemma 3 value")))
    blocks.append(("Theory: Lemma 5 / Corollary 1, first layer on the other task's inputs",
                   figures.lemma5(df, "measured (solid) vs bound ‖W₀x′‖(1−ηλ)^t + ε(1−(1−ηλ)^t)/λ (dashed)")
                   ))
    blocks.append(("Note on Lemma 5", "<p>The lemma is proved for a shallow network whose output weights u satisfy "
                   "‖u‖ ≤ 1 and are fixed. For the deep network trained here the first layer's gradient still lies in the "
                   "span of the task's inputs, so with orthogonal tasks (ε = 0) ‖W₁x′‖ = ‖W₀x′‖(1−ηλ)^t holds exactly; "
                   "the ε term's constant is the shallow network's and is not guaranteed for the deep one.</p>"))
    f = summary.final(df)
    f = f[f.lemma4_bound2.notna()]
    if not f.empty:
        t = f.groupby(["condition", "weight_decay"])[["inv_sr_avg", "lemma4_bound2", "lemma4_bound3", "loss"]].mean().reset_index()
        blocks.append(("Theory: Lemma 4 at the last step (average inverse stable rank vs its lower bounds; "
                       "the lemma assumes a stationary point)", t))
    blocks.append(("Beyond the paper: principal angles between A's and B's first-layer row spaces",
                   figures.angles(df, lam, "dominant row spaces (90% of ‖W₁‖²_F); cosine 0 = orthogonal, 1 = shared")))
    return write_page(path, f"lrscan merge-exp {cfg.experiment}", meta, blocks)

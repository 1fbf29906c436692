"""Training trajectories: a role's median stable rank and Frobenius norm against checkpoint step.

The step is parsed from the revision: `step3000` (Pythia), `checkpoint-3000`, `global_step3000`,
`ckpt_3000`, `iter3000`, or a bare number. Models with fewer than two parsable revisions have no
trajectory.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

_STEP = re.compile(r"(?:^|[^a-z0-9])(?:global[_-]?)?(?:step|checkpoint|ckpt|iter|iteration)s?[_-]?(\d+)$|^(\d+)$", re.I)

TRAJECTORY_COLUMNS = ["model", "role", "step", "revision", "layers", "median_stable_rank", "median_frobenius"]


def parse_step(revision: str | None) -> int | None:
    """'step3000' -> 3000; 'main' -> None."""
    m = _STEP.search((revision or "").strip())
    if not m:
        return None
    return int(m.group(1) or m.group(2))


def trajectory_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per (model, role, step): median over layers of stable rank and of Frobenius norm."""
    if sweep.empty:
        return pd.DataFrame(columns=TRAJECTORY_COLUMNS)
    df = sweep.assign(step=sweep["revision"].map(parse_step)).dropna(subset=["step"])
    df = df.astype({"step": int})
    steps_per_model = df.groupby("model")["step"].nunique()
    df = df[df["model"].isin(steps_per_model[steps_per_model >= 2].index)]
    if df.empty:
        return pd.DataFrame(columns=TRAJECTORY_COLUMNS)
    g = df.groupby(["model", "role", "step", "revision"], sort=True)
    t = g.agg(
        layers=("layer", "nunique"),
        median_stable_rank=("stable_rank", "median"),
        median_frobenius=("frobenius", "median"),
    ).reset_index()
    return t.sort_values(["model", "role", "step"]).reset_index(drop=True)[TRAJECTORY_COLUMNS]


def trajectory_figures(traj: pd.DataFrame) -> list:
    """One figure per model: stable rank (left) and Frobenius norm (right) vs step, a line per role."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figs = []
    for model, d in traj.groupby("model", sort=False):
        fig = make_subplots(rows=1, cols=2, subplot_titles=("median stable rank ‖W‖_F/‖W‖₂", "median Frobenius ‖W‖_F"))
        for i, (role, r) in enumerate(d.groupby("role", sort=False)):
            color = _PALETTE[i % len(_PALETTE)]
            common = dict(x=r["step"], mode="lines+markers", name=role, legendgroup=role, line=dict(color=color),
                          customdata=r[["revision"]], hovertemplate="%{customdata[0]}: %{y:.4g}<extra>" + role + "</extra>")
            fig.add_trace(go.Scatter(y=r["median_stable_rank"], **common), row=1, col=1)
            fig.add_trace(go.Scatter(y=r["median_frobenius"], showlegend=False, **common), row=1, col=2)
        log_x = d["step"].min() > 0 and d["step"].max() / max(d["step"].min(), 1) >= 100
        for col in (1, 2):
            fig.update_xaxes(title_text="checkpoint step", type="log" if log_x else "linear", row=1, col=col)
        fig.update_layout(title=str(model), height=420, margin=dict(t=70, l=50, r=20, b=50))
        figs.append((str(model), fig))
    return figs


_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]


def write_trajectory_page(traj: pd.DataFrame, path: str | Path, meta: dict | None = None) -> Path:
    from lrscan.report.page import write_page

    blocks = [(f"Trajectory: {model}", fig) for model, fig in trajectory_figures(traj)]
    blocks.append(("Per role and step (medians over layers)", traj))
    return write_page(path, "lrscan sweep: trajectories", meta or {}, blocks)

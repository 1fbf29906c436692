"""Sweep report: every model stacked (the shared scan report renderer) + trajectory figures."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from lrscan.sweep import tables
from lrscan.sweep.trajectory import trajectory_table, write_trajectory_page


def _renderer():
    """lrscan.report.render, or None with the reason when this build lacks it."""
    try:
        from lrscan.report import render
    except (ImportError, AttributeError) as e:
        return None, f"report.html not written: the scan report renderer (lrscan.report.render) is not available ({e})"
    return render, ""


def write_reports(sweep: pd.DataFrame, out: Path) -> tuple[list[Path], list[str]]:
    """report.html (all models), trajectory.csv + trajectory.html (when revisions carry steps)."""
    files: list[Path] = []
    msgs: list[str] = []
    meta = {"models": sweep["model"].nunique(), "entries": len(sweep.groupby(["model", "revision"])), "rows": len(sweep)}
    render, why = _renderer()
    if render is None:
        msgs.append(why)
    else:
        # labelled by entry: the renderer refuses one model given twice (several revisions) unlabelled
        frames = {(f"{m}@{r}" if r else str(m)): d for (m, r), d in sweep.groupby(["model", "revision"], sort=False)}
        files.append(Path(render(frames, out / "report.html", title="lrscan sweep")))
    traj = trajectory_table(sweep)
    if not traj.empty:
        files.append(tables.write_csv(traj, out / "trajectory.csv"))
        files.append(write_trajectory_page(traj, out / "trajectory.html", meta))
    return files, msgs

"""`lrscan sweep-merge` / `sweep --collect`: join the pieces written by shards (or by several
sweeps) into one sweep folder's tables and report.

Inputs are sweep folders. Every per-model subfolder whose manifest is complete contributes its
scan.csv; a failure recorded in any `failures*.csv` counts only while that model has no
complete output (a later rerun that succeeded supersedes it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from lrscan.errors import UsageError
from lrscan.sweep import tables
from lrscan.sweep.run import SweepResult, summarize
from lrscan.sweep.task import SCAN_CSV, TaskResult, is_complete, read_manifest
from lrscan.sweep.trajectory import parse_step


def _sort_key(r: TaskResult):
    step = parse_step(r.revision)
    return (r.model, step is None, step if step is not None else 0, r.revision)


def collect(folders: Iterable[str | Path], out: str | Path | None = None, report: bool = True) -> SweepResult:
    folders = [Path(f) for f in folders]
    for f in folders:
        if not f.is_dir():
            raise UsageError(f"sweep-merge: {f} is not a folder")
    out = Path(out) if out else folders[0]
    found: dict[tuple[str, str], TaskResult] = {}
    for f in folders:
        for sub in sorted(p for p in f.iterdir() if p.is_dir()):
            if not is_complete(sub):
                continue
            m = read_manifest(sub) or {}
            key = (str(m.get("model", sub.name)), str(m.get("revision") or ""))
            if key in found:
                continue
            frame = tables.read_scan_csv(sub / SCAN_CSV)
            found[key] = TaskResult(key[0], key[1], str(sub), "ok", rows=len(frame), frame=frame, manifest=m)
    failed: dict[tuple[str, str], TaskResult] = {}
    for f in folders:
        for path in sorted(f.glob("failures*.csv")):
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            for row in df.itertuples(index=False):
                key = (row.model, row.revision)
                if key not in found and key not in failed:
                    failed[key] = TaskResult(row.model, row.revision, "", "failed", row.error)
    if not found and not failed:
        raise UsageError(f"sweep-merge: no finished scans or recorded failures under {', '.join(map(str, folders))}")
    results = sorted(found.values(), key=_sort_key) + sorted(failed.values(), key=_sort_key)
    res = summarize(results, out)
    res.files += tables.write_table(res.table, out, "sweep")
    res.files.append(tables.write_csv(res.status, out / "status.csv"))
    res.files.append(tables.write_csv(res.failures, out / "failures.csv"))
    if report and not res.table.empty:
        from lrscan.sweep.report import write_reports

        files, msgs = write_reports(res.table, out)
        res.files += files
        res.messages += msgs
    return res

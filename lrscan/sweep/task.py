"""One unit of sweep work, run wherever the executor puts it: scan one (model, revision).

`run_one` never raises for a model's own failure: it returns a `TaskResult` with status
'failed' and the error as one line, so a sweep goes on. It is a plain top-level function of
picklable arguments, so the same code runs in-process, in a process pool and as a Ray task.
The scan function is injectable (a callable or a 'module:attr' string) so that the sweep can
be tested without the real scan engine; by default it is `lrscan.scan.scan_model`.
"""
from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lrscan.sweep.models import ModelSpec

DEFAULT_SCAN_FN = "lrscan.scan:scan_model"
MANIFEST = "manifest.json"
SCAN_CSV = "scan.csv"


@dataclass
class TaskResult:
    model: str
    revision: str
    out: str
    status: str  # 'ok' (scanned now) | 'skipped' (already complete) | 'failed'
    error: str = ""
    seconds: float = 0.0
    rows: int = 0
    frame: Any = field(default=None, repr=False)  # pandas DataFrame of the scan (ok/skipped)
    manifest: dict | None = field(default=None, repr=False)


def resolve_scan_fn(scan_fn: Callable | str | None) -> Callable:
    if callable(scan_fn):
        return scan_fn
    mod, _, attr = (scan_fn or DEFAULT_SCAN_FN).partition(":")
    return getattr(importlib.import_module(mod), attr or "scan_model")


def read_manifest(folder: str | Path) -> dict | None:
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(folder: str | Path) -> bool:
    """A model is finished when its manifest says complete and its table is there."""
    m = read_manifest(folder)
    return bool(m and m.get("complete") is True and (Path(folder) / SCAN_CSV).is_file())


def one_line_error(e: BaseException) -> str:
    from lrscan.errors import LrscanError

    text = " ".join(str(e).split()) if str(e).strip() else ""
    line = text if isinstance(e, LrscanError) and text else f"{type(e).__name__}: {text}".rstrip(": ")
    return line[:500]


def run_one(
    spec: ModelSpec,
    out_root: str,
    scan_kwargs: dict | None = None,
    scan_fn: Callable | str | None = None,
) -> TaskResult:
    """Scan `spec` into `out_root/<slug>/` (resume=True continues a partial folder)."""
    from lrscan.sweep.tables import read_scan_csv

    out = Path(out_root) / spec.slug
    t0 = time.perf_counter()
    try:
        fn = resolve_scan_fn(scan_fn)
        kwargs = {"progress": False, "html": False, **(scan_kwargs or {})}
        kwargs["resume"] = True  # a partial folder (interrupted run) continues where it stopped
        fn(spec.model, revision=spec.revision or None, out=str(out), **kwargs)
        if not is_complete(out):
            raise RuntimeError(f"scan returned but {out / MANIFEST} is not marked complete")
        frame = read_scan_csv(out / SCAN_CSV)
    except BaseException as e:  # noqa: BLE001 - a model's failure must not stop the sweep
        if isinstance(e, KeyboardInterrupt):
            raise
        return TaskResult(spec.model, spec.revision, str(out), "failed", one_line_error(e), time.perf_counter() - t0)
    return TaskResult(
        spec.model, spec.revision, str(out), "ok", "", time.perf_counter() - t0, len(frame), frame, read_manifest(out)
    )


def skipped_result(spec: ModelSpec, out_root: str) -> TaskResult:
    """The result of a model already complete on disk (read back, not redone)."""
    from lrscan.sweep.tables import read_scan_csv

    out = Path(out_root) / spec.slug
    frame = read_scan_csv(out / SCAN_CSV)
    return TaskResult(spec.model, spec.revision, str(out), "skipped", "", 0.0, len(frame), frame, read_manifest(out))

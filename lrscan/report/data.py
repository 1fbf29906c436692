"""Read scan results (the README's output contract) into the shapes the report draws.

    read_scan_dir(dir) -> (frame, manifest)       scan.csv (or scan.parquet) + manifest.json
    as_model_frames(frames) -> {label: frame}      list / dict / single frame -> ordered dict
    ROLE_ORDER, role_sort_key                      the order roles appear in legends and tables
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from lrscan.errors import LrscanError

# The contract's columns (README, "Output contract of a scan"); the report needs these.
REQUIRED_COLUMNS = (
    "model", "layer", "role", "rows", "cols", "frobenius", "spectral_norm", "stable_rank", "status",
)
OPTIONAL_COLUMNS = {
    "revision": "", "stable_rank_sq": float("nan"), "dtype": "", "device": "", "method": "",
    "seconds": float("nan"), "note": "", "tensors": "",
}
NUMERIC_COLUMNS = ("frobenius", "spectral_norm", "stable_rank", "stable_rank_sq", "seconds")

ROLE_ORDER = ("Q", "K", "V", "O", "QKV", "M1", "M1_gate", "M2", "other")


def role_sort_key(role: str) -> tuple[int, str]:
    return (ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER), role)


def _check_columns(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise LrscanError(f"{where}: not a scan table, missing column(s) {', '.join(missing)}")
    frame = frame.copy()
    for col, default in OPTIONAL_COLUMNS.items():
        if col not in frame.columns:
            frame[col] = default
    for col in NUMERIC_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in ("layer", "rows", "cols"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("int64")
    for col in ("model", "revision", "role", "status", "note", "tensors", "dtype", "device", "method"):
        frame[col] = frame[col].astype("object").where(frame[col].notna(), "").astype(str)
    return frame


def as_model_frames(frames: pd.DataFrame | Sequence[pd.DataFrame] | Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """One frame per model, in the order given. A dict's keys are the labels; otherwise the `model`
    column is (a frame holding several models is split, keeping first-appearance order)."""
    if isinstance(frames, pd.DataFrame):
        frames = [frames]
    out: dict[str, pd.DataFrame] = {}
    if isinstance(frames, Mapping):
        items = [(str(label), _check_columns(f, f"scan table for {label}")) for label, f in frames.items()]
    else:
        items = []
        for i, f in enumerate(frames):
            f = _check_columns(f, f"scan table #{i + 1}")
            for model in pd.unique(f["model"]):
                items.append((str(model), f[f["model"] == model]))
    for label, f in items:
        if label in out:
            raise LrscanError(f"model {label!r} given twice; pass a dict to label each scan")
        out[label] = f.sort_values(["layer", "role"], key=_sort_key_series, kind="stable").reset_index(drop=True)
    if not out:
        raise LrscanError("no scan rows to report")
    return out


def _sort_key_series(s: pd.Series) -> pd.Series:
    if s.name == "role":
        return s.map(lambda r: role_sort_key(r)[0])
    return s


def read_scan_dir(directory: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A scan output folder: its table (scan.csv, else scan.parquet) and manifest.json ({} if absent)."""
    d = Path(directory)
    if not d.is_dir():
        raise LrscanError(f"{d}: no such scan folder")
    csv, parquet = d / "scan.csv", d / "scan.parquet"
    if csv.is_file():
        try:
            frame = pd.read_csv(csv, keep_default_na=False, na_values=["", "nan", "NaN", "inf", "-inf"])
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise LrscanError(f"{csv}: unreadable scan table ({type(e).__name__})") from None
        where = str(csv)
    elif parquet.is_file():
        try:
            frame = pd.read_parquet(parquet)
        except ImportError:
            raise LrscanError(f"{d}: has only scan.parquet and pyarrow is not installed") from None
        where = str(parquet)
    else:
        raise LrscanError(f"{d}: no scan.csv (is this the --out folder of `lrscan model`?)")
    frame = _check_columns(frame, where)
    if frame.empty:
        raise LrscanError(f"{where}: the scan table has no rows")
    manifest: dict[str, Any] = {}
    mpath = d / "manifest.json"
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LrscanError(f"{mpath}: not valid JSON ({e})") from None
        if not isinstance(manifest, dict):
            raise LrscanError(f"{mpath}: expected a JSON object")
    return frame, manifest

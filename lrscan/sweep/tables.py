"""Tables of a sweep: read per-model scan tables, write combined ones atomically.

Files in a sweep folder (names are an interface, see README "Sweeps"):
    <slug>[@rev]/scan.csv, manifest.json   one scan per model, in the scan output contract
    sweep.csv (+ sweep.parquet)            every model's rows stacked; `model`, `revision` first
    status.csv                             one row per entry: model, revision, out, status, error, seconds, rows
    failures.csv                           the failed entries: model, revision, error (one line)
A shard (`--shard i/n`) writes its own tables with a `.shard{i}of{n}` tag (sweep.shard3of16.csv ...)
so that shards sharing a folder never write the same file; `lrscan sweep-merge` joins them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from lrscan.atomic import atomic_write

STRING_COLUMNS = ("model", "revision", "role", "dtype", "device", "method", "status", "note", "tensors")
STATUS_COLUMNS = ["model", "revision", "out", "status", "error", "seconds", "rows"]
FAILURE_COLUMNS = ["model", "revision", "error"]


def read_scan_csv(path: str | os.PathLike) -> pd.DataFrame:
    """A scan.csv with its text columns as strings ('' rather than NaN for empty cells)."""
    df = pd.read_csv(path, dtype={c: str for c in STRING_COLUMNS}, keep_default_na=True)
    for c in STRING_COLUMNS:
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    return df


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    return atomic_write(Path(path), lambda tmp: df.to_csv(tmp, index=False))


def write_table(df: pd.DataFrame, folder: Path, stem: str) -> list[Path]:
    """`stem`.csv, and `stem`.parquet when pyarrow is installed."""
    written = [write_csv(df, folder / f"{stem}.csv")]
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return written
    written.append(atomic_write(folder / f"{stem}.parquet", lambda tmp: df.to_parquet(tmp, index=False)))
    return written


def stack(frames: Iterable[tuple[str, str, pd.DataFrame]]) -> pd.DataFrame:
    """Stack per-model scan tables, setting `model`/`revision` to the sweep entry's values."""
    parts = []
    for model, revision, df in frames:
        df = df.copy()
        df["model"] = model  # as listed (the scan writes it as given, too)
        if "revision" not in df.columns:
            df["revision"] = revision
        elif revision:  # keep the scan's own value (e.g. 'main' for a hub default) unless one was asked
            df["revision"] = df["revision"].where(df["revision"] != "", revision)
        cols = ["model", "revision"] + [c for c in df.columns if c not in ("model", "revision")]
        parts.append(df[cols])
    if not parts:
        return pd.DataFrame(columns=["model", "revision"])
    return pd.concat(parts, ignore_index=True)

"""The scan's output files: the tidy table (scan.csv/.parquet/.json), manifest.json, spectrum.npz.

Every write goes to a temporary file in the same folder and is moved into place with os.replace,
so a reader (or an interrupted scan) only ever sees a complete file.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lrscan.atomic import atomic_write
from lrscan.errors import UsageError

COLUMNS = [
    "model", "revision", "layer", "role", "rows", "cols", "frobenius", "spectral_norm",
    "stable_rank", "stable_rank_sq", "dtype", "device", "method", "seconds", "status", "note", "tensors",
]
FORMATS = ("auto", "csv", "parquet", "json")


def to_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("layer", "rows", "cols"):
        df[c] = df[c].astype("int64")
    for c in ("model", "revision", "role", "dtype", "device", "method", "status", "note", "tensors"):
        df[c] = df[c].fillna("").astype(str)
    return df


def write_table(out: Path, df: pd.DataFrame, fmt: str = "csv") -> list[str]:
    """scan.csv always; plus scan.parquet (fmt auto: when pyarrow is there) or scan.json."""
    written = ["scan.csv"]
    atomic_write(out / "scan.csv", lambda p: df.to_csv(p, index=False))
    if fmt in ("auto", "parquet"):
        try:
            import pyarrow  # noqa: F401
        except ModuleNotFoundError:
            if fmt == "parquet":
                raise UsageError("--format parquet needs pyarrow (pip install pyarrow)") from None
        else:
            atomic_write(out / "scan.parquet", lambda p: df.to_parquet(p, index=False))
            written.append("scan.parquet")
    if fmt == "json":
        atomic_write(out / "scan.json", lambda p: df.to_json(p, orient="records", indent=1))
        written.append("scan.json")
    return written


def write_manifest(out: Path, manifest: dict) -> None:
    def w(p):
        with open(p, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, default=str)
            f.write("\n")

    atomic_write(out / "manifest.json", w)


def read_existing(out: Path) -> tuple[pd.DataFrame | None, dict | None]:
    """(table, manifest) already in `out`, for --resume; (None, None) when there is none."""
    csv, man = out / "scan.csv", out / "manifest.json"
    if not csv.exists():
        return None, None
    try:
        df = pd.read_csv(csv, keep_default_na=False, na_values=["NaN", "nan", ""],
                         dtype={"revision": str, "note": str, "dtype": str, "method": str})
    except Exception as e:
        raise UsageError(f"--resume: {csv} is not a readable scan table ({type(e).__name__}); remove it or use another --out") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UsageError(f"--resume: {csv} lacks columns {missing}; not an lrscan scan table")
    manifest = None
    if man.exists():
        try:
            manifest = json.loads(man.read_text())
        except ValueError:
            manifest = None
    for c in ("revision", "note", "dtype", "method", "device", "status", "tensors", "model", "role"):
        df[c] = df[c].fillna("").astype(str)
    return df[COLUMNS], manifest


def write_spectrum(out: Path, spectra: dict[str, np.ndarray]) -> None:
    def w(p):
        with open(p, "wb") as f:
            np.savez(f, **spectra)

    atomic_write(out / "spectrum.npz", w)


def read_spectrum(out: Path) -> dict[str, np.ndarray]:
    path = out / "spectrum.npz"
    if not path.exists():
        return {}
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def spectrum_key(layer: int, role: str) -> str:
    return f"layer{layer}_{role}"


def role_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per role: rows, median/min/max stable rank, median Frobenius norm (status ok rows)."""
    from lrscan.arch.family import ROLES

    ok = df[df["status"] == "ok"]
    g = ok.groupby("role")
    s = pd.DataFrame({
        "matrices": g.size(),
        "stable_rank_median": g["stable_rank"].median(),
        "stable_rank_min": g["stable_rank"].min(),
        "stable_rank_max": g["stable_rank"].max(),
        "frobenius_median": g["frobenius"].median(),
    })
    order = [r for r in ROLES if r in s.index]
    return s.loc[order].reset_index()

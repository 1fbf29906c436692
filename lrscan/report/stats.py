"""Numbers the report shows besides the per-layer curves.

    harmonic_mean(values)                 n / sum(1/x) over finite x (Lemma 4: 1 / mean inverse stable rank)
    role_summary(frames) -> DataFrame     per model and role: median/min/max/harmonic-mean stable rank, median ||W||_F
    model_facts(manifests) -> DataFrame   Table 1 of the paper: layers, model dimension, FF dimension
    norm_ratios(frame) -> DataFrame       per layer ||M1||_F/||QKV||_F, ||M2||_F/||QKV||_F, ||O||_F/||QKV||_F
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from lrscan.report.data import role_sort_key

# (label, numerator role) of the norm-preservation ratios (Lemma 3: layers of a homogeneous net share ||W||_F;
# for a transformer the paper treats QKV as one layer's weight).
RATIOS = (("‖M1‖_F / ‖QKV‖_F", "M1"), ("‖M2‖_F / ‖QKV‖_F", "M2"), ("‖O‖_F / ‖QKV‖_F", "O"))


def harmonic_mean(values: Iterable[float]) -> float:
    x = np.asarray(list(values), dtype="float64")
    x = x[np.isfinite(x) & (x > 0)]
    if x.size == 0:
        return float("nan")
    return float(x.size / np.sum(1.0 / x))


def role_summary(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for label, f in frames.items():
        for role in sorted(pd.unique(f["role"]), key=role_sort_key):
            g = f[f["role"] == role]
            sr = g["stable_rank"][np.isfinite(g["stable_rank"])]
            fro = g["frobenius"][np.isfinite(g["frobenius"])]
            rows.append({
                "model": label,
                "role": role,
                "matrices": len(g),
                "not ok": int((g["status"] != "ok").sum()),
                "shape": _shapes(g),
                "stable rank median": float(sr.median()) if len(sr) else math.nan,
                "min": float(sr.min()) if len(sr) else math.nan,
                "max": float(sr.max()) if len(sr) else math.nan,
                "harmonic mean (Lemma 4)": harmonic_mean(sr),
                "‖W‖_F median": float(fro.median()) if len(fro) else math.nan,
            })
    return pd.DataFrame(rows)


def _shapes(g: pd.DataFrame) -> str:
    shapes = sorted({(int(r), int(c)) for r, c in zip(g["rows"], g["cols"])})
    text = ", ".join(f"{r}×{c}" for r, c in shapes[:3])
    return text + (f" (+{len(shapes) - 3})" if len(shapes) > 3 else "")


def model_facts(labels: Iterable[str], manifests: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for label in labels:
        m = manifests.get(label) or {}
        facts = m.get("config_facts") or {}
        rows.append({
            "model": label,
            "family": m.get("family") or m.get("model_type") or "",
            "number of layers": facts.get("num_layers"),
            "model dimension": facts.get("d_model"),
            "FF dimension": facts.get("d_ff"),
            "heads": facts.get("num_heads"),
            "KV heads": facts.get("num_kv_heads"),
        })
    out = pd.DataFrame(rows)
    for col in ("number of layers", "model dimension", "FF dimension", "heads", "KV heads"):
        out[col] = pd.array(out[col], dtype="Int64")
    return out


def _frobenius_by_layer(frame: pd.DataFrame) -> pd.DataFrame:
    """layer x role table of ||W||_F (the first row where a (layer, role) repeats, as in generic scans)."""
    one = frame.drop_duplicates(["layer", "role"], keep="first")
    return one.pivot(index="layer", columns="role", values="frobenius")


def qkv_frobenius(frame: pd.DataFrame) -> pd.Series:
    """||QKV||_F per layer: the QKV row where scanned, else sqrt(||Q||² + ||K||² + ||V||²) (the same number:
    QKV is [Q; K; V] stacked on rows)."""
    by = _frobenius_by_layer(frame)
    if "QKV" in by.columns:
        qkv = by["QKV"]
    else:
        qkv = pd.Series(np.nan, index=by.index)
    if all(r in by.columns for r in ("Q", "K", "V")):
        qkv = qkv.fillna(np.sqrt(by["Q"] ** 2 + by["K"] ** 2 + by["V"] ** 2))
    return qkv


def norm_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Long table (layer, ratio, role, value); NaN where a norm is missing or not finite."""
    frame = frame[frame["layer"] >= 0]
    if frame.empty:
        return pd.DataFrame(columns=["layer", "ratio", "role", "value"])
    by = _frobenius_by_layer(frame)
    qkv = qkv_frobenius(frame)
    if qkv.isna().all():
        return pd.DataFrame(columns=["layer", "ratio", "role", "value"])
    rows = []
    for label, role in RATIOS:
        if role not in by.columns:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            values = by[role] / qkv.where(qkv > 0)
        for layer, v in values.items():
            rows.append({"layer": int(layer), "ratio": label, "role": role, "value": float(v)})
    return pd.DataFrame(rows, columns=["layer", "ratio", "role", "value"])

"""`lrscan diff BASE TUNED [TUNED2]`: scan fine-tune deltas ΔW = W_tuned − W_base per (layer, role).

    diff_models(base, tuned, tuned2=None, *, out=None, k=8, device="auto", precision="fp32",
                method="auto", layers=None, roles=None, generic=False) -> DiffResult

Both checkpoints are streamed matrix by matrix through the scan engine's reader and registry
(lrscan.io, lrscan.arch); ΔW is formed in float64 and measured with lrscan.spectral.matrix_metrics.
A model may be given as `id@revision`.

Outputs in `out` (written atomically):
    delta.csv (+ .parquet)  one row per (tuned, layer, role): base, tuned, layer, role, rows, cols,
                            frobenius, spectral_norm, stable_rank, stable_rank_sq (all of ΔW),
                            base_frobenius (‖W_base‖_F), relative_size (‖ΔW‖_F/‖W_base‖_F),
                            method, seconds, status, note, tensors
    angles.csv              with two fine-tunes: per (layer, role) the principal angles between the
                            top-k singular subspaces of ΔA and ΔB (lrscan.delta.angles)
    manifest.json           inputs, family, k, timings, complete
"""
from __future__ import annotations

import datetime as _dt
import json
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

DELTA_COLUMNS = ["base", "tuned", "layer", "role", "rows", "cols", "frobenius", "spectral_norm", "stable_rank",
                 "stable_rank_sq", "base_frobenius", "relative_size", "method", "seconds", "status", "note", "tensors"]
ANGLE_COLUMNS = ["base", "tuned_a", "tuned_b", "layer", "role", "rows", "cols", "k",
                 "left_min_deg", "left_median_deg", "left_max_deg", "left_overlap",
                 "right_min_deg", "right_median_deg", "right_max_deg", "right_overlap",
                 "status", "note", "left_angles_deg", "right_angles_deg"]


@dataclass
class DiffResult:
    deltas: pd.DataFrame
    angles: pd.DataFrame | None
    manifest: dict
    files: list[Path] = field(default_factory=list)


def _split(arg: str):
    from lrscan.sweep.models import split_revision

    s = split_revision(str(arg))
    return s.model, (s.revision or None)


def diff_models(base, tuned, tuned2=None, *, out=None, k: int = 8, device: str = "auto", precision: str = "fp32",
                method: str = "auto", layers=None, roles=None, generic: bool = False) -> DiffResult:
    import torch

    from lrscan import __version__
    from lrscan.delta.angles import delta_angles
    from lrscan.delta.pairing import check_compatible, open_model, paired_matrices
    from lrscan.errors import UsageError
    from lrscan.selection import parse_layers, parse_roles
    from lrscan.spectral import METHODS, compute_dtype, matrix_metrics, resolve_device

    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if k < 1:
        raise UsageError("-k must be at least 1")
    dt = compute_dtype(precision)
    dev = resolve_device(device)
    layer_sel, role_sel = parse_layers(layers), parse_roles(roles)
    started, t0 = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), time.perf_counter()

    rows, angle_rows = [], []
    with ExitStack() as stack:
        opened = [open_model(stack, *_split(m), generic=generic, layers=layer_sel, roles=role_sel)
                  for m in [base, tuned] + ([tuned2] if tuned2 is not None else [])]
        b, others = opened[0], opened[1:]
        check_compatible(b, others)
        for pm, mats in paired_matrices(b, others):
            w_base = mats[0].to(device=dev, dtype=torch.float64)
            base_fro = float(torch.linalg.vector_norm(w_base))
            deltas = []
            for o, w in zip(others, mats[1:]):
                t1 = time.perf_counter()
                d = w.to(device=dev, dtype=torch.float64) - w_base
                m = matrix_metrics(d if dt == torch.float64 else d.to(dt), method=method, device=dev, precision=precision)
                rel = m.frobenius / base_fro if base_fro > 0 else float("nan")
                note = m.note or ("" if base_fro > 0 else "base matrix is all zero: relative size undefined")
                rows.append({
                    "base": b.label, "tuned": o.label, "layer": pm.layer, "role": pm.role,
                    "rows": d.shape[0], "cols": d.shape[1], "frobenius": m.frobenius,
                    "spectral_norm": m.spectral_norm, "stable_rank": m.stable_rank,
                    "stable_rank_sq": m.stable_rank_sq, "base_frobenius": base_fro, "relative_size": rel,
                    "method": m.method, "seconds": time.perf_counter() - t1, "status": m.status, "note": note,
                    "tensors": ";".join(pm.tensors),
                })
                deltas.append((d, m.status))
            if len(deltas) == 2:
                (da, sa), (db, sb) = deltas
                if "nonfinite" in (sa, sb):
                    from lrscan.delta.angles import AngleResult
                    import numpy as np

                    ar = AngleResult(0, np.array([]), np.array([]), "nonfinite", "NaN/Inf in a delta")
                else:
                    ar = delta_angles(da, db, k)
                angle_rows.append({"base": b.label, "tuned_a": others[0].label, "tuned_b": others[1].label,
                                   "layer": pm.layer, "role": pm.role, "rows": da.shape[0], "cols": da.shape[1],
                                   **ar.row()})
            del w_base, deltas, mats

        manifest = {
            "base": b.label, "tuned": [o.label for o in others], "family": b.plan.family,
            "model_type": b.plan.model_type,
            "config_hash": {o.label: o.config_hash for o in opened},
            "commits": {o.label: o.resolved.commit for o in opened},
            "k": k, "device": str(dev), "precision": precision, "method": method,
            "lrscan_version": __version__, "started_at": started,
        }
    deltas_df = pd.DataFrame(rows, columns=DELTA_COLUMNS)
    angles_df = pd.DataFrame(angle_rows, columns=ANGLE_COLUMNS) if tuned2 is not None else None
    manifest.update(finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    total_seconds=round(time.perf_counter() - t0, 3), rows=len(deltas_df), complete=True)
    res = DiffResult(deltas_df, angles_df, manifest)
    if out is not None:
        res.files = write_diff(res, Path(out))
    return res


def write_diff(res: DiffResult, out: Path) -> list[Path]:
    from lrscan.atomic import write_text
    from lrscan.sweep.tables import write_csv, write_table

    files = write_table(res.deltas, out, "delta")
    if res.angles is not None:
        files.append(write_csv(res.angles, out / "angles.csv"))
    text = json.dumps(res.manifest, indent=2, default=str)
    files.append(write_text(out / "manifest.json", text))
    return files


def summary(res: DiffResult) -> pd.DataFrame:
    """Per (tuned, role): median relative size and stable rank of the deltas (+ angles when two)."""
    d = res.deltas
    s = d.groupby(["tuned", "role"], sort=False).agg(
        matrices=("layer", "size"), median_rel_size=("relative_size", "median"),
        median_delta_stable_rank=("stable_rank", "median"), max_delta_spectral=("spectral_norm", "max"),
    ).reset_index()
    if res.angles is not None and not res.angles.empty:
        a = res.angles.groupby("role", sort=False).agg(median_left_deg=("left_median_deg", "median"),
                                                       median_left_overlap=("left_overlap", "median")).reset_index()
        s = s.merge(a, on="role", how="left")
    return s

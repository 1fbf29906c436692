"""Principal angles between the top-k singular subspaces of two deltas.

For ΔA, ΔB of the same shape, let U_A, U_B be their top-k left singular vectors (output space)
and V_A, V_B the right ones (input space). The cosines of the principal angles are the singular
values of U_Aᵀ U_B (resp. V_Aᵀ V_B). Angles near 90° (overlap near 0): the two fine-tunes wrote
into different directions, so summing them (task arithmetic) interferes little; angles near 0°:
they compete for the same directions.

`k` is capped at the numerical rank of either delta (singular values above 1e-6·σ_max), since
directions beyond the rank are arbitrary; the k used is reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

RANK_RTOL = 1e-6
EXACT_MAX_DIM = 4096  # full SVD below this smaller side; randomized subspace iteration above


@dataclass
class Subspace:
    u: torch.Tensor  # [rows, k] orthonormal
    v: torch.Tensor  # [cols, k] orthonormal
    s: torch.Tensor  # [k] top singular values, descending
    rank: int  # numerical rank among the computed values


def top_subspace(delta: torch.Tensor, k: int) -> Subspace:
    """Top-k singular triplets of `delta` (float64 on its device)."""
    x = delta.to(torch.float64)
    k = max(1, min(k, *x.shape))
    if min(x.shape) <= EXACT_MAX_DIM:
        u, s, vh = torch.linalg.svd(x, full_matrices=False)
        u, s, v = u[:, :k], s[:k], vh[:k].T
    else:  # randomized subspace iteration; enough for angles, which are not metrics to 1e-6
        u, s, v = torch.svd_lowrank(x, q=min(k + 10, min(x.shape)), niter=6)
        u, s, v = u[:, :k], s[:k], v[:, :k]
    smax = float(s[0]) if s.numel() else 0.0
    rank = int((s > RANK_RTOL * smax).sum()) if smax > 0 else 0
    return Subspace(u, v, s, rank)


def principal_angles_deg(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Principal angles (degrees, ascending) between span(a) and span(b), both orthonormal columns."""
    c = torch.linalg.svdvals(a.T @ b).clamp(0.0, 1.0).cpu().numpy()
    return np.sort(np.degrees(np.arccos(c)))


@dataclass
class AngleResult:
    k: int
    left: np.ndarray  # principal angles between output (column) subspaces, degrees, ascending
    right: np.ndarray  # between input (row) subspaces
    status: str = "ok"
    note: str = ""

    def row(self) -> dict:
        def stats(a: np.ndarray, side: str) -> dict:
            if a.size == 0:
                nan = float("nan")
                return {f"{side}_min_deg": nan, f"{side}_median_deg": nan, f"{side}_max_deg": nan,
                        f"{side}_overlap": nan, f"{side}_angles_deg": ""}
            cos2 = np.cos(np.radians(a)) ** 2
            return {f"{side}_min_deg": float(a.min()), f"{side}_median_deg": float(np.median(a)),
                    f"{side}_max_deg": float(a.max()), f"{side}_overlap": float(cos2.mean()),
                    f"{side}_angles_deg": ";".join(f"{x:.4f}" for x in a)}

        return {"k": self.k, **stats(self.left, "left"), **stats(self.right, "right"),
                "status": self.status, "note": self.note}


def delta_angles(da: torch.Tensor, db: torch.Tensor, k: int) -> AngleResult:
    sa, sb = top_subspace(da, k), top_subspace(db, k)
    k_used = min(sa.rank, sb.rank, k)
    if k_used == 0:
        return AngleResult(0, np.array([]), np.array([]), "zero", "a delta is all zero: no subspace to compare")
    note = f"k capped at numerical rank {k_used} (asked {k})" if k_used < k else ""
    return AngleResult(
        k_used,
        principal_angles_deg(sa.u[:, :k_used], sb.u[:, :k_used]),
        principal_angles_deg(sa.v[:, :k_used], sb.v[:, :k_used]),
        note=note,
    )

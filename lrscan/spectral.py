"""Spectral maths of one weight matrix: Frobenius norm, spectral norm, stable rank.

Definitions (paper, Section 2):
    stable_rank    = ||W||_F / ||W||_2        (the paper's; between 1 and sqrt(rank))
    stable_rank_sq = (||W||_F / ||W||_2)^2    (what WeightWatcher calls "stable rank")

API CONTRACT (other modules rely on it; keep the signatures):
    resolve_device(device: str) -> torch.device          "auto" | "cpu" | "cuda" | "cuda:N"
    matrix_metrics(w, *, method="auto", device=None, precision="fp32",
                   want_spectrum=False) -> MatrixMetrics
    METHODS: tuple of method names accepted by matrix_metrics

NOTE: this first version computes everything with a float64 full SVD (exact, slow). The
spectral work replaces the internals with measured fast methods without changing the API.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

METHODS = ("auto", "svd")

_PRECISIONS = {"fp32": torch.float32, "fp64": torch.float64}


@dataclass
class MatrixMetrics:
    frobenius: float
    spectral_norm: float
    stable_rank: float
    stable_rank_sq: float
    method: str
    status: str = "ok"  # "ok" | "nonfinite" | "zero"
    note: str = ""
    singular_values: np.ndarray | None = field(default=None, repr=False)


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU. 'cuda' without CUDA is an error (one line)."""
    from lrscan.errors import UsageError

    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} asked for, but no CUDA device is available (use --device auto or cpu)")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise UsageError(f"unknown device {device!r}: {e}") from None


def compute_dtype(precision: str) -> torch.dtype:
    from lrscan.errors import UsageError

    try:
        return _PRECISIONS[precision]
    except KeyError:
        raise UsageError(f"unknown precision {precision!r}; choose one of {', '.join(_PRECISIONS)}") from None


def matrix_metrics(
    w: torch.Tensor,
    *,
    method: str = "auto",
    device: torch.device | str | None = None,
    precision: str = "fp32",
    want_spectrum: bool = False,
) -> MatrixMetrics:
    """Metrics of one 2-D matrix. Never down-casts: fp16/bf16 input is up-cast to `precision`."""
    if w.ndim != 2:
        raise ValueError(f"matrix_metrics needs a 2-D tensor, got shape {tuple(w.shape)}")
    dev = resolve_device(device) if isinstance(device, (str, type(None))) else device
    dt = compute_dtype(precision)
    if w.dtype == torch.float64:
        dt = torch.float64
    x = w.to(device=dev, dtype=dt)
    if not bool(torch.isfinite(x).all()):
        nan = float("nan")
        return MatrixMetrics(nan, nan, nan, nan, method="none", status="nonfinite", note="NaN/Inf values in tensor")
    fro = float(torch.linalg.vector_norm(x.to(torch.float64)))
    if fro == 0.0:
        nan = float("nan")
        return MatrixMetrics(0.0, 0.0, nan, nan, method="none", status="zero", note="all-zero matrix: stable rank undefined")
    s = torch.linalg.svdvals(x.to(torch.float64))
    spec = float(s[0])
    sr = fro / spec
    return MatrixMetrics(
        frobenius=fro,
        spectral_norm=spec,
        stable_rank=sr,
        stable_rank_sq=sr * sr,
        method="svd",
        singular_values=s.cpu().numpy() if want_spectrum else None,
    )


__all__ = ["MatrixMetrics", "METHODS", "matrix_metrics", "resolve_device", "compute_dtype"]

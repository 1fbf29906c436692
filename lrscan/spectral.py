"""Spectral maths of one weight matrix: Frobenius norm, spectral norm, stable rank.

Definitions (paper, Section 2):
    stable_rank    = ||W||_F / ||W||_2        (the paper's; between 1 and sqrt(rank))
    stable_rank_sq = (||W||_F / ||W||_2)^2    (what WeightWatcher calls "stable rank")

API CONTRACT (other modules rely on it; keep the signatures):
    resolve_device(device: str) -> torch.device          "auto" | "cpu" | "cuda" | "cuda:N"
    matrix_metrics(w, *, method="auto", device=None, precision="fp32",
                   want_spectrum=False) -> MatrixMetrics
    METHODS: tuple of method names accepted by matrix_metrics

Methods (MatrixMetrics.method records the one that ran; "auto" is resolved, never recorded):
    svd      float64 full SVD: the reference (slow: ~80 s for 4096x16384 on 2 cores)
    gram     eigvalsh of the float64 Gram matrix on the smaller side
    lanczos  block Lanczos (torch, CPU and CUDA alike) with full reorthogonalisation, stopped on
             the residual bound, then a float64 Rayleigh-quotient/residual pass
    power    power iteration with a gap-aware stop (slow when sigma_2 ~ sigma_1: shown in the bench)
    svdvals  torch.linalg.svdvals in the compute dtype (also gives the spectrum)
    auto     `lanczos`, except tiny matrices (smaller side <= AUTO_DIRECT_MAX) which go to `svd`;
             chosen by benchmarks/bench_spectral.py (README, "Spectral method: measured").

Precision: compute in float32 (default) or float64; never down-cast (fp16/bf16 are up-cast, a
float64 input stays float64). Frobenius is always accumulated in float64 from chunks. Matrices
whose norm is far from 1 are scaled by a power of two (exact) so fp16/bf16 values near the
format max cannot overflow float32 products.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from lrscan import spectral_methods as sm

METHODS = ("auto", "svd", "gram", "lanczos", "power", "svdvals")

# `auto` sends matrices whose smaller side is at most this to the exact float64 SVD (measured:
# below this size the full SVD costs about as little as a few Krylov steps).
AUTO_DIRECT_MAX = 64

# Scale by a power of two when ||W||_F is outside [2^-40, 2^40]: keeps sigma^2 and every Krylov
# product well inside float32's range.
_SCALE_EXP = 40

# Block size of `lanczos` (vectors per block), chosen by measurement on a quiet machine (2 cores):
# single-vector Lanczos beat blocks of 2 and 4 on every case measured: 4096x16384 separated
# 0.23 vs 0.43 s, near-degenerate 0.26 vs 0.43 s, gapless 1.76 vs 3.36 s; GPT-2-XL-shaped layers
# 0.68 vs 0.85-0.96 s (strong directions) and 1.96 vs 2.79 s (random init). Block 4 had looked
# best in a run under heavy load from other processes (README, "Spectral method: measured").
LANCZOS_BLOCK = 1

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

    if isinstance(device, torch.device):
        device = str(device)
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} asked for, but no CUDA device is available (use --device auto or cpu)")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise UsageError(f"unknown device {device!r}: {str(e).splitlines()[0]}") from None


def compute_dtype(precision: str) -> torch.dtype:
    from lrscan.errors import UsageError

    try:
        return _PRECISIONS[precision]
    except KeyError:
        raise UsageError(f"unknown precision {precision!r}; choose one of {', '.join(_PRECISIONS)}") from None


def _choose(method: str, x: torch.Tensor) -> str:
    if method != "auto":
        return method
    return "svd" if min(x.shape) <= AUTO_DIRECT_MAX else "lanczos"


def _sigma(method: str, x: torch.Tensor) -> sm.SigmaResult:
    if method == "svd":
        return sm.sigma_svd(x)
    if method == "gram":
        return sm.sigma_gram(x)
    if method == "svdvals":
        return sm.sigma_svdvals(x)
    res = sm.sigma_lanczos(x, block=LANCZOS_BLOCK) if method == "lanczos" else sm.sigma_power(x)
    if x.dtype != torch.float64 and res.vector is not None:
        # float32 iteration: the reported value and bound come from one float64 pass
        sigma64, bound64 = sm.refine_fp64(x, res.vector)
        res.sigma = max(sigma64, res.sigma) if res.bound == 0.0 else sigma64
        res.bound = bound64 if res.bound != 0.0 else 0.0
    if not res.note and res.method == "lanczos" and res.bound > 1e-6:
        res.note = f"lanczos: residual bound {res.bound:.1e} exceeds 1e-6"
    if not res.note and res.method == "power" and res.bound > 1e-6:
        res.note = f"power: stopped on the gap-aware estimate (residual bound {res.bound:.1e})"
    if res.method == "svdvals" and x.dtype == torch.float32:
        res.note = "svdvals in float32: sigma_max accurate to ~1e-6 only (use fp64 for exactness)"
    return res


def matrix_metrics(
    w: torch.Tensor,
    *,
    method: str = "auto",
    device: torch.device | str | None = None,
    precision: str = "fp32",
    want_spectrum: bool = False,
) -> MatrixMetrics:
    """Metrics of one 2-D matrix. Never down-casts: fp16/bf16 input is up-cast to `precision`."""
    from lrscan.errors import UsageError

    if w.ndim != 2:
        raise ValueError(f"matrix_metrics needs a 2-D tensor, got shape {tuple(w.shape)}")
    if method not in METHODS:
        raise UsageError(f"unknown spectral method {method!r}; choose one of {', '.join(METHODS)}")
    if not (w.is_floating_point()):
        raise ValueError(f"matrix_metrics needs a floating-point tensor, got {w.dtype}")
    dev = resolve_device(device) if isinstance(device, (str, type(None))) else device
    dt = compute_dtype(precision)
    if w.dtype == torch.float64:
        dt = torch.float64
    x = w.to(device=dev, dtype=dt)
    nan = float("nan")
    if x.numel() == 0:
        return MatrixMetrics(0.0, 0.0, nan, nan, method="none", status="zero", note="empty matrix: stable rank undefined")

    fro = sm.frobenius_fp64(x)
    if not math.isfinite(fro) and not bool(torch.isfinite(x).all()):
        return MatrixMetrics(nan, nan, nan, nan, method="none", status="nonfinite", note="NaN/Inf values in tensor")
    if fro == 0.0:
        return MatrixMetrics(0.0, 0.0, nan, nan, method="none", status="zero", note="all-zero matrix: stable rank undefined")

    # exact power-of-two scaling when the norm is far from 1 (or its float64 square overflowed)
    scale = 1.0
    if not math.isfinite(fro):
        amax = float(x.abs().max())
        scale = 2.0 ** -math.frexp(amax)[1]
    elif not (2.0 ** -_SCALE_EXP <= fro <= 2.0 ** _SCALE_EXP):
        scale = 2.0 ** -math.frexp(fro)[1]
    if scale != 1.0:
        x = x * scale
        if not math.isfinite(fro):
            fro = sm.frobenius_fp64(x) / scale

    chosen = _choose(method, x)
    res = _sigma(chosen, x)
    spec = res.sigma / scale
    spectrum = None
    if want_spectrum:
        s = torch.linalg.svdvals(x.to(torch.float64) if chosen == "svd" else x)
        spectrum = s.to(torch.float64).cpu().numpy() / scale
    # sigma_max <= ||W||_F always; equality only for rank 1 (guards a last-ulp excess)
    spec = min(spec, fro) if spec > fro * (1 + 1e-12) else spec
    sr = fro / spec if spec > 0 else nan
    return MatrixMetrics(
        frobenius=fro,
        spectral_norm=spec,
        stable_rank=sr,
        stable_rank_sq=sr * sr,
        method=res.method,
        note=res.note,
        singular_values=spectrum,
    )


__all__ = ["MatrixMetrics", "METHODS", "AUTO_DIRECT_MAX", "matrix_metrics", "resolve_device", "compute_dtype"]

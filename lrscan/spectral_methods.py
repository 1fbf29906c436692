"""Ways to compute sigma_max of one finite, non-zero, suitably scaled matrix.

Every function takes `x`, a 2-D tensor already on its device in its compute dtype (float32 or
float64), and returns a `SigmaResult`. The same code runs on CPU and CUDA: the device is
whatever `x` lives on. `lrscan.spectral.matrix_metrics` prepares `x` (up-cast, scaling, zero and
NaN/Inf checks) and picks the method.

Numerics in one paragraph. Krylov methods (`lanczos`, `power`) iterate on the Gram operator of
the smaller side, S = X^T X (or X X^T), whose top eigenvalue is sigma_max^2. For a unit vector v
with Rayleigh quotient t = v.S v and residual r = S v - t v there is an eigenvalue lambda of S with
|lambda - t| <= ||r||, hence a singular value sigma with |sigma - sqrt(t)| / sqrt(t) <= ||r|| / t
(the "residual bound"; Ritz values of a Krylov space are lower bounds of sigma_max, so with a
random start the singular value found is sigma_max). Iterations run in the compute dtype; a
float32 run then ends with one float64 pass over the matrix (`refine_fp64`) that recomputes the
Rayleigh quotient and the residual bound of the converged vector in float64, so the reported value
and bound do not carry float32 rounding of the iteration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Internal target for the relative error bound: 10x below the 1e-6 the issue asks for.
TOL = 1e-7
# Elements per float64 chunk in the chunked passes (a few MB: stays in cache, no fp64 copy of X).
_CHUNK_ELEMS = 1 << 18


@dataclass
class SigmaResult:
    sigma: float
    method: str
    iterations: int = 0  # operator applications (block steps for lanczos)
    bound: float = float("nan")  # relative error bound on sigma (nan when not applicable)
    converged: bool = True
    vector: torch.Tensor | None = None  # unit vector on the smaller side (Krylov methods)
    note: str = ""


def sigma_bound(res_norm: float, t: float) -> float:
    """Relative error bound on sigma = sqrt(t) from ||S v - t v|| (|lambda - t| <= ||r||)."""
    eps = res_norm / t
    return 1.0 - math.sqrt(1.0 - eps) if eps < 1.0 else math.inf


# --------------------------------------------------------------------------- float64 passes


def _row_chunks(x: torch.Tensor):
    rows = max(1, _CHUNK_ELEMS // max(1, x.shape[1]))
    return x.split(rows, dim=0)


def frobenius_fp64(x: torch.Tensor) -> float:
    """||X||_F accumulated in float64, chunk by chunk (never a whole float64 copy of X)."""
    acc = torch.zeros((), dtype=torch.float64, device=x.device)
    for c in _row_chunks(x):
        c64 = c.to(torch.float64).reshape(-1)
        acc += torch.dot(c64, c64)
    return math.sqrt(float(acc))


def refine_fp64(x: torch.Tensor, v: torch.Tensor) -> tuple[float, float]:
    """Float64 sigma estimate and relative residual bound for a (float32) unit vector v.

    v lives on the smaller side of X. It is first mapped to a right vector w (in R^cols); then ONE
    chunked float64 pass computes y = X w and z = X^T y. Returns (sigma, bound) with
    sigma = ||z|| / ||y||  (a lower bound of sigma_max, at least the Rayleigh quotient ||y||) and
    bound = ||z - ||y||^2 w|| / ||y||^2, the residual bound on sigma's relative error.
    """
    m, n = x.shape
    if v.shape[0] == n:
        w = v.to(torch.float64)
    else:  # v is a left vector: one power step to the right side (float64, chunked)
        w = torch.zeros(n, dtype=torch.float64, device=x.device)
        rows = max(1, _CHUNK_ELEMS // max(1, n))
        v64 = v.to(torch.float64)
        for i, c in enumerate(_row_chunks(x)):
            w.addmv_(c.to(torch.float64).T, v64[i * rows:(i + 1) * rows])
    w = w / torch.linalg.vector_norm(w)
    z = torch.zeros(n, dtype=torch.float64, device=x.device)
    yy = torch.zeros((), dtype=torch.float64, device=x.device)
    for c in _row_chunks(x):
        c64 = c.to(torch.float64)
        y = c64 @ w
        yy += torch.dot(y, y)
        z.addmv_(c64.T, y)
    t = float(yy)  # Rayleigh quotient of X^T X at w
    if t <= 0.0:
        return 0.0, float("inf")
    sigma = float(torch.linalg.vector_norm(z)) / math.sqrt(t)
    bound = sigma_bound(float(torch.linalg.vector_norm(z - t * w)), t)
    return sigma, bound


# --------------------------------------------------------------------------- direct methods


def sigma_svd(x: torch.Tensor) -> SigmaResult:
    """The reference: float64 full SVD (singular values only; LAPACK gesdd via torch)."""
    s = torch.linalg.svdvals(x.to(torch.float64))
    return SigmaResult(float(s[0]), "svd", bound=0.0)


def sigma_svdvals(x: torch.Tensor) -> SigmaResult:
    """torch.linalg.svdvals in the compute dtype (float32 by default)."""
    s = torch.linalg.svdvals(x)
    return SigmaResult(float(s[0]), "svdvals")


def sigma_gram(x: torch.Tensor) -> SigmaResult:
    """eigvalsh of the float64 Gram matrix on the smaller side, accumulated from float64 chunks."""
    m, n = x.shape
    if m <= n:  # G = X X^T (m x m), chunks of columns
        g = torch.zeros(m, m, dtype=torch.float64, device=x.device)
        step = max(256, _CHUNK_ELEMS // max(1, m))
        for j in range(0, n, step):
            c = x[:, j:j + step].to(torch.float64)
            g.addmm_(c, c.T)
    else:  # G = X^T X (n x n), chunks of rows
        g = torch.zeros(n, n, dtype=torch.float64, device=x.device)
        step = max(256, _CHUNK_ELEMS // max(1, n))
        for i in range(0, m, step):
            c = x[i:i + step].to(torch.float64)
            g.addmm_(c.T, c)
    lam = float(torch.linalg.eigvalsh(g)[-1])
    return SigmaResult(math.sqrt(max(lam, 0.0)), "gram")


# --------------------------------------------------------------------------- Krylov methods


class _GramOperator:
    """S = X^T X or X X^T (the smaller side), applied to a block of vectors stored as ROWS.

    Rows-as-vectors keeps both products in the fast GEMM layout (P @ X and P @ X^T); on CPU the
    transposed column-block layout (X^T @ Q with few columns) is ~6x slower.
    """

    def __init__(self, x: torch.Tensor):
        self.x = x
        m, n = x.shape
        self.right = n <= m  # basis in R^n: S = X^T X
        self.size = n if self.right else m

    def __call__(self, p: torch.Tensor) -> torch.Tensor:  # p: (b, size) -> (b, size)
        if self.right:
            return (p @ self.x.T) @ self.x
        return (p @ self.x) @ self.x.T


def _start_block(op: _GramOperator, b: int, x: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator(device=x.device)
    g.manual_seed(seed)
    return torch.randn(b, op.size, generator=g, dtype=x.dtype, device=x.device)


def _orthonormal_rows(w: torch.Tensor, basis: torch.Tensor | None, gen_fill) -> torch.Tensor:
    """Rows of w made orthonormal and orthogonal to `basis` rows (CGS2 + QR, rank deficiency
    filled with random directions)."""
    for _ in range(3):
        if basis is not None and basis.shape[0]:
            for _ in range(2):
                w = w - (w @ basis.T) @ basis
        q, r = torch.linalg.qr(w.T)  # (size, b), (b, b)
        d = r.diagonal().abs()
        scale = float(d.max()) if d.numel() else 0.0
        bad = d <= 1e3 * torch.finfo(w.dtype).eps * max(scale, 1e-300)
        if scale > 0 and not bool(bad.any()):
            w = q.T
            if basis is not None and basis.shape[0]:  # one more pass after the QR
                w = w - (w @ basis.T) @ basis
                w = torch.linalg.qr(w.T)[0].T
            return w.contiguous()
        w = q.T.clone()
        w[bad] = gen_fill(int(bad.sum()))
    return w.contiguous()


def sigma_lanczos(
    x: torch.Tensor,
    *,
    block: int = 8,
    tol: float = TOL,
    max_steps: int = 400,
    max_basis: int = 512,
    seed: int = 0,
) -> SigmaResult:
    """Block Lanczos on the Gram operator with full reorthogonalisation and Rayleigh-Ritz.

    Basis Q (rows orthonormal) spans the block Krylov space {P, S P, S^2 P, ...}; we keep Z = S Q,
    so T = Q Z^T is the projected matrix, its top eigenpair (t, y) gives the Ritz vector v = y^T Q
    and the EXPLICIT residual r = y^T Z - t v (not a recurrence estimate). Stops when
    ||r|| / t <= tol (the residual bound on sigma's relative error, see the module docstring) or
    when the float32 bound stops improving (rounding floor: the float64 refinement then measures
    the bound honestly). Restarts from the top Ritz vectors when the basis reaches max_basis.
    """
    op = _GramOperator(x)
    size = op.size
    b = max(1, min(block, size))
    cap = min(max_basis, size)
    cap = max(cap, b)
    dt, dev = x.dtype, x.device
    g = torch.Generator(device=dev)
    g.manual_seed(seed)

    def fill(k: int) -> torch.Tensor:
        return torch.randn(k, size, generator=g, dtype=dt, device=dev)

    Q = torch.empty(cap, size, dtype=dt, device=dev)
    Z = torch.empty(cap, size, dtype=dt, device=dev)
    p = _orthonormal_rows(fill(b), None, fill)
    k = 0
    steps = 0
    history: list[float] = []
    t = 0.0
    v = p[0]
    bound = float("inf")
    while True:
        nb = p.shape[0]
        Q[k:k + nb] = p
        Z[k:k + nb] = op(p)
        k += nb
        steps += 1
        T = (Q[:k] @ Z[:k].T).to(torch.float64).cpu()
        T = 0.5 * (T + T.T)
        evals, evecs = torch.linalg.eigh(T)
        t = float(evals[-1])
        y = evecs[:, -1].to(dtype=dt, device=dev)
        v = y @ Q[:k]
        if t <= 0.0:  # only possible for a zero operator; callers exclude it
            return SigmaResult(0.0, "lanczos", steps, float("inf"), False, v)
        r = y @ Z[:k] - t * v
        bound = sigma_bound(float(torch.linalg.vector_norm(r)), t)
        history.append(bound)
        if bound <= tol or k >= size:
            return SigmaResult(math.sqrt(t), "lanczos", steps, bound if k < size else 0.0, True, v)
        if len(history) >= 4 and bound > 0.5 * min(history[-4:-1]) and bound <= 10 * tol and x.dtype != torch.float64:
            # float32 rounding floor (~2e-7) reached below the 1e-6 target; refine_fp64 then
            # reports the value and the bound in float64
            return SigmaResult(math.sqrt(t), "lanczos", steps, bound, True, v)
        if steps >= max_steps:
            return SigmaResult(math.sqrt(t), "lanczos", steps, bound, False, v,
                               note=f"lanczos stopped after {steps} block steps")
        nxt = min(b, size - k)
        if k + nxt > cap:  # restart from the top Ritz vectors (they carry what was learnt)
            ritz = (evecs[:, -b:].T.to(dtype=dt, device=dev)) @ Q[:k]
            ritz = _orthonormal_rows(ritz, None, fill)
            k = 0
            p = ritz
            continue
        # next block: S applied to the newest block, orthogonalised against the whole basis
        p = _orthonormal_rows(Z[k - nb:k][:nxt].clone() if nxt < nb else Z[k - nb:k].clone(), Q[:k], fill)[:nxt]


def sigma_power(
    x: torch.Tensor,
    *,
    tol: float = TOL,
    max_iter: int = 2000,
    seed: int = 0,
) -> SigmaResult:
    """Power iteration on the Gram operator with a gap-aware stop.

    Each step gives the Rayleigh quotient t_k and the residual r = S v - t v. Stops when the
    residual bound on sigma is <= tol, or when the gap-aware (Kato-Temple) estimate
    ||r||^2 / (t (t - lambda_2)) is, with lambda_2 estimated from the ratio of successive
    increases of t (times 100 for safety). A naive check (stop when t_k - t_{k-1} is small) stops
    far too early when sigma_2 ~ sigma_1: the increases are small because progress is slow.
    """
    op = _GramOperator(x)
    v = _start_block(op, 1, x, seed)[0]
    v = v / torch.linalg.vector_norm(v)
    prev_t = None
    prev_d = None
    rhos: list[float] = []
    t = 0.0
    bound = float("inf")
    for it in range(1, max_iter + 1):
        zv = op(v[None])[0]
        t = float(torch.dot(zv, v))
        if t <= 0.0:
            return SigmaResult(0.0, "power", it, float("inf"), False, v)
        res = float(torch.linalg.vector_norm(zv - t * v))
        bound = sigma_bound(res, t)
        if bound <= tol:
            return SigmaResult(math.sqrt(t), "power", it, bound, True, v)
        if prev_t is not None:
            d = t - prev_t
            if prev_d is not None and prev_d > 0 and d >= 0:
                rhos.append(d / prev_d)
                if len(rhos) >= 3:
                    # gap estimate: successive increases shrink by rho ~ (lambda_2/lambda_1)^2,
                    # so lambda_2 ~ t sqrt(rho); take the slowest recent rho. Kato-Temple:
                    # lambda_1 - t <= ||r||^2 / (t - lambda_2). 100x safety factor: with several
                    # close eigenvalues rho creeps up and the gap is overestimated (measured: 10x was not enough).
                    rho_hi = max(rhos[-3:])
                    gap = t * (1.0 - math.sqrt(rho_hi)) if rho_hi < 1 else 0.0
                    est = res * res / (gap * t) / 2.0 if gap > 0 else math.inf
                    if 100.0 * est <= tol:
                        return SigmaResult(math.sqrt(t), "power", it, bound, True, v)
            prev_d = d
        prev_t = t
        v = zv / torch.linalg.vector_norm(zv)
    return SigmaResult(math.sqrt(t), "power", max_iter, bound, False, v,
                       note=f"power iteration did not converge in {max_iter} steps")


__all__ = [
    "SigmaResult", "TOL", "frobenius_fp64", "refine_fp64",
    "sigma_svd", "sigma_svdvals", "sigma_gram", "sigma_lanczos", "sigma_power",
]

"""The paper's statements as numbers, to draw beside the measurements.

Lemma 1 (alignment)     at a stationary point of GD with weight decay: lambda theta = -grad L(theta)
Lemma 3 (norms)         then, for a positively homogeneous net, every layer has
                        lambda ||W_k||_F^2 = -(1/n) sum_i l'(y_i f(x_i)) y_i f(x_i)
Lemma 4 (low rank)      (1/K) sum_k ||W_k||_2/||W_k||_F >= (lambda / L^(1/2 - 1/K))^(1/2)      (2)
                        and, for the logistic loss, >= lambda e / ((lambda e)^(1/K) e^(1/K))   (3)
Lemma 5 / Corollary 1   ||W_t x'|| <= ||W_0 x'|| (1 - eta lambda)^t + eps (1 - (1 - eta lambda)^t) / lambda
                        for x' with max_i |<x_i, x'>| <= eps (first layer; exact for the shallow net
                        with ||u|| <= 1 the lemma is about)
Beyond the paper: principal angles between the row spaces of the two models' first layers.
"""
from __future__ import annotations

import math

import torch

from lrscan.merge import mlp


def layer_norms(ens: mlp.Ensemble) -> tuple[torch.Tensor, torch.Tensor]:
    """Frobenius and spectral norms of every layer of every member, float64, shapes [E, K]."""
    fro, spec = [], []
    for w in ens.weights:
        w64 = w.detach().to(torch.float64)
        fro.append(torch.linalg.matrix_norm(w64, ord="fro"))
        spec.append(torch.linalg.matrix_norm(w64, ord=2))
    return torch.stack(fro, dim=1), torch.stack(spec, dim=1)


def stable_rank(fro: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
    """The paper's stable rank ||W||_F / ||W||_2 (NaN for an all-zero matrix)."""
    return torch.where(spec > 0, fro / spec, torch.full_like(fro, float("nan")))


def lemma3_rhs(f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-(1/n) sum_i l'(y_i f_i) y_i f_i for the logistic loss (l'(m) = -sigmoid(-m)); [E, n] -> [E]."""
    m = (y * f).to(torch.float64)
    return (torch.sigmoid(-m) * m).mean(dim=-1)


def lemma4_bounds(lam: float, loss: float, K: int) -> tuple[float, float]:
    """Lower bounds (2) and (3) on the average inverse stable rank (1/K) sum ||W_k||_2/||W_k||_F."""
    if lam <= 0 or not math.isfinite(loss) or loss <= 0:
        b2 = float("nan") if lam > 0 else 0.0
    else:
        b2 = math.sqrt(lam / loss ** (0.5 - 1.0 / K))
    b3 = lam * math.e / ((lam * math.e) ** (1.0 / K) * math.e ** (1.0 / K)) if lam > 0 else 0.0
    return b2, b3


def lemma5_bound(init_norm, eps: float, lr: float, lam: float, t: int):
    """||W_0 x'|| (1 - eta lambda)^t + eps (1 - (1 - eta lambda)^t) / lambda  (-> eps eta t at lambda = 0)."""
    if lam == 0:
        return init_norm + eps * lr * t
    q = (1.0 - lr * lam) ** t
    return init_norm * q + eps * (1.0 - q) / lam


def cross_norm(w1: torch.Tensor, X_other: torch.Tensor) -> torch.Tensor:
    """mean_j ||W_1 x'_j|| over the other task's inputs: w1 [E, m, d], X_other [E, n, d] -> [E]."""
    return torch.linalg.vector_norm(torch.bmm(X_other, w1.transpose(1, 2)).to(torch.float64), dim=-1).mean(dim=-1)


def energy_rank(s: torch.Tensor, energy: float = 0.9) -> int:
    """Smallest r with sum_{i<=r} s_i^2 >= energy * sum s_i^2."""
    c = torch.cumsum(s.to(torch.float64) ** 2, 0)
    if float(c[-1]) == 0.0:
        return 0
    return int(torch.searchsorted(c, energy * c[-1]).item()) + 1


def principal_cosines(wa: torch.Tensor, wb: torch.Tensor, energy: float = 0.9) -> torch.Tensor:
    """Cosines of the principal angles between the dominant row spaces of two [m, d] matrices:
    span of the right singular vectors that carry `energy` of each matrix's squared Frobenius
    norm. 1 = shared direction, 0 = orthogonal. Empty when either matrix is zero."""
    _, sa, vha = torch.linalg.svd(wa.detach().to(torch.float64), full_matrices=False)
    _, sb, vhb = torch.linalg.svd(wb.detach().to(torch.float64), full_matrices=False)
    ra, rb = energy_rank(sa, energy), energy_rank(sb, energy)
    if ra == 0 or rb == 0:
        return torch.zeros(0, dtype=torch.float64)
    return torch.linalg.svdvals(vha[:ra] @ vhb[:rb].T).clamp(max=1.0)


def alignment_residual(ens: mlp.Ensemble, X: torch.Tensor, Y: torch.Tensor, lam) -> torch.Tensor:
    """Lemma 1: ||lambda theta + grad L(theta)|| / ||lambda theta|| per member ([E])."""
    _, grads = mlp.gradients(ens, X, Y)
    lam_v = torch.as_tensor(lam, dtype=torch.float64).reshape(-1, 1)
    num = torch.zeros(ens.size, dtype=torch.float64)
    den = torch.zeros(ens.size, dtype=torch.float64)
    for p, g in zip(ens.params(), grads):
        p64, g64 = p.detach().to(torch.float64).reshape(ens.size, -1).cpu(), g.to(torch.float64).reshape(ens.size, -1).cpu()
        num += ((lam_v * p64 + g64) ** 2).sum(1)
        den += ((lam_v * p64) ** 2).sum(1)
    return (num / den).sqrt()

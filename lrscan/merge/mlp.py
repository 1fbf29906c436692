"""A batched ensemble of ReLU MLPs with a scalar output, with hand-written forward/backward.

E networks of the same shape are stored as stacked weights, W_k of shape [E, out, in]
(nn.Linear orientation), so that every seed, task model and condition of an experiment runs
through the same few kernel calls (torch.bmm / torch.baddbmm). Member e sees its own inputs
X[e] (shape [n, d]) and labels y[e] in {-1, +1}.

    f(x) = W_K relu(W_{K-1} ... relu(W_1 x))        (bias-free: positively homogeneous of degree K)

Optional biases b_k (shape [E, out]) break homogeneity; the paper's theory assumes none.
Loss: logistic, L = (1/n) sum_i log(1 + exp(-y_i f(x_i))).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Ensemble:
    weights: list[torch.Tensor]  # W_k: [E, out_k, in_k]
    biases: list[torch.Tensor] | None = None  # b_k: [E, out_k]

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    @property
    def depth(self) -> int:
        return len(self.weights)

    def params(self) -> list[torch.Tensor]:
        return list(self.weights) + (list(self.biases) if self.biases is not None else [])

    def clone(self) -> "Ensemble":
        return Ensemble([w.clone() for w in self.weights], None if self.biases is None else [b.clone() for b in self.biases])

    def select(self, idx: torch.Tensor) -> "Ensemble":
        return Ensemble([w[idx] for w in self.weights], None if self.biases is None else [b[idx] for b in self.biases])


def layer_shapes(d: int, widths: tuple[int, ...]) -> list[tuple[int, int]]:
    dims = [d, *widths, 1]
    return [(dims[k + 1], dims[k]) for k in range(len(dims) - 1)]


def init_ensemble(
    generators: list[torch.Generator],
    d: int,
    widths: tuple[int, ...],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    bias: bool = False,
    init_scale: float = 1.0,
) -> Ensemble:
    """LeCun-normal initialisation, W_k ~ N(0, init_scale^2 / fan_in), one generator per member
    (drawn on the CPU in float64, so a member's start does not depend on device, dtype or
    which other members share the ensemble). Biases start at zero."""
    shapes = layer_shapes(d, widths)
    weights = []
    for out, inp in shapes:
        per = [torch.randn(out, inp, generator=g, dtype=torch.float64) * (init_scale / inp**0.5) for g in generators]
        weights.append(torch.stack(per).to(device=device, dtype=dtype))
    biases = None
    if bias:
        biases = [torch.zeros(len(generators), out, dtype=dtype, device=device) for out, _ in shapes]
    return Ensemble(weights, biases)


def _linear(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    # h: [E, n, in], w: [E, out, in] -> [E, n, out]
    if b is None:
        return torch.bmm(h, w.transpose(1, 2))
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))


def forward(ens: Ensemble, X: torch.Tensor, *, keep: bool = False):
    """f of every member on its inputs: X [E, n, d] -> f [E, n].
    With keep=True also returns the activations [X, h_1, ..., h_{K-1}] needed by backward."""
    h = X
    acts = [X]
    K = ens.depth
    for k in range(K):
        z = _linear(h, ens.weights[k], None if ens.biases is None else ens.biases[k])
        if k < K - 1:
            h = torch.relu_(z)
            acts.append(h)
        else:
            h = z
    f = h.squeeze(-1)
    return (f, acts) if keep else f


def logistic_loss(f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-member mean logistic loss: [E, n] -> [E]."""
    return torch.nn.functional.softplus(-y * f).mean(dim=-1)


def _output_delta(f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # d/df of (1/n) sum log(1+exp(-y f)) = -y sigmoid(-y f) / n ; shape [E, n, 1]
    n = f.shape[-1]
    return (-y * torch.sigmoid(-y * f) / n).unsqueeze(-1)


def gradients(ens: Ensemble, X: torch.Tensor, y: torch.Tensor):
    """Loss [E] and the gradients of the unregularised loss, in the order of ens.params()."""
    f, acts = forward(ens, X, keep=True)
    loss = logistic_loss(f, y)
    delta = _output_delta(f, y)
    K = ens.depth
    gw: list[torch.Tensor] = [None] * K  # type: ignore[list-item]
    gb: list[torch.Tensor] = [None] * K  # type: ignore[list-item]
    for k in range(K - 1, -1, -1):
        gw[k] = torch.bmm(delta.transpose(1, 2), acts[k])
        gb[k] = delta.sum(dim=1)
        if k > 0:
            delta = torch.bmm(delta, ens.weights[k]).mul_(acts[k] > 0)
    return loss, (gw + gb if ens.biases is not None else gw)


def _as_member_vector(v, E: int, like: torch.Tensor) -> torch.Tensor | float:
    if isinstance(v, (int, float)):
        return float(v)
    t = torch.as_tensor(v, dtype=like.dtype, device=like.device).reshape(-1)
    if t.numel() == 1:
        return float(t.item())
    if t.numel() != E:
        raise ValueError(f"per-member hyperparameter has {t.numel()} values for {E} members")
    if bool((t == t[0]).all()):
        return float(t[0].item())
    return t


def gd_step_(ens: Ensemble, X: torch.Tensor, y: torch.Tensor, lr, weight_decay) -> torch.Tensor:
    """One step theta <- theta - lr (grad L(theta) + weight_decay theta), in place, for every
    member at once. lr and weight_decay are scalars or per-member vectors [E].
    Returns the loss of each member before the step, [E].

    Fused: each layer's gradient is accumulated straight into its weights with baddbmm
    (W <- (1 - lr wd) W - lr delta^T h) right after the delta for the layer below was computed
    from the old W, so no gradient tensor is ever materialised."""
    E = ens.size
    ref = ens.weights[0]
    lr = _as_member_vector(lr, E, ref)
    wd = _as_member_vector(weight_decay, E, ref)
    f, acts = forward(ens, X, keep=True)
    loss = logistic_loss(f, y)
    delta = _output_delta(f, y)
    scalar = isinstance(lr, float) and isinstance(wd, float)
    if scalar:
        beta, alpha = 1.0 - lr * wd, -lr
    else:
        lr_v = lr if isinstance(lr, torch.Tensor) else torch.full((E,), lr, dtype=ref.dtype, device=ref.device)
        wd_v = wd if isinstance(wd, torch.Tensor) else torch.full((E,), wd, dtype=ref.dtype, device=ref.device)
        delta = delta * lr_v.view(E, 1, 1)  # all gradients are linear in the output delta
        decay = (1.0 - lr_v * wd_v).view(E, 1, 1)
        beta, alpha = 1.0, -1.0
    K = ens.depth
    for k in range(K - 1, -1, -1):
        w = ens.weights[k]
        next_delta = torch.bmm(delta, w).mul_(acts[k] > 0) if k > 0 else None
        if not scalar:
            w.mul_(decay)
        w.baddbmm_(delta.transpose(1, 2), acts[k], beta=beta, alpha=alpha)
        if ens.biases is not None:
            b = ens.biases[k]
            if scalar:
                b.mul_(beta).add_(delta.sum(dim=1), alpha=alpha)
            else:
                b.mul_(decay.view(E, 1)).sub_(delta.sum(dim=1))
        delta = next_delta
    return loss

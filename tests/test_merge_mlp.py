"""The hand-written batched forward/backward/step against torch.autograd, and merging."""
import pytest
import torch

from lrscan.merge import merging, mlp, theory


def _ens(E=3, d=5, widths=(7, 4), bias=False, seed=0):
    gens = [torch.Generator().manual_seed(seed + i) for i in range(E)]
    ens = mlp.init_ensemble(gens, d, widths, dtype=torch.float64, bias=bias)
    if bias:  # non-zero biases so their gradients are exercised
        g = torch.Generator().manual_seed(99)
        ens.biases = [torch.randn(b.shape, generator=g, dtype=torch.float64) * 0.1 for b in ens.biases]
    return ens


def _data(E=3, n=9, d=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(E, n, d, generator=g, dtype=torch.float64)
    Y = torch.where(torch.randn(E, n, generator=g, dtype=torch.float64) >= 0, 1.0, -1.0).to(torch.float64)
    return X, Y


def _autograd_loss(params, X, Y, K, bias):
    """An independent per-member implementation, member by member, with torch.nn.functional."""
    losses = []
    for e in range(X.shape[0]):
        h = X[e]
        for k in range(K):
            h = torch.nn.functional.linear(h, params[k][e], params[K + k][e] if bias else None)
            if k < K - 1:
                h = torch.relu(h)
        losses.append(torch.log1p(torch.exp(-Y[e] * h.squeeze(-1))).mean())
    return torch.stack(losses)


@pytest.mark.parametrize("bias", [False, True])
def test_gradients_match_autograd_float64(bias):
    ens, (X, Y) = _ens(bias=bias), _data()
    loss, grads = mlp.gradients(ens, X, Y)
    params = [p.clone().requires_grad_(True) for p in ens.params()]
    ref = _autograd_loss(params, X, Y, ens.depth, bias)
    ref_grads = torch.autograd.grad(ref.sum(), params)
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-14)
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("per_member", [False, True])
def test_fused_gd_step_is_theta_minus_lr_times_grad_plus_lambda_theta(bias, per_member):
    ens, (X, Y) = _ens(bias=bias), _data()
    lr = torch.tensor([0.5, 0.1, 0.3], dtype=torch.float64) if per_member else 0.3
    wd = torch.tensor([0.0, 1e-2, 0.2], dtype=torch.float64) if per_member else 0.05
    params = [p.clone().requires_grad_(True) for p in ens.params()]
    ref = _autograd_loss(params, X, Y, ens.depth, bias)
    ref_grads = torch.autograd.grad(ref.sum(), params)
    lr_v = torch.as_tensor(lr, dtype=torch.float64).reshape(-1)
    wd_v = torch.as_tensor(wd, dtype=torch.float64).reshape(-1)
    expected = []
    for p, g in zip(params, ref_grads):
        shape = (-1,) + (1,) * (p.dim() - 1)
        expected.append(p.detach() - lr_v.reshape(shape) * (g + wd_v.reshape(shape) * p.detach()))
    loss = mlp.gd_step_(ens, X, Y, lr, wd)
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-14)
    for got, exp in zip(ens.params(), expected):
        torch.testing.assert_close(got, exp, rtol=1e-10, atol=1e-13)


def test_merge_is_exactly_the_layerwise_sum_and_average_is_half():
    a, b = _ens(seed=0), _ens(seed=10)
    m, avg = merging.merge_sum(a, b), merging.merge_average(a, b)
    for k in range(a.depth):
        assert torch.equal(m.weights[k], a.weights[k] + b.weights[k])
        assert torch.equal(avg.weights[k], (a.weights[k] + b.weights[k]) * 0.5)
    X, _ = _data()
    # bias-free ReLU net is positively homogeneous of degree K: f_avg = f_sum / 2^K
    torch.testing.assert_close(mlp.forward(avg, X), mlp.forward(m, X) / 2**a.depth, rtol=1e-12, atol=1e-14)


def test_layer_norms_and_stable_rank_match_the_reference_spectral_module():
    from lrscan.spectral import matrix_metrics

    ens = _ens(E=2, d=30, widths=(20, 8))
    fro, spec = theory.layer_norms(ens)
    sr = theory.stable_rank(fro, spec)
    for e in range(2):
        for k, w in enumerate(ens.weights):
            ref = matrix_metrics(w[e], device="cpu", precision="fp64")
            assert fro[e, k].item() == pytest.approx(ref.frobenius, rel=1e-12)
            assert sr[e, k].item() == pytest.approx(ref.stable_rank, rel=1e-10)


def test_members_have_distinct_initialisations():
    from lrscan.merge import experiments
    from lrscan.merge.config import preset

    cfg = preset("synthetic", "quick", seeds=2, n=8, widths=(6,), d=10)
    prob = experiments.build(cfg, torch.device("cpu"), torch.float64)
    w = prob.init.weights[0].reshape(prob.members, -1)
    assert torch.cdist(w, w).add(torch.eye(prob.members) * 1e9).min() > 1e-3

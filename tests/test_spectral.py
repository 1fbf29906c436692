"""Spectral maths vs an independent float64 numpy SVD (never against lrscan itself)."""
import math

import numpy as np
import pytest
import torch

from lrscan import spectral
from lrscan.errors import UsageError
from lrscan.spectral import METHODS, matrix_metrics, resolve_device

ALL = [m for m in METHODS]  # includes "auto"
REL = 1e-6


def ref_svals(x: torch.Tensor) -> np.ndarray:
    """float64 numpy SVD of exactly the values the tensor holds."""
    return np.linalg.svd(x.to(torch.float64).numpy(), compute_uv=False)


def with_singular_values(m, n, s, seed=0):
    """U diag(s) V^T with orthogonal U, V (float64)."""
    rng = np.random.default_rng(seed)
    k = len(s)
    u = np.linalg.qr(rng.standard_normal((m, k)))[0]
    v = np.linalg.qr(rng.standard_normal((n, k)))[0]
    return (u * np.asarray(s)) @ v.T


def check_against_numpy(x, r, rel=REL):
    s = ref_svals(x)
    fro = float(np.linalg.norm(x.to(torch.float64).numpy()))
    assert r.status == "ok", r.note
    assert abs(r.spectral_norm - s[0]) <= rel * s[0], (r.method, r.spectral_norm, s[0])
    assert abs(r.frobenius - fro) <= 1e-12 * fro
    assert r.stable_rank == pytest.approx(fro / s[0], rel=rel)
    assert r.stable_rank_sq == pytest.approx(r.stable_rank ** 2, rel=1e-12)
    return s


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("shape", [(96, 384), (384, 96), (200, 200), (512, 2048)])
def test_random_matrices_every_method(method, shape):
    g = torch.Generator().manual_seed(shape[0] * 7 + shape[1])
    x = torch.randn(*shape, generator=g) * 0.02  # random init: no spectral gap
    r = matrix_metrics(x, method=method, device="cpu")
    check_against_numpy(x, r)
    assert r.method != "auto" and r.method in METHODS
    if method != "auto":
        assert r.method == method


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("shape", [(128, 512), (512, 128), (160, 160)])
def test_near_degenerate_top_pair(method, shape):
    k = min(shape)
    s = np.r_[10.0, 9.95, np.linspace(4.0, 0.1, k - 2)]  # top two within 0.5%
    a = with_singular_values(*shape, s, seed=k)
    np.testing.assert_allclose(np.linalg.svd(a, compute_uv=False)[:2], s[:2], rtol=1e-12)
    x = torch.tensor(a, dtype=torch.float32)
    sv = check_against_numpy(x, matrix_metrics(x, method=method, device="cpu"))
    assert sv[1] / sv[0] > 0.99


@pytest.mark.parametrize("method", ALL)
def test_separated_top_value_fp64_precision(method):
    a = with_singular_values(300, 700, np.r_[50.0, np.linspace(5.0, 0.01, 299)], seed=3)
    x = torch.tensor(a, dtype=torch.float32)
    check_against_numpy(x, matrix_metrics(x, method=method, device="cpu", precision="fp64"))


@pytest.mark.parametrize("method", ALL)
def test_rank_one_has_stable_rank_one(method):
    rng = np.random.default_rng(5)
    x = torch.tensor(np.outer(rng.standard_normal(150), rng.standard_normal(400)), dtype=torch.float32)
    r = matrix_metrics(x, method=method, device="cpu")
    check_against_numpy(x, r)
    assert r.stable_rank == pytest.approx(1.0, rel=REL)
    assert r.stable_rank_sq == pytest.approx(1.0, rel=2 * REL)


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("shape", [(100, 100), (100, 300)])
def test_identity_like_has_stable_rank_sqrt_n(method, shape):
    x = torch.eye(*shape)  # all singular values 1: completely degenerate
    r = matrix_metrics(x, method=method, device="cpu")
    check_against_numpy(x, r)
    assert r.stable_rank == pytest.approx(math.sqrt(100), rel=REL)
    assert r.stable_rank_sq == pytest.approx(100.0, rel=2 * REL)


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("dtype,top", [(torch.float16, 65504.0), (torch.bfloat16, 3.3e38)])
def test_half_precision_near_format_max_does_not_overflow(method, dtype, top):
    g = torch.Generator().manual_seed(11)
    a = torch.rand(64, 256, generator=g) * 2 - 1
    a[3, 7] = 1.0
    x = (a * top).to(dtype)  # values up to the format max, which fp32 products would overflow
    assert torch.isfinite(x).all() and float(x.abs().max()) > 0.9 * top
    r = matrix_metrics(x, method=method, device="cpu")
    s = check_against_numpy(x, r)
    assert math.isfinite(r.spectral_norm) and r.spectral_norm > 0
    assert r.stable_rank == pytest.approx(np.linalg.norm(x.to(torch.float64).numpy()) / s[0], rel=REL)


@pytest.mark.parametrize("method", ALL)
def test_tiny_values_are_scaled_not_lost(method):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(80, 120, generator=g) * 1e-30
    check_against_numpy(x, matrix_metrics(x, method=method, device="cpu"))


def test_float64_input_is_not_down_cast():
    rng = np.random.default_rng(9)
    a = 1.0 + 1e-9 * rng.standard_normal((50, 70))  # differences below float32 resolution
    x = torch.tensor(a, dtype=torch.float64)
    s = np.linalg.svd(a, compute_uv=False)
    for method in ("svdvals", "lanczos", "gram"):
        r = matrix_metrics(x, method=method, device="cpu", precision="fp32")
        assert abs(r.spectral_norm - s[0]) <= 1e-13 * s[0]
        # the fp32-rounded matrix has a visibly different second singular value; fp64 keeps it
    r = matrix_metrics(x, method="svdvals", device="cpu", want_spectrum=True)
    np.testing.assert_allclose(r.singular_values[:5], s[:5], rtol=1e-6)


@pytest.mark.parametrize("method", ALL)
def test_zero_matrix(method):
    r = matrix_metrics(torch.zeros(30, 40, dtype=torch.bfloat16), method=method, device="cpu")
    assert r.status == "zero"
    assert r.frobenius == 0.0 and r.spectral_norm == 0.0
    assert math.isnan(r.stable_rank) and math.isnan(r.stable_rank_sq)
    assert r.note


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("method", ["auto", "lanczos", "svd"])
def test_nonfinite_matrix(method, bad):
    x = torch.randn(30, 40)
    x[4, 5] = bad
    r = matrix_metrics(x, method=method, device="cpu")
    assert r.status == "nonfinite"
    for v in (r.frobenius, r.spectral_norm, r.stable_rank, r.stable_rank_sq):
        assert math.isnan(v)
    assert "NaN/Inf" in r.note


@pytest.mark.parametrize("precision,atol", [("fp32", 1e-6), ("fp64", 1e-12)])
@pytest.mark.parametrize("method", ALL)
def test_want_spectrum_returns_all_singular_values(method, precision, atol):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(120, 300, generator=g)
    r = matrix_metrics(x, method=method, device="cpu", precision=precision, want_spectrum=True)
    s = check_against_numpy(x, r)
    assert r.singular_values is not None and r.singular_values.shape == (120,)
    # singular values are accurate relative to sigma_max (the small ones carry absolute error)
    np.testing.assert_allclose(r.singular_values, s, rtol=0, atol=atol * s[0])


def test_no_spectrum_unless_asked():
    assert matrix_metrics(torch.randn(20, 30), device="cpu").singular_values is None


def test_auto_resolves_to_a_recorded_method():
    assert matrix_metrics(torch.randn(20, 30), device="cpu").method == "svd"
    big = torch.randn(spectral.AUTO_DIRECT_MAX + 1, 300)
    assert matrix_metrics(big, device="cpu").method == "lanczos"


def test_input_tensor_is_not_modified():
    x = torch.randn(40, 60) * 1e30
    before = x.clone()
    matrix_metrics(x, method="lanczos", device="cpu")
    assert torch.equal(x, before)


def test_resolve_device_auto_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device(None) == torch.device("cuda")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device("cpu") == torch.device("cpu")


def test_resolve_device_auto_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(UsageError) as e:
        resolve_device("cuda")
    assert "\n" not in str(e.value) and "CUDA" in str(e.value)
    assert e.value.exit_code == 2


def test_bad_arguments_are_one_line_usage_errors():
    for kw in ({"device": "tpu"}, {"precision": "fp8"}, {"method": "qr"}):
        with pytest.raises(UsageError) as e:
            matrix_metrics(torch.randn(4, 4), **kw)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError):
        matrix_metrics(torch.randn(4, 4, 4))

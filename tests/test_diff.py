"""`lrscan diff`: deltas of a tiny GPT-2 (Conv1D + fused QKV) against independent numpy maths."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lrscan.diff import diff_models

ROOT = Path(__file__).resolve().parents[1]


def _tiny_gpt2(n_layer=2, n_embd=32):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=4, n_positions=16, vocab_size=64))
    with torch.no_grad():  # weights on a 2^-10 grid: adding a 2^-6-grid rank-1 update is exact in fp32
        for p in model.parameters():
            p.copy_(torch.round(p * 1024) / 1024)
    return model


def _save(model, path: Path) -> Path:
    model.save_pretrained(path, safe_serialization=True)
    return path


def _rank1(seed, rows, cols):
    g = np.random.default_rng(seed)
    u = g.integers(-4, 5, rows) / 8.0
    v = g.integers(-4, 5, cols) / 8.0
    u[0], v[0] = 1.0, 1.0  # never all zero
    return u, v


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    base = _tiny_gpt2()
    _save(base, d / "base")
    w_fc = base.transformer.h[1].mlp.c_fc.weight.detach().numpy().T.astype(np.float64)  # [out, in] = [128, 32]
    w_attn = base.transformer.h[0].attn.c_attn.weight.detach().numpy().T.astype(np.float64)  # [96, 32]

    # tuned A: rank-1 update of layer 1's M1 (stored Conv1D [in, out]) and of layer 0's Q block only
    ua, va = _rank1(1, 128, 32)
    uq, vq = _rank1(2, 32, 32)
    a = _tiny_gpt2()
    with torch.no_grad():
        a.transformer.h[1].mlp.c_fc.weight += torch.from_numpy(np.outer(va, ua)).float()  # ΔW = ua vaᵀ in [out, in]
        a.transformer.h[0].attn.c_attn.weight[:, :32] += torch.from_numpy(np.outer(vq, uq)).float()
    _save(a, d / "tuned_a")

    # tuned B: same input direction va in layer 1's M1, an output direction orthogonal to ua
    ub = np.where(ua == 0, 0.25, 0.0)  # supported where ua is zero: exactly orthogonal to ua
    assert ub.any()
    b = _tiny_gpt2()
    with torch.no_grad():
        b.transformer.h[1].mlp.c_fc.weight += torch.from_numpy(np.outer(va, ub)).float()
    _save(b, d / "tuned_b")
    _save(_tiny_gpt2(n_embd=48), d / "wider")
    _save(_tiny_gpt2(n_layer=3), d / "deeper")
    return dict(dir=d, w_fc=w_fc, w_attn=w_attn, ua=ua, va=va, uq=uq, vq=vq, ub=ub)


def test_diff_with_itself_is_all_zero_with_reason(models):
    base = str(models["dir"] / "base")
    res = diff_models(base, base)
    d = res.deltas
    assert len(d) == 2 * 7  # GPT-2: Q K V QKV O M1 M2 per layer
    assert set(d.role) == {"Q", "K", "V", "QKV", "O", "M1", "M2"}
    assert (d.frobenius == 0).all() and (d.spectral_norm == 0).all() and (d.relative_size == 0).all()
    assert d.stable_rank.isna().all() and d.stable_rank_sq.isna().all()
    assert (d.status == "zero").all() and d.note.str.contains("stable rank undefined").all()


def test_rank1_update_has_stable_rank_one_and_its_exact_size(models, tmp_path):
    base, tuned = str(models["dir"] / "base"), str(models["dir"] / "tuned_a")
    res = diff_models(base, tuned, out=tmp_path / "delta")
    d = res.deltas.set_index(["layer", "role"])
    size = np.linalg.norm(models["ua"]) * np.linalg.norm(models["va"])
    m1 = d.loc[(1, "M1")]
    assert m1.stable_rank == pytest.approx(1.0, rel=1e-12)
    assert m1.frobenius == pytest.approx(size, rel=1e-12)
    assert m1.spectral_norm == pytest.approx(size, rel=1e-12)
    assert m1.relative_size == pytest.approx(size / np.linalg.norm(models["w_fc"]), rel=1e-12)
    assert m1.base_frobenius == pytest.approx(np.linalg.norm(models["w_fc"]), rel=1e-12)
    # the update hit only the Q third of the fused c_attn: Q and QKV see it, K and V do not
    q_size = np.linalg.norm(models["uq"]) * np.linalg.norm(models["vq"])
    for role in ("Q", "QKV"):
        assert d.loc[(0, role)].stable_rank == pytest.approx(1.0, rel=1e-12)
        assert d.loc[(0, role)].frobenius == pytest.approx(q_size, rel=1e-12)
    assert d.loc[(0, "QKV")].relative_size == pytest.approx(q_size / np.linalg.norm(models["w_attn"]), rel=1e-12)
    untouched = res.deltas[~res.deltas.set_index(["layer", "role"]).index.isin([(1, "M1"), (0, "Q"), (0, "QKV")])]
    assert len(untouched) == 14 - 3 and (untouched.frobenius == 0).all() and (untouched.status == "zero").all()
    on_disk = __import__("pandas").read_csv(tmp_path / "delta" / "delta.csv")
    np.testing.assert_allclose(on_disk.frobenius, res.deltas.frobenius, rtol=1e-12)
    assert (tmp_path / "delta" / "manifest.json").is_file()


def test_two_finetunes_principal_angles(models):
    d = models["dir"]
    res = diff_models(str(d / "base"), str(d / "tuned_a"), str(d / "tuned_b"), k=4)
    a = res.angles.set_index(["layer", "role"])
    m1 = a.loc[(1, "M1")]
    # same input direction va, orthogonal output directions: right angle 0°, left angle 90°
    assert m1.k == 1 and "capped" in m1.note
    assert m1.left_min_deg == pytest.approx(90.0, abs=1e-6) and m1.left_overlap == pytest.approx(0.0, abs=1e-12)
    assert m1.right_max_deg == pytest.approx(0.0, abs=1e-5) and m1.right_overlap == pytest.approx(1.0, rel=1e-12)
    # layer 0's Q moved in A only: no subspace in B to compare with
    assert a.loc[(0, "Q")].status == "zero" and np.isnan(a.loc[(0, "Q")].left_min_deg)
    assert set(res.deltas.tuned) == {str(d / "tuned_a"), str(d / "tuned_b")}


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "lrscan", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("other,msg", [("wider", "shapes differ at layer 0"), ("deeper", "architectures differ")])
def test_mismatch_is_one_clear_line(models, other, msg, tmp_path):
    r = _cli("diff", str(models["dir"] / "base"), str(models["dir"] / other), "--out", str(tmp_path))
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0] and "Traceback" not in r.stderr


def test_cli_diff_writes_tables(models, tmp_path):
    d = models["dir"]
    r = _cli("diff", str(d / "base"), str(d / "tuned_a"), str(d / "tuned_b"), "-k", "2", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert {"delta.csv", "angles.csv", "manifest.json"} <= {p.name for p in (tmp_path / "o").iterdir()}
    assert "median_rel_size" in r.stdout

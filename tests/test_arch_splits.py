"""Split rules: known Q, K, V (and gate, up) in, the same matrices out; registry behaviour."""
from __future__ import annotations

import pytest
import torch

from lrscan.arch import build_plan, families, family_for, layer_from_name
from lrscan.arch.family import FamilyFileError, parse_family
from lrscan.arch.plan import ConfigFacts, Piece
from lrscan.arch.splits import SPLITS
from lrscan.errors import UnsupportedArchitecture, UsageError, WeightsError
from lrscan.io.checkpoint import TensorInfo


def _qkv(h=4, hkv=4, hd=3, d_in=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(h * hd, d_in, generator=g), torch.randn(hkv * hd, d_in, generator=g),
            torch.randn(hkv * hd, d_in, generator=g))


def _facts(h, hkv, hd):
    return ConfigFacts(num_layers=1, d_model=h * hd, num_heads=h, num_kv_heads=hkv, head_dim=hd)


def test_equal3_round_trip_and_views():
    q, k, v = _qkv()
    w = torch.cat([q, k, v])
    rule = SPLITS["equal3"]
    for role, want in zip("QKV", (q, k, v)):
        got = rule.extract(w, role, _facts(4, 4, 3))
        assert torch.equal(got, want)
        assert got.data_ptr() >= w.data_ptr() and got._base is w  # a view, not a copy
    assert rule.whole == "QKV"


def test_qkv_sizes_round_trip_gqa():
    q, k, v = _qkv(h=8, hkv=2, hd=4)
    w = torch.cat([q, k, v])
    for role, want in zip("QKV", (q, k, v)):
        assert torch.equal(SPLITS["qkv_sizes"].extract(w, role, _facts(8, 2, 4)), want)
    with pytest.raises(WeightsError):
        SPLITS["qkv_sizes"].extract(w, "Q", _facts(8, 8, 4))


def test_per_head_interleaved_round_trip():
    h, hd, d_in = 4, 3, 5
    q, k, v = _qkv(h=h, hd=hd, d_in=d_in)
    rows = []  # rows ordered (head, [q|k|v], head_dim), written out by hand
    for head in range(h):
        for m in (q, k, v):
            rows.extend(m[head * hd:(head + 1) * hd])
    w = torch.stack(rows)
    for role, want in zip("QKV", (q, k, v)):
        assert torch.equal(SPLITS["per_head_interleaved"].extract(w, role, _facts(h, h, hd)), want)
    assert SPLITS["per_head_interleaved"].whole is None  # QKV must be stacked, not taken as stored
    with pytest.raises(WeightsError):
        SPLITS["per_head_interleaved"].extract(w, "Q", _facts(5, 5, hd))


def test_gate_up_round_trip():
    gate, up = torch.randn(6, 4), torch.randn(6, 4)
    w = torch.cat([gate, up])
    assert torch.equal(SPLITS["gate_up"].extract(w, "M1_gate", None), gate)
    assert torch.equal(SPLITS["gate_up"].extract(w, "M1", None), up)


def test_conv1d_piece_reads_transposed_and_partial_rows():
    q, k, v = _qkv()
    stored = torch.cat([q, k, v]).T.contiguous()  # Conv1D: [in, out]

    class FakeCk:
        def info(self, name):
            return TensorInfo(name, tuple(stored.shape), "float32", "f")

        def read(self, name, index=None):
            self.index = index
            return stored[index] if index is not None else stored

    ck = FakeCk()
    piece = Piece("t", "conv1d", "equal3", "K")
    assert torch.equal(piece.read_alone(ck, _facts(4, 4, 3)), k)
    assert ck.index == (slice(None), slice(12, 24))  # only K's columns were read
    assert torch.equal(Piece("t", "conv1d").from_full(stored, None), torch.cat([q, k, v]))


def _infos(names_shapes, dtype="float32"):
    return {n: TensorInfo(n, s, dtype, "f") for n, s in names_shapes.items()}


def test_unknown_model_type_names_supported_families_and_generic_fallback():
    infos = _infos({"blocks.0.w1.weight": (8, 4), "blocks.1.w1.weight": (8, 4), "emb.weight": (10, 4), "blocks.0.b": (8,)})
    with pytest.raises(UnsupportedArchitecture) as e:
        build_plan({"model_type": "mamba"}, infos)
    msg = str(e.value)
    assert "\n" not in msg and "mamba" in msg and "--generic" in msg
    for fam in families():
        assert fam.title in msg
    plan = build_plan({"model_type": "mamba"}, infos, generic=True)
    assert plan.family == "generic"
    assert {(m.layer, m.role, m.tensors[0]) for m in plan.matrices} == {
        (0, "other", "blocks.0.w1.weight"), (1, "other", "blocks.1.w1.weight"), (-1, "other", "emb.weight")}
    assert [s["tensor"] for s in plan.skipped] == ["blocks.0.b"]


def test_layer_from_name():
    assert layer_from_name("model.layers.17.mlp.up_proj.weight") == 17
    assert layer_from_name("h.3.attn") == 3
    assert layer_from_name("lm_head.weight") == -1
    assert layer_from_name("wte2.weight") == -1


def test_known_family_resolves_by_model_type_and_code_has_no_family_names():
    assert family_for("mistral").name == "llama" and family_for("phi-msft").name == "phi_msft"
    import inspect

    import lrscan.arch.plan as plan_mod
    import lrscan.arch.registry as reg
    import lrscan.scan as scan_mod

    src = inspect.getsource(reg) + inspect.getsource(plan_mod) + inspect.getsource(scan_mod)
    for fam in families():
        for mt in fam.model_types:
            assert f'"{mt}"' not in src and f"'{mt}'" not in src, f"code names family {mt}"


def test_missing_tensors_and_non_float_weights():
    cfg = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 8, "num_attention_heads": 2,
           "num_key_value_heads": 2, "intermediate_size": 12}
    names = {}
    for i in range(2):
        for r, s in (("self_attn.q_proj", (8, 8)), ("self_attn.k_proj", (8, 8)), ("self_attn.v_proj", (8, 8)),
                     ("self_attn.o_proj", (8, 8)), ("mlp.up_proj", (12, 8)), ("mlp.gate_proj", (12, 8)), ("mlp.down_proj", (8, 12))):
            names[f"model.layers.{i}.{r}.weight"] = s
    infos = _infos(names)
    assert len(build_plan(cfg, infos).matrices) == 16
    with pytest.raises(WeightsError, match="missing"):
        build_plan({**cfg, "num_hidden_layers": 3}, infos)
    infos["model.layers.1.mlp.down_proj.weight"] = TensorInfo("model.layers.1.mlp.down_proj.weight", (8, 12), "int8", "f")
    plan = build_plan(cfg, infos)
    assert (1, "M2") not in {m.key for m in plan.matrices} and len(plan.matrices) == 15
    assert any(s["tensor"] == "model.layers.1.mlp.down_proj.weight" and "int8" in s["reason"] for s in plan.skipped)
    sel = build_plan(cfg, infos, layers=[0], roles=["Q", "QKV"])
    assert [m.key for m in sel.matrices] == [(0, "Q"), (0, "QKV")]
    assert any("not selected (--layers)" in s["reason"] for s in sel.skipped)
    with pytest.raises(UsageError):
        build_plan(cfg, infos, layers=[5])


def test_family_file_validation():
    ok = {"model_types": ["x"], "config": {"num_layers": ["n"]}, "roles": {"Q": "l.{i}.q.weight"}}
    assert parse_family("x", ok).roles == {"Q": "l.{i}.q.weight"}
    for bad in (
        {**ok, "rolez": {}},
        {**ok, "roles": {"Query": "l.{i}.q"}},
        {**ok, "roles": {"Q": "l.q"}},
        {**ok, "fused": [{"tensor": "l.{i}.qkv", "split": "thirds"}]},
        {**ok, "layout": "transposed"},
        {**ok, "config": {}},
    ):
        with pytest.raises(FamilyFileError):
            parse_family("x", bad)


def test_readme_families_table_is_generated_from_the_registry():
    from pathlib import Path

    from lrscan.arch.describe import families_markdown

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("<!-- families-table:start -->")[1].split("<!-- families-table:end -->")[0].strip()
    assert table == families_markdown().strip(), "README families table is stale: paste `lrscan archs --markdown`"

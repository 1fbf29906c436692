"""Issue 5, resources: a memory budget (--max-memory) stops a too-large model up front with one
line, and peak RSS stays bounded while scanning a ~200 MB sharded checkpoint."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from _hostile import assert_no_output, assert_one_error_line, count_metrics, run_cli, run_cli_subprocess
from tiny_models import build_tiny

RSS_DRIVER = str(Path(__file__).with_name("_rss_scan.py"))


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return build_tiny("llama", tmp_path_factory.mktemp("resources") / "llama")


def test_max_memory_below_the_largest_tensor_stops_before_computing(tiny_llama, tmp_path, capsys, monkeypatch):
    largest = "model.layers.0.mlp.up_proj.weight"  # [48, 32] float32 = 6144 bytes (gate/down tie)
    calls = count_metrics(monkeypatch)
    rc, _, err = run_cli(capsys, "model", tiny_llama, "--out", tmp_path / "out", "--no-progress", "--max-memory", "4KiB")
    assert_one_error_line(rc, err, contains=("--max-memory", "too small", "model.layers.0."))
    assert calls == [] and not (tmp_path / "out").exists()
    # a budget that fits scans normally
    rc, _, err = run_cli(capsys, "model", tiny_llama, "--out", tmp_path / "ok", "--no-progress", "--max-memory", "64MB")
    assert rc == 0, err
    assert len(pd.read_csv(tmp_path / "ok" / "scan.csv")) == 16 and largest in {
        t for ts in pd.read_csv(tmp_path / "ok" / "scan.csv")["tensors"] for t in ts.split(";")}


def test_max_memory_that_is_not_a_size_is_a_usage_error(tiny_llama, tmp_path, capsys):
    rc, _, err = run_cli(capsys, "model", tiny_llama, "--out", tmp_path / "out", "--no-progress", "--max-memory", "lots")
    assert_one_error_line(rc, err, code=2, contains=("--max-memory", "lots"))
    assert_no_output(tmp_path / "out")


def _spiked(rows: int, cols: int, g: torch.Generator) -> torch.Tensor:
    """Random weights with one strong direction (like trained weights: Lanczos converges fast)."""
    w = torch.randn(rows, cols, generator=g) * 0.02
    w += torch.outer(torch.randn(rows, generator=g), torch.randn(cols, generator=g)) * 0.5
    return w


def _sharded_llama(folder: Path, layers: int = 3, d: int = 1024, d_ff: int = 4096) -> int:
    """A ~200 MB float32 Llama-shaped checkpoint, one shard per layer; returns the largest tensor's bytes."""
    folder.mkdir(parents=True)
    config = dict(model_type="llama", num_hidden_layers=layers, hidden_size=d, intermediate_size=d_ff,
                  num_attention_heads=8, num_key_value_heads=8, vocab_size=64)
    (folder / "config.json").write_text(json.dumps(config))
    g = torch.Generator().manual_seed(0)
    weight_map = {}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes = {"self_attn.q_proj": (d, d), "self_attn.k_proj": (d, d), "self_attn.v_proj": (d, d),
                  "self_attn.o_proj": (d, d), "mlp.up_proj": (d_ff, d), "mlp.gate_proj": (d_ff, d),
                  "mlp.down_proj": (d, d_ff)}
        shard = {p + k + ".weight": _spiked(*s, g) for k, s in shapes.items()}
        fname = f"model-{i + 1:05d}-of-{layers:05d}.safetensors"
        save_file(shard, str(folder / fname), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, fname))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return d_ff * d * 4


def test_peak_rss_growth_on_a_200mb_sharded_checkpoint_is_below_3x_the_largest_tensor(tiny_llama, tmp_path):
    folder = tmp_path / "llama-200mb"
    largest = _sharded_llama(folder)
    total = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    assert 180e6 < total < 220e6
    r = run_cli_subprocess(tiny_llama, folder, tmp_path / "out", script=RSS_DRIVER)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m["rows"] == 3 * 8
    ratio = m["growth"] / largest
    print(f"\nRSS: checkpoint {total / 1e6:.0f} MB, largest tensor {largest / 1e6:.1f} MB, "
          f"peak growth {m['growth'] / 1e6:.1f} MB = {ratio:.2f}x ({m['measured_with']})", file=sys.stderr)
    assert ratio < 3.0, m

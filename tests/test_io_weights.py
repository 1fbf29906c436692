"""Weight reading and model resolution: local folders, a fake offline HF cache, shards, .bin."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import save_file

from _scan_helpers import tiny
from lrscan.errors import ModelNotFound, WeightsError
from lrscan.io import Checkpoint, resolve_model
from lrscan.scan import scan_model


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("io")


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    home = tmp_path / "hf_home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def _cache_model(home, repo_id, src, commit, ref="main"):
    """Lay a folder out the way huggingface_hub caches a snapshot."""
    repo = home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / commit
    shutil.copytree(src, snap)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snap


def test_local_folder_resolves_as_is(root):
    path = tiny(root, "gpt2")
    r = resolve_model(str(path))
    assert r.is_local and r.path == path.resolve() and r.revision == "" and r.commit == ""


def test_missing_local_path_is_one_line_error(tmp_path):
    with pytest.raises(ModelNotFound, match="no such folder"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(ModelNotFound, match="no such folder"):
        resolve_model("./nope/deeper/still")


def test_hub_id_from_offline_cache_with_revisions(root, hf_home, tmp_path):
    c_main, c_old = "a" * 40, "b" * 40
    snap = _cache_model(hf_home, "acme/tiny-gpt2", tiny(root, "gpt2"), c_main)
    _cache_model(hf_home, "acme/tiny-gpt2", tiny(root, "gpt2", seed=1), c_old, ref="step1")
    r = resolve_model("acme/tiny-gpt2")
    assert (r.path, r.revision, r.commit, r.is_local) == (snap, "main", c_main, False)
    assert resolve_model("acme/tiny-gpt2", revision="step1").commit == c_old
    df_main = scan_model("acme/tiny-gpt2", out=tmp_path / "main")
    df_old = scan_model("acme/tiny-gpt2", revision="step1", out=tmp_path / "old")
    assert set(df_main["revision"]) == {"main"} and set(df_old["revision"]) == {"step1"}
    assert set(df_main["model"]) == {"acme/tiny-gpt2"}
    assert not (df_main["frobenius"].values == df_old["frobenius"].values).all()
    manifest = json.loads((tmp_path / "old" / "manifest.json").read_text())
    assert manifest["commit"] == c_old and manifest["revision"] == "step1"


def test_hub_snapshot_with_only_bin_weights(root, hf_home, tmp_path):
    _cache_model(hf_home, "acme/tiny-neox-bin", tiny(root, "gpt_neox", bin_format=True), "c" * 40)
    df = scan_model("acme/tiny-neox-bin", out=tmp_path / "o")
    assert len(df) == 14
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["weights_format"] == "bin"


def test_offline_and_not_cached_is_one_clear_line(hf_home):
    with pytest.raises(ModelNotFound) as e:
        resolve_model("acme/never-downloaded")
    msg = str(e.value)
    assert "\n" not in msg and "acme/never-downloaded" in msg and "HF_HUB_OFFLINE" in msg


def test_unknown_revision_offline(root, hf_home):
    _cache_model(hf_home, "acme/tiny-gpt2", tiny(root, "gpt2"), "a" * 40)
    with pytest.raises(ModelNotFound, match="step999"):
        resolve_model("acme/tiny-gpt2", revision="step999")


def test_slice_reads_equal_full_reads(root):
    for kw in ({}, {"sharded": True}, {"bin_format": True}):
        path = tiny(root, "gpt2", **kw)
        with Checkpoint(path) as ck:
            name = "transformer.h.1.attn.c_attn.weight"
            full = ck.read(name)
            assert ck.info(name).shape == tuple(full.shape) == (32, 96)
            assert torch.equal(ck.read(name, (slice(None), slice(32, 64))), full[:, 32:64])
            assert torch.equal(ck.read(name, (slice(3, 9),)), full[3:9])


def test_sharded_index_spans_files(root):
    path = tiny(root, "llama", sharded=True)
    with Checkpoint(path) as ck:
        assert ck.format == "safetensors" and len(ck.files) > 1
        assert len({ck.info(n).file for n in ck.names()}) == len(ck.files)


def test_missing_shard_corrupt_file_and_no_weights(root, tmp_path):
    bad = tmp_path / "missing-shard"
    shutil.copytree(tiny(root, "llama", sharded=True), bad)
    sorted(bad.glob("model-*.safetensors"))[-1].unlink()
    with pytest.raises(WeightsError, match="missing"):
        Checkpoint(bad)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        Checkpoint(corrupt)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(WeightsError, match="no weights"):
        Checkpoint(empty)


class _Evil:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(_Evil.marker),))


def test_bin_is_loaded_weights_only(tmp_path):
    _Evil.marker = str(tmp_path / "code-ran")
    folder = tmp_path / "evil"
    folder.mkdir()
    torch.save({"w.weight": torch.zeros(2, 2), "payload": _Evil()}, folder / "pytorch_model.bin")
    with pytest.raises(WeightsError, match="weights_only"):
        Checkpoint(folder).names()
    assert not (tmp_path / "code-ran").exists()


def test_non_float_tensors_listed_with_reason(tmp_path):
    folder = tmp_path / "ints"
    folder.mkdir()
    save_file({"a.0.weight": torch.randn(4, 3), "a.0.qweight": torch.zeros(4, 3, dtype=torch.int8),
               "ids": torch.arange(4)}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"model_type": "something-new"}))
    scan_model(folder, out=tmp_path / "o", generic=True)
    skipped = {s["tensor"]: s["reason"] for s in json.loads((tmp_path / "o" / "manifest.json").read_text())["skipped"]}
    assert "int8" in skipped["a.0.qweight"] and "1-D" in skipped["ids"]

"""Issue 5: files other people made. Every case gives one clear line and a non-zero exit with
nothing half-written in --out, or (for odd values) a flagged row and a scan that goes on.
Nothing in a weight file is ever executed."""
from __future__ import annotations

import json
import math
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from _hostile import (
    assert_no_output, assert_one_error_line, count_metrics, edit_safetensors_header,
    read_header, run_cli, run_cli_subprocess, tensors_by_offset, write_header,
)
from tiny_models import build_tiny


@pytest.fixture(autouse=True)
def _empty_hf_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))  # offline + no LRSCAN_DEBUG: conftest.py


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-models")
    return {
        "gpt2": build_tiny("gpt2", root / "gpt2"),
        "llama-sharded": build_tiny("llama", root / "llama-sharded", sharded=True),
    }


@pytest.fixture
def model(built, tmp_path):
    """A fresh copy of a tiny model that the test may damage."""
    def copy(kind: str = "gpt2") -> Path:
        dst = tmp_path / f"model-{kind}"
        shutil.copytree(built[kind], dst)
        return dst
    return copy


def scan_fails(capsys, folder, out, *extra, contains=()):
    rc, _, err = run_cli(capsys, "model", folder, "--out", out, "--no-progress", *extra)
    line = assert_one_error_line(rc, err, contains=contains)
    assert_no_output(out)
    return line


def scan_ok(capsys, folder, out, *extra) -> tuple[pd.DataFrame, dict, str]:
    rc, _, err = run_cli(capsys, "model", folder, "--out", out, "--no-progress", *extra)
    assert rc == 0, err
    df = pd.read_csv(out / "scan.csv")
    return df, json.loads((out / "manifest.json").read_text()), err


# ---- damaged safetensors files -------------------------------------------------------------------
def test_truncated_safetensors(capsys, model, tmp_path):
    f = model() / "model.safetensors"
    raw = f.read_bytes()
    f.write_bytes(raw[: len(raw) - len(raw) // 3])
    scan_fails(capsys, f.parent, tmp_path / "out", contains=("model.safetensors", "truncated"))


def test_header_length_larger_than_file(capsys, model, tmp_path):
    f = model() / "model.safetensors"
    raw = f.read_bytes()
    f.write_bytes((len(raw) * 4).to_bytes(8, "little") + raw[8:])
    scan_fails(capsys, f.parent, tmp_path / "out", contains=("header length", "larger than the file"))


def test_garbage_json_header(capsys, model, tmp_path):
    f = model() / "model.safetensors"
    header, data = read_header(f)
    n = len(json.dumps(header))
    junk = (b"{\x00\xff garbage \x01" * n)[:n]
    f.write_bytes(len(junk).to_bytes(8, "little") + junk + data)
    scan_fails(capsys, f.parent, tmp_path / "out", contains=("model.safetensors", "garbage"))


def test_header_offsets_overlap(capsys, model, tmp_path):
    f = model() / "model.safetensors"

    def overlap(h):
        first, second = tensors_by_offset(h)[:2]
        a = h[first]["data_offsets"][0]
        h[second]["data_offsets"] = [a, a + (h[second]["data_offsets"][1] - h[second]["data_offsets"][0])]

    edit_safetensors_header(f, overlap)
    scan_fails(capsys, f.parent, tmp_path / "out", contains=("overlap",))


def test_header_offsets_point_past_the_end(capsys, model, tmp_path):
    f = model() / "model.safetensors"
    header, data = read_header(f)
    last = tensors_by_offset(header)[-1]
    start, end = header[last]["data_offsets"]
    header[last]["data_offsets"] = [start + 4096, end + 4096]
    write_header(f, header, data)
    scan_fails(capsys, f.parent, tmp_path / "out", contains=(last, "past the end"))


# ---- sharded checkpoints -------------------------------------------------------------------------
def test_shard_index_names_a_missing_shard(capsys, model, tmp_path):
    folder = model("llama-sharded")
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    gone = sorted(set(index["weight_map"].values()))[1]
    (folder / gone).unlink()
    scan_fails(capsys, folder, tmp_path / "out", contains=(gone, "missing"))


def test_shard_index_maps_a_tensor_to_the_wrong_shard(capsys, model, tmp_path):
    folder = model("llama-sharded")
    path = folder / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    tensor = "model.layers.0.self_attn.q_proj.weight"
    right = index["weight_map"][tensor]
    wrong = next(f for f in sorted(set(index["weight_map"].values())) if f != right)
    index["weight_map"][tensor] = wrong
    path.write_text(json.dumps(index))
    scan_fails(capsys, folder, tmp_path / "out", contains=(tensor, wrong, right))


# ---- config.json ---------------------------------------------------------------------------------
def test_config_missing(capsys, model, tmp_path):
    folder = model()
    (folder / "config.json").unlink()
    scan_fails(capsys, folder, tmp_path / "out", contains=("config.json", "--generic"))


def test_config_missing_with_generic_scans_every_matrix(capsys, model, tmp_path):
    folder = model()
    (folder / "config.json").unlink()
    df, manifest, _ = scan_ok(capsys, folder, tmp_path / "out", "--generic")
    assert set(df["role"]) == {"other"} and manifest["complete"] and len(df) > 0


def test_config_unreadable(capsys, model, tmp_path):
    folder = model()
    (folder / "config.json").write_bytes(b"\xff\xfe\x00{garbage: \x9c\x01")
    scan_fails(capsys, folder, tmp_path / "out", contains=("config.json", "not valid JSON"))


def test_config_unknown_model_type(capsys, model, tmp_path):
    folder = model()
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "frobnicator"}))
    scan_fails(capsys, folder, tmp_path / "out", contains=("frobnicator", "--generic"))


def test_config_unknown_model_type_with_generic_scans(capsys, model, tmp_path):
    folder = model()
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "frobnicator"}))
    df, manifest, _ = scan_ok(capsys, folder, tmp_path / "out", "--generic")
    assert manifest["family"] == "generic" and manifest["complete"]
    assert {"transformer.h.0.attn.c_attn.weight", "transformer.h.1.mlp.c_proj.weight"} <= set(df["tensors"])


def test_config_dimensions_contradict_tensor_shapes(capsys, model, tmp_path):
    folder = model("llama-sharded")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": config["intermediate_size"] * 2}))
    line = scan_fails(capsys, folder, tmp_path / "out", contains=("intermediate_size", "model.layers.0.mlp."))
    assert "contradicts" in line


# ---- hub ids -------------------------------------------------------------------------------------
def _fake_hub_cache(hf_home: Path, repo: str, files_from: Path) -> str:
    commit = "0123456789abcdef0123456789abcdef01234567"
    base = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    snap = base / "snapshots" / commit
    snap.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(files_from / name, snap / name)
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text(commit)
    return commit


def test_hub_id_not_cached_while_offline(capsys, monkeypatch, built, tmp_path):
    hf_home = tmp_path / "hf"
    _fake_hub_cache(hf_home, "acme/tiny", built["gpt2"])
    monkeypatch.setenv("HF_HOME", str(hf_home))
    scan_fails(capsys, "acme/not-cached", tmp_path / "out", contains=("acme/not-cached", "HF_HUB_OFFLINE"))


def test_revision_that_does_not_exist_locally(capsys, monkeypatch, built, tmp_path):
    hf_home = tmp_path / "hf"
    _fake_hub_cache(hf_home, "acme/tiny", built["gpt2"])
    monkeypatch.setenv("HF_HOME", str(hf_home))
    # the cached main revision scans; an uncached one does not
    df, manifest, _ = scan_ok(capsys, "acme/tiny", tmp_path / "ok")
    assert manifest["complete"] and len(df) == 14
    scan_fails(capsys, "acme/tiny", tmp_path / "out", "--revision", "step999", contains=("step999",))


# ---- pickles that would run code -----------------------------------------------------------------
class _WritesMarker:
    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("container", ["torch-zip", "torch-legacy", "raw-pickle"])
def test_pickle_payload_is_refused_and_never_runs(capsys, built, tmp_path, container):
    folder = tmp_path / "evil"
    folder.mkdir()
    shutil.copy(built["gpt2"] / "config.json", folder)
    marker = tmp_path / "PAYLOAD-RAN"
    payload = _WritesMarker()
    payload.marker = str(marker)
    sd = {"transformer.h.0.attn.c_attn.weight": payload}
    if container == "torch-zip":
        torch.save(sd, folder / "pytorch_model.bin")
    elif container == "torch-legacy":
        torch.save(sd, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    else:
        (folder / "pytorch_model.bin").write_bytes(pickle.dumps(sd))
    rc, _, err = run_cli(capsys, "model", folder, "--out", tmp_path / "out", "--no-progress")
    assert not marker.exists(), "the pickle payload ran"
    assert_one_error_line(rc, err, contains=("pytorch_model.bin", "refused"))
    assert_no_output(tmp_path / "out")
    # and the payload is real: unpickling unsafely would have run it
    pickle.loads(pickle.dumps(payload))
    assert marker.exists()


def test_bin_checkpoints_only_load_with_weights_only(capsys, monkeypatch, tmp_path):
    folder = build_tiny("gpt2", tmp_path / "gpt2-bin", bin_format=True)
    seen = []
    real_load = torch.load

    def spy(*a, **k):
        seen.append(k.get("weights_only"))
        return real_load(*a, **k)

    monkeypatch.setattr(torch, "load", spy)
    df, manifest, _ = scan_ok(capsys, folder, tmp_path / "out")
    assert manifest["weights_format"] == "bin" and len(df) == 14
    assert seen and all(w is True for w in seen), seen


# ---- output path ---------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
def test_unwritable_out_fails_before_computing(capsys, monkeypatch, built, tmp_path, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out" if where == "under-a-file" else blocker
    calls = count_metrics(monkeypatch)
    rc, _, err = run_cli(capsys, "model", built["gpt2"], "--out", out, "--no-progress")
    assert_one_error_line(rc, err, contains=(str(out),))
    assert calls == [], "matrices were computed before the output folder was checked"
    assert blocker.read_text() == "not a folder"


# ---- values that must be reported, not crash -----------------------------------------------------
def _rewrite_weights(folder: Path, change) -> None:
    sd = load_file(str(folder / "model.safetensors"))
    change(sd)
    save_file(sd, str(folder / "model.safetensors"), metadata={"format": "pt"})


def test_nan_and_inf_rows_are_flagged_with_a_warning_and_the_scan_continues(model, tmp_path):
    folder = model()
    target = "transformer.h.0.attn.c_proj.weight"

    def poison(sd):
        w = sd[target].clone()
        w[1, 2], w[3, 3] = float("nan"), float("inf")
        sd[target] = w

    _rewrite_weights(folder, poison)
    r = run_cli_subprocess("model", folder, "--out", tmp_path / "out", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    warn = [line for line in r.stderr.splitlines() if line.startswith("lrscan: warning:")]
    assert len(warn) == 1 and target in warn[0] and "NaN/Inf" in warn[0], r.stderr
    df = pd.read_csv(tmp_path / "out" / "scan.csv")
    bad = df[df["tensors"] == target]
    assert len(bad) == 1 and bad["status"].item() == "nonfinite" and "NaN/Inf" in bad["note"].item()
    assert bad[["frobenius", "spectral_norm", "stable_rank"]].isna().all().all()
    rest = df[df["tensors"] != target]
    assert len(df) == 14 and (rest["status"] == "ok").all() and rest["stable_rank"].notna().all()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] and any(target in w for w in manifest["warnings"])


def test_all_zero_matrix_gives_nan_stable_rank_with_a_reason(capsys, model, tmp_path):
    folder = model()
    target = "transformer.h.1.mlp.c_fc.weight"
    _rewrite_weights(folder, lambda sd: sd.__setitem__(target, torch.zeros_like(sd[target])))
    df, manifest, _ = scan_ok(capsys, folder, tmp_path / "out")
    row = df[df["tensors"] == target]
    assert row["status"].item() == "zero" and "zero" in row["note"].item()
    assert row["frobenius"].item() == 0.0 and math.isnan(row["stable_rank"].item())
    assert math.isnan(row["stable_rank_sq"].item())
    assert manifest["complete"] and (df[df["tensors"] != target]["status"] == "ok").all()


@pytest.mark.parametrize("method", ["auto", "lanczos"])  # auto takes float64 SVD at this size; lanczos runs in fp32
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_extremes_do_not_overflow(capsys, model, tmp_path, dtype, method):
    folder = model()
    target = "transformer.h.0.attn.c_proj.weight"  # [32, 32], Conv1D layout
    big = torch.finfo(dtype).max * 0.97
    gen = torch.Generator().manual_seed(1)
    signs = torch.randint(0, 2, (32, 32), generator=gen).float() * 2 - 1
    extreme = (signs * big * torch.rand(32, 32, generator=gen).clamp_min(0.5)).to(dtype)

    def half(sd):
        for k in list(sd):
            sd[k] = sd[k].to(dtype)
        sd[target] = extreme

    _rewrite_weights(folder, half)
    df, manifest, _ = scan_ok(capsys, folder, tmp_path / "out", "--method", method)
    row = df[df["tensors"] == target].iloc[0]
    ref = extreme.to(torch.float64).T.numpy()  # Conv1D stores [in, out]
    s = np.linalg.svd(ref, compute_uv=False)
    fro = float(np.sqrt((ref * ref).sum()))
    assert row["status"] == "ok" and np.isfinite([row["frobenius"], row["spectral_norm"], row["stable_rank"]]).all()
    assert abs(row["frobenius"] - fro) <= 1e-6 * fro
    assert abs(row["spectral_norm"] - s[0]) <= 1e-6 * s[0]
    assert abs(row["stable_rank"] - fro / s[0]) <= 1e-6 * fro / s[0]
    assert row["dtype"] == str(dtype).removeprefix("torch.")


def test_int8_and_packed_4bit_tensors_are_skipped_and_listed(capsys, model, tmp_path):
    folder = model()
    q8 = "transformer.h.0.mlp.c_fc.weight"
    q4 = "transformer.h.1.attn.c_proj.weight"

    def quantize(sd):
        sd[q8] = (sd[q8] * 100).to(torch.int8)
        sd[q4] = torch.randint(0, 255, (32 * 32 // 2, 1), dtype=torch.uint8)  # bitsandbytes-style packing

    _rewrite_weights(folder, quantize)
    df, manifest, _ = scan_ok(capsys, folder, tmp_path / "out")
    skipped = {s["tensor"]: s["reason"] for s in manifest["skipped"]}
    assert "int8" in skipped[q8] and "uint8" in skipped[q4]
    assert q8 not in set(df["tensors"]) and q4 not in set(df["tensors"])
    assert manifest["complete"] and (df["status"] == "ok").all()
    assert len(df) == 14 - 2


# ---- remote code ---------------------------------------------------------------------------------
def _remote_code_config(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="acme-custom", auto_map={"AutoConfig": "configuration_acme.AcmeConfig",
                                                      "AutoModelForCausalLM": "modeling_acme.AcmeForCausalLM"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_acme.py").write_text(f"open({str(folder / 'REMOTE-CODE-RAN')!r}, 'w').close()\n")
    (folder / "configuration_acme.py").write_text(f"open({str(folder / 'REMOTE-CODE-RAN')!r}, 'w').close()\n")


def test_remote_code_config_is_refused(capsys, model, tmp_path):
    folder = model()
    _remote_code_config(folder)
    line = scan_fails(capsys, folder, tmp_path / "out", contains=("acme-custom", "remote code", "--generic"))
    assert "trust_remote_code" in line
    assert not (folder / "REMOTE-CODE-RAN").exists()


def test_remote_code_config_scans_by_name_patterns_with_generic(capsys, model, tmp_path):
    folder = model()
    _remote_code_config(folder)
    df, manifest, _ = scan_ok(capsys, folder, tmp_path / "out", "--generic")
    assert manifest["family"] == "generic" and manifest["complete"] and len(df) > 0
    assert not (folder / "REMOTE-CODE-RAN").exists()

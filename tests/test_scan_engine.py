"""scan_model's output contract, incremental writes, resume, locking, flagged rows, options."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from _scan_helpers import assert_rel, svd_metrics, tiny
from lrscan.errors import LrscanError, UsageError
from lrscan.scan import ScanWarning, scan_model
from lrscan.scan_table import COLUMNS

README_COLUMNS = ["model", "revision", "layer", "role", "rows", "cols", "frobenius", "spectral_norm", "stable_rank",
                  "stable_rank_sq", "dtype", "device", "method", "seconds", "status", "note", "tensors"]
MANIFEST_KEYS = {"model", "revision", "family", "model_type", "config_hash", "config_facts", "lrscan_version", "device",
                 "precision", "method", "skipped", "started_at", "finished_at", "total_seconds", "rows", "complete"}


def _umask():
    import os

    m = os.umask(0)
    os.umask(m)
    return m


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("engine")


def _edit(src, dst, edits):
    """Copy a single-file safetensors model, replacing some tensors."""
    shutil.copytree(src, dst)
    sd = load_file(str(dst / "model.safetensors"))
    sd.update(edits)
    save_file(sd, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return dst


def test_output_contract(root, tmp_path):
    path = tiny(root, "llama")
    out = tmp_path / "o"
    df = scan_model(path, out=out)
    assert list(df.columns) == README_COLUMNS == COLUMNS
    csv = pd.read_csv(out / "scan.csv", keep_default_na=False)
    assert list(csv.columns) == README_COLUMNS
    assert len(csv) == len(df) == 16
    np.testing.assert_array_equal(csv["stable_rank"].astype(float).values, df["stable_rank"].values)  # full precision
    pq = pd.read_parquet(out / "scan.parquet")
    assert list(pq.columns) == README_COLUMNS and len(pq) == 16
    man = json.loads((out / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(man)
    assert man["complete"] is True and man["rows"] == 16 and man["family"] == "llama" and man["model_type"] == "llama"
    assert set(man["config_facts"]) >= {"num_layers", "d_model", "d_ff", "num_heads", "num_kv_heads"}
    assert man["config_facts"]["num_kv_heads"] == 2
    import hashlib

    assert man["config_hash"] == hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
    assert any(s["tensor"] == "model.embed_tokens.weight" and "embedding" in s["reason"] for s in man["skipped"])
    assert list(df["layer"].unique()) == [0, 1]
    assert list(df[df.layer == 0]["role"]) == ["Q", "K", "V", "O", "QKV", "M1", "M1_gate", "M2"]
    assert (df["stable_rank_sq"] - df["stable_rank"] ** 2).abs().max() < 1e-9
    assert set(df["device"]) == {"cpu"} and set(df["revision"]) == {""} and set(df["model"]) == {str(path)}
    assert oct((out / "scan.csv").stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert (df["seconds"] >= 0).all()


def test_default_out_dir_is_reports_slug(root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scan_model(tiny(root, "opt"), layers="0", roles="Q")
    assert (tmp_path / "reports" / "opt" / "scan.csv").exists()


def test_interrupted_scan_leaves_valid_partial_table_then_resume(root, tmp_path, monkeypatch):
    import lrscan.spectral as spectral

    path, out = tiny(root, "gpt2"), tmp_path / "o"
    real = spectral.matrix_metrics
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(spectral, "matrix_metrics", flaky)
    with pytest.raises(KeyboardInterrupt):
        scan_model(path, out=out)
    part = pd.read_csv(out / "scan.csv", keep_default_na=False)
    man = json.loads((out / "manifest.json").read_text())
    assert len(part) == 5 and man["complete"] is False and man["rows"] == 5 and man["finished_at"] is None
    assert not list(out.glob(".*.tmp"))  # no temp files left behind

    monkeypatch.setattr(spectral, "matrix_metrics", real)
    calls["n"] = 0
    counted = []
    monkeypatch.setattr(spectral, "matrix_metrics", lambda *a, **k: counted.append(1) or real(*a, **k))
    df = scan_model(path, out=out, resume=True)
    assert len(counted) == 14 - 5  # only the missing rows were computed
    assert len(df) == 14 and json.loads((out / "manifest.json").read_text())["complete"] is True
    fresh = scan_model(path, out=tmp_path / "fresh")
    pd.testing.assert_frame_equal(df.drop(columns="seconds"), fresh.drop(columns="seconds"))


def test_resume_refuses_another_models_folder(root, tmp_path):
    out = tmp_path / "o"
    scan_model(tiny(root, "opt"), out=out, layers="0")
    with pytest.raises(UsageError, match="holds a scan of"):
        scan_model(tiny(root, "gptj"), out=out, resume=True)


def test_locked_output_folder_fails_clearly(root, tmp_path):
    from filelock import FileLock

    out = tmp_path / "o"
    out.mkdir()
    with FileLock(str(out / ".lrscan.lock")):
        with pytest.raises(LrscanError, match="another lrscan scan"):
            scan_model(tiny(root, "opt"), out=out)
    assert not (out / "scan.csv").exists()
    scan_model(tiny(root, "opt"), out=out, layers="0")  # lock released -> fine


def test_nonfinite_and_zero_matrices_are_flagged_not_fatal(root, tmp_path):
    src = tiny(root, "opt")
    sd = load_file(str(src / "model.safetensors"))
    q = sd["model.decoder.layers.0.self_attn.q_proj.weight"].clone()
    q[1, 2] = float("nan")
    path = _edit(src, tmp_path / "m", {"model.decoder.layers.0.self_attn.q_proj.weight": q,
                                        "model.decoder.layers.1.fc2.weight": torch.zeros(32, 48)})
    with pytest.warns(ScanWarning, match="NaN"):
        df = scan_model(path, out=tmp_path / "o")
    by = df.set_index(["layer", "role"])
    assert by.loc[(0, "Q"), "status"] == "nonfinite" and np.isnan(by.loc[(0, "Q"), "stable_rank"])
    assert by.loc[(0, "QKV"), "status"] == "nonfinite"  # the stack contains the NaN too
    assert by.loc[(1, "M2"), "status"] == "zero" and np.isnan(by.loc[(1, "M2"), "stable_rank"])
    assert by.loc[(1, "M2"), "note"]
    assert (by.drop([(0, "Q"), (0, "QKV"), (1, "M2")])["status"] == "ok").all()
    man = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert man["complete"] is True and len(man["warnings"]) == 3


def test_near_degenerate_top_singular_values(root, tmp_path):
    src = tiny(root, "opt")
    g = torch.Generator().manual_seed(3)
    u, _ = torch.linalg.qr(torch.randn(48, 32, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(32, 32, generator=g, dtype=torch.float64))
    s = torch.linspace(0.5, 0.01, 32, dtype=torch.float64)
    s[0], s[1] = 1.0, 0.995  # top two within 1%
    w = (u * s) @ v.T
    path = _edit(src, tmp_path / "m", {"model.decoder.layers.0.fc1.weight": w.float()})
    row = scan_model(path, out=tmp_path / "o", roles="M1", layers="0").iloc[0]
    want = svd_metrics(w.float())
    for col in ("frobenius", "spectral_norm", "stable_rank", "stable_rank_sq"):
        assert_rel(row[col], want[col], 1e-6, col)


def test_layers_roles_selection_and_formats(root, tmp_path):
    path = tiny(root, "gpt2-xl-shape")
    df = scan_model(path, out=tmp_path / "o", layers="1-2", roles="Q,QKV", format="json")
    assert sorted(set(zip(df.layer, df.role))) == [(1, "Q"), (1, "QKV"), (2, "Q"), (2, "QKV")]
    js = json.loads((tmp_path / "o" / "scan.json").read_text())
    assert len(js) == 4 and list(js[0]) == README_COLUMNS
    assert (tmp_path / "o" / "scan.csv").exists()
    for bad in ({"layers": "7"}, {"layers": "a-b"}, {"roles": "Q,Z"}, {"format": "xml"}, {"method": "nope"},
                {"precision": "fp16"}):
        with pytest.raises(UsageError):
            scan_model(path, out=tmp_path / "bad", **bad)


def test_spectrum_npz(root, tmp_path):
    path = tiny(root, "bert")
    from tiny_models import reference_matrices

    ref = reference_matrices("bert", path)
    scan_model(path, out=tmp_path / "o", spectrum=True, layers="1")
    with np.load(tmp_path / "o" / "spectrum.npz") as z:
        assert sorted(z.files) == sorted(f"layer1_{r}" for r in ("Q", "K", "V", "O", "QKV", "M1", "M2"))
        want = np.linalg.svd(ref[(1, "M2")].double().numpy(), compute_uv=False)
        np.testing.assert_allclose(z["layer1_M2"], want, rtol=1e-6, atol=1e-9)


def test_device_selection(root, tmp_path):
    path = tiny(root, "opt")
    df = scan_model(path, out=tmp_path / "a", device="auto", layers="0", roles="Q")
    assert df["device"].iloc[0] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert scan_model(path, out=tmp_path / "c", device="cpu", layers="0", roles="Q")["device"].iloc[0] == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA"):
            scan_model(path, out=tmp_path / "g", device="cuda")


def test_html_without_report_module_warns_and_keeps_going(root, tmp_path, monkeypatch):
    import sys

    import lrscan.report

    monkeypatch.setitem(sys.modules, "lrscan.report.scan_report", None)  # as if not installed
    monkeypatch.delattr(lrscan.report, "scan_report", raising=False)
    with pytest.warns(ScanWarning, match="report module"):
        df = scan_model(tiny(root, "opt"), out=tmp_path / "o", html=True, layers="0")
    assert len(df) == 7 and (tmp_path / "o" / "scan.csv").exists()

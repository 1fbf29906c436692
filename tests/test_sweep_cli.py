"""`lrscan sweep` end to end with the real scan engine over tiny local checkpoints."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from _scan_helpers import svd_metrics
from tiny_models import build_tiny, reference_matrices

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep_cli")
    gpt2 = build_tiny("gpt2", d / "models" / "gpt2")
    bert = build_tiny("bert", d / "models" / "bert", seed=1)
    broken = d / "models" / "no-weights"
    broken.mkdir()
    shutil.copy(bert / "config.json", broken / "config.json")  # a config but no weights
    lst = d / "models.txt"
    lst.write_text("# two good models and one without weights\nmodels/gpt2\nmodels/no-weights\nmodels/bert\n")
    return dict(dir=d, list=lst, gpt2=gpt2, bert=bert, broken=broken)


def _cli(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "lrscan", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_sweep_two_results_one_failure_nonzero_exit_then_resume(three, tmp_path):
    out = tmp_path / "out"
    r = _cli("sweep", str(three["list"]), "--out", str(out), "--workers", "2")
    assert r.returncode == 1, r.stderr
    assert "1 model(s) failed" in r.stderr and "Traceback" not in r.stderr

    fail = pd.read_csv(out / "failures.csv", keep_default_na=False)
    assert fail.model.tolist() == [str(three["broken"])] and "no weights" in fail.error[0]
    table = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert list(table.columns[:4]) == ["model", "revision", "layer", "role"]
    assert table.model.unique().tolist() == [str(three["gpt2"]), str(three["bert"])]
    for fam in ("gpt2", "bert"):  # every row against float64 SVD of the module's own matrices
        ref = reference_matrices(fam, three[fam])
        part = table[table.model == str(three[fam])]
        assert set(zip(part.layer, part.role)) == set(ref)
        for row in part.itertuples():
            want = svd_metrics(ref[(row.layer, row.role)])
            for k in ("frobenius", "spectral_norm", "stable_rank"):
                assert getattr(row, k) == pytest.approx(want[k], rel=1e-5), (fam, row.layer, row.role, k)
    per_model = [p for p in out.iterdir() if p.is_dir()]
    assert sorted(p.name for p in per_model) == ["models--bert", "models--gpt2"]  # out/<slug>/, scan contract
    assert all((p / "manifest.json").is_file() and (p / "scan.csv").is_file() for p in per_model)
    assert (out / "sweep.parquet").is_file()

    # resume: the finished models are read back, not rescanned; the broken one is retried and fails again
    mtimes = {p: (p / "scan.csv").stat().st_mtime_ns for p in per_model if (p / "scan.csv").is_file()}
    r2 = _cli("sweep", str(three["list"]), "--out", str(out), "--executor", "sequential")
    assert r2.returncode == 1
    status = pd.read_csv(out / "status.csv", keep_default_na=False)
    assert status.status.tolist() == ["skipped", "failed", "skipped"]
    assert {p: (p / "scan.csv").stat().st_mtime_ns for p in mtimes} == mtimes
    pd.testing.assert_frame_equal(pd.read_csv(out / "sweep.csv", keep_default_na=False), table)


def test_sweep_all_good_exits_zero_and_shards_merge(three, tmp_path):
    out = tmp_path / "sharded"
    models = [str(three["gpt2"]), str(three["bert"])]
    from lrscan.sweep import run_sweep

    for i in (1, 2, 3):  # in-process (the CLI path is exercised above); each shard its own tables
        res = run_sweep(models, out, shard=(i, 3), executor="sequential")
        assert res.ok and (out / f"sweep.shard{i}of3.csv").is_file()
    r = _cli("sweep-merge", str(out))
    assert r.returncode == 0, r.stderr
    merged = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert sorted(merged.model.unique()) == sorted(models)
    assert len(merged) == sum(len(reference_matrices(f, three[f])) for f in ("gpt2", "bert"))

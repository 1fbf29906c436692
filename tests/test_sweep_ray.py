"""The Ray executor (a local `ray.init(num_cpus=2)`, one per module) gives the same table as local."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import ray  # the dev extra installs it; lrscan itself imports it lazily

from lrscan.sweep import run_sweep
from tiny_models import build_tiny

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_local():
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "HF_HUB_OFFLINE": "1"}})
    yield
    ray.shutdown()


def test_ray_gives_the_same_table_as_local(ray_local, tmp_path):
    gpt2 = build_tiny("gpt2", tmp_path / "m" / "gpt2")
    opt = build_tiny("opt", tmp_path / "m" / "opt", seed=2)
    broken = tmp_path / "m" / "broken"
    broken.mkdir()
    shutil.copy(opt / "config.json", broken / "config.json")
    args = [str(gpt2), str(broken), str(opt)]
    local = run_sweep(args, tmp_path / "local", executor="local", workers=2, scan_kwargs={"device": "cpu"})
    remote = run_sweep(args, tmp_path / "ray", executor="ray", scan_kwargs={"device": "cpu"})
    assert ray.is_initialized()  # we joined the module's Ray, we did not shut it down
    assert remote.status.status.tolist() == local.status.status.tolist() == ["ok", "failed", "ok"]
    timing = ["seconds"]  # wall-clock per row differs between runs; everything else must match
    pd.testing.assert_frame_equal(remote.table.drop(columns=timing), local.table.drop(columns=timing))
    pd.testing.assert_frame_equal(remote.failures, local.failures)
    assert len(local.table) > 0 and set(local.table.model) == {str(gpt2), str(opt)}

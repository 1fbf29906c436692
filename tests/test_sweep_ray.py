"""The Ray executor (a local `ray.init(num_cpus=2)`, one per module) gives the same table as local."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from lrscan.sweep import run_sweep
from sweep_fakes import make_fake_model

import ray  # the dev extra installs it; lrscan itself imports it lazily
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def ray_local():
    paths = [str(HERE.parent), str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}})
    yield
    ray.shutdown()


def test_ray_gives_the_same_table_as_local(ray_local, tmp_path):
    models = [make_fake_model(tmp_path / "m" / f"m{j}", seed=j, layers=1 + j) for j in range(3)]
    broken = tmp_path / "m" / "broken"
    broken.mkdir()
    args = [str(models[0]), str(broken), str(models[1]), str(models[2])]
    local = run_sweep(args, tmp_path / "local", executor="local", workers=2, scan_fn="sweep_fakes:fake_scan")
    remote = run_sweep(args, tmp_path / "ray", executor="ray", scan_fn="sweep_fakes:fake_scan")
    assert ray.is_initialized()  # we joined the module's Ray, we did not shut it down
    pd.testing.assert_frame_equal(remote.table, local.table)
    assert remote.status.status.tolist() == local.status.status.tolist() == ["ok", "failed", "ok", "ok"]
    pd.testing.assert_frame_equal(remote.failures, local.failures)
    pids = {p.read_text() for p in (tmp_path / "ray").glob("*/calls.log")}
    assert str(os.getpid()) + "\n" not in pids  # the scans really ran in Ray workers

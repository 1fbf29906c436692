"""Sweeps end to end with a stand-in scan (tests/sweep_fakes.py): failures, resume, shards + merge."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lrscan.sweep import collect, run_sweep
from lrscan.sweep.models import ModelSpec
from sweep_fakes import make_fake_model

FAKE = "sweep_fakes:fake_scan"


@pytest.fixture()
def three_models(tmp_path):
    a = make_fake_model(tmp_path / "models" / "a", seed=1)
    b = make_fake_model(tmp_path / "models" / "b", seed=2, layers=3)
    broken = tmp_path / "models" / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")  # no weights
    lst = tmp_path / "models.txt"
    lst.write_text("models/a\nmodels/broken   # weights missing\nmodels/b\n")
    return lst, [a, broken, b]


def _expected_rows(folder):
    """Independent computation: float64 numpy SVD of every stored matrix."""
    out = []
    with np.load(folder / "weights.npz") as z:
        for name in sorted(z.files):
            s = np.linalg.svd(z[name], compute_uv=False)
            out.append((name, np.sqrt((s**2).sum()), s[0]))
    return out


@pytest.mark.parametrize("executor", ["sequential", "local"])
def test_sweep_records_the_failure_and_goes_on(three_models, tmp_path, executor):
    lst, (a, broken, b) = three_models
    res = run_sweep([str(lst)], tmp_path / "out", executor=executor, workers=2, scan_fn=FAKE)
    assert not res.ok
    assert list(res.status.status) == ["ok", "failed", "ok"]
    assert list(res.failures.columns) == ["model", "revision", "error"]
    assert res.failures.model.tolist() == [str(broken)]
    err = res.failures.error.iloc[0]
    assert "no weights found" in err and "\n" not in err
    # the combined table: both good models, in list order, each row equal to numpy's SVD
    assert list(res.table.columns[:2]) == ["model", "revision"]
    assert res.table.model.unique().tolist() == [str(a), str(b)]
    for folder in (a, b):
        part = res.table[res.table.model == str(folder)]
        exp = _expected_rows(folder)
        assert part.tensors.tolist() == [e[0] for e in exp]
        np.testing.assert_allclose(part.frobenius, [e[1] for e in exp], rtol=1e-12)
        np.testing.assert_allclose(part.spectral_norm, [e[2] for e in exp], rtol=1e-12)
        np.testing.assert_allclose(part.stable_rank, [e[1] / e[2] for e in exp], rtol=1e-12)
    # on disk: the same tables, per-model outputs in the scan contract
    out = tmp_path / "out"
    disk = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert len(disk) == len(res.table) == 4 + 6
    np.testing.assert_allclose(disk.stable_rank, res.table.stable_rank)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), res.table, check_dtype=False)
    assert pd.read_csv(out / "failures.csv").model.tolist() == [str(broken)]
    assert (out / "a--a" / "manifest.json").is_file() or any((p / "manifest.json").is_file() for p in out.iterdir())


def _calls(out):
    return {p.parent.name: len(p.read_text().split()) for p in out.glob("*/calls.log")}


def test_resume_skips_completed_models_and_retries_failed_ones(three_models, tmp_path):
    lst, (a, broken, b) = three_models
    out = tmp_path / "out"
    first = run_sweep([str(lst)], out, executor="sequential", scan_fn=FAKE)
    calls = _calls(out)
    assert sorted(calls.values()) == [1, 1, 1]
    make_fake_model(broken, seed=3)  # the weights arrive
    second = run_sweep([str(lst)], out, executor="local", scan_fn=FAKE)
    assert list(second.status.status) == ["skipped", "ok", "skipped"]
    assert second.ok
    after = _calls(out)
    assert {k: after[k] - calls[k] for k in calls} == {k: (1 if v == 1 and "broken" in k else 0) for k, v in calls.items()}
    pd.testing.assert_frame_equal(
        second.table[second.table.model != str(broken)].reset_index(drop=True), first.table, check_dtype=False
    )


def test_incomplete_manifest_is_redone(three_models, tmp_path):
    lst, (a, broken, b) = three_models
    out = tmp_path / "out"
    run_sweep([str(a)], out, executor="sequential", scan_fn=FAKE)
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    (folder / "manifest.json").write_text('{"complete": false}')
    res = run_sweep([str(a)], out, executor="sequential", scan_fn=FAKE)
    assert list(res.status.status) == ["ok"]
    assert len((folder / "calls.log").read_text().split()) == 2


def test_shards_then_merge_equal_one_sweep(tmp_path):
    models = [make_fake_model(tmp_path / "m" / f"model{j}", seed=j) for j in range(5)]
    args = [str(m) for m in models]
    whole = run_sweep(args, tmp_path / "whole", executor="sequential", scan_fn=FAKE)
    shard_out = tmp_path / "sharded"
    seen = []
    for i in (1, 2, 3):
        part = run_sweep(args, shard_out, shard=(i, 3), executor="sequential", scan_fn=FAKE)
        seen += part.status.model.tolist()
        assert (shard_out / f"sweep.shard{i}of3.csv").is_file()
    assert sorted(seen) == sorted(args)  # exactly once
    merged = collect([shard_out])
    assert merged.ok and (shard_out / "sweep.csv").is_file()
    key = ["model", "tensors"]
    pd.testing.assert_frame_equal(
        merged.table.sort_values(key).reset_index(drop=True)[whole.table.columns],
        whole.table.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )


def test_revisions_and_trajectory_outputs(tmp_path):
    base = tmp_path / "run"
    for j, step in enumerate((0, 100, 2000)):
        make_fake_model(base / f"step{step}", seed=10 + j, layers=3)
    res = run_sweep([str(base)], tmp_path / "out", revisions=["step0", "step100", "step2000"], executor="sequential",
                    scan_fn=FAKE)
    assert res.ok and list(res.table.revision.unique()) == ["step0", "step100", "step2000"]
    traj = pd.read_csv(tmp_path / "out" / "trajectory.csv")
    for (role, step), d in res.table.assign(step=res.table.revision.str[4:].astype(int)).groupby(["role", "step"]):
        row = traj[(traj.role == role) & (traj.step == step)]
        assert float(row.median_stable_rank.iloc[0]) == pytest.approx(float(np.median(d.stable_rank)), rel=1e-12)
        assert float(row.median_frobenius.iloc[0]) == pytest.approx(float(np.median(d.frobenius)), rel=1e-12)
    # the stacked report needs lrscan.report.render (report branch); without it, one clear note
    assert (tmp_path / "out" / "report.html").is_file() or any("lrscan.report.render" in m for m in res.messages)
    html = (tmp_path / "out" / "trajectory.html").read_text()
    assert "median stable rank" in html and "plotly" in html


def test_spec_objects_are_accepted(tmp_path):
    m = make_fake_model(tmp_path / "m", seed=0)
    res = run_sweep([ModelSpec(str(m))], tmp_path / "out", executor="sequential", scan_fn=FAKE, report=False)
    assert res.ok and len(res.table) == 4

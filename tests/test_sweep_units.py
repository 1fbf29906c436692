"""Sweep building blocks: models lists, revisions, shards, tables, trajectories (no scans)."""
from __future__ import annotations

import random

import pandas as pd
import pytest

from lrscan.errors import UsageError
from lrscan.sweep.models import ModelSpec, expand_revisions, gather_specs, parse_models_text, parse_revisions
from lrscan.sweep.shard import parse_shard, select_shard
from lrscan.sweep.trajectory import parse_step, trajectory_table


def test_models_list_comments_revisions_and_relative_folders(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "odd@name").mkdir()
    text = """
    # a family
    bert-base-uncased
    EleutherAI/pythia-160m@step3000   # one checkpoint
    ckpt
    odd@name
    bert-base-uncased
    """
    specs = parse_models_text(text, base_dir=tmp_path)
    assert specs == [
        ModelSpec("bert-base-uncased"),
        ModelSpec("EleutherAI/pythia-160m", "step3000"),
        ModelSpec(str(tmp_path / "ckpt")),
        ModelSpec(str(tmp_path / "odd@name")),  # an existing folder keeps its '@'
        ModelSpec("bert-base-uncased"),
    ]
    f = tmp_path / "models.txt"
    f.write_text(text)
    specs = gather_specs([str(f)], parse_revisions("main, v2"))
    assert [s.key for s in specs] == [
        "bert-base-uncased@main", "bert-base-uncased@v2", "EleutherAI/pythia-160m@step3000",
        f"{tmp_path / 'ckpt'}@main", f"{tmp_path / 'ckpt'}@v2", f"{tmp_path / 'odd@name'}@main", f"{tmp_path / 'odd@name'}@v2",
    ]
    assert len({s.slug for s in specs}) == len(specs)
    assert ModelSpec("EleutherAI/pythia-160m", "step3000").slug == "EleutherAI--pythia-160m@step3000"


def test_models_list_errors_are_one_line(tmp_path):
    with pytest.raises(UsageError, match=r"models list:2: one model per line"):
        parse_models_text("a\nb c\n")
    (tmp_path / "m.txt").write_text("# nothing\n\n")
    with pytest.raises(UsageError, match="empty"):
        gather_specs([str(tmp_path / "m.txt")])
    with pytest.raises(UsageError, match="MODEL@REVISION"):
        parse_models_text("org/model@\n")


def test_expand_revisions_keeps_explicit_ones():
    specs = [ModelSpec("a"), ModelSpec("b", "r9")]
    assert expand_revisions(specs, ["r1", "r2"]) == [ModelSpec("a", "r1"), ModelSpec("a", "r2"), ModelSpec("b", "r9")]
    assert expand_revisions(specs, []) == specs


@pytest.mark.parametrize("n_items", [0, 1, 2, 3, 7, 20, 53])
@pytest.mark.parametrize("n_shards", [1, 2, 3, 5, 16])
def test_shards_cover_the_list_exactly_once_balanced_and_order_independent(n_items, n_shards):
    specs = [ModelSpec(f"org/model-{j}", f"step{j * 10}" if j % 2 else "") for j in range(n_items)]
    pieces = [select_shard(specs, i, n_shards) for i in range(1, n_shards + 1)]
    flat = [s for p in pieces for s in p]
    assert sorted(flat) == sorted(specs)  # every entry exactly once
    assert max(map(len, pieces)) - min(map(len, pieces)) <= 1
    for p in pieces:  # each shard keeps the list order
        assert p == [s for s in specs if s in p]
    shuffled = specs[:]
    random.Random(n_items).shuffle(shuffled)
    for i in range(1, n_shards + 1):  # the assignment depends on the set, not on the order
        assert set(select_shard(shuffled, i, n_shards)) == set(pieces[i - 1])


def test_parse_shard():
    assert parse_shard("3/16") == (3, 16)
    assert parse_shard(None) is None
    for bad in ("0/3", "4/3", "3", "a/b", "1/0"):
        with pytest.raises(UsageError):
            parse_shard(bad)


def test_parse_step():
    assert [parse_step(r) for r in ("step3000", "checkpoint-12", "global_step7", "ckpt_5", "1000", "main", "", "v2")] == [
        3000, 12, 7, 5, 1000, None, None, None]


def test_trajectory_is_the_median_over_layers_per_role_and_step():
    rows = []
    for step, scale in ((0, 1.0), (1000, 2.0), (143000, 3.0)):
        for layer, sr in enumerate((1.0, 2.0, 6.0)):
            rows.append(["m", f"step{step}", layer, "Q", sr * scale, 10.0 * scale + layer])
            rows.append(["m", f"step{step}", layer, "M1", sr, 1.0 + layer])
    rows.append(["other", "main", 0, "Q", 5.0, 5.0])  # no steps: no trajectory
    df = pd.DataFrame(rows, columns=["model", "revision", "layer", "role", "stable_rank", "frobenius"])
    t = trajectory_table(df)
    q = t[t.role == "Q"]
    assert list(q.step) == [0, 1000, 143000]
    assert list(q.median_stable_rank) == [2.0, 4.0, 6.0]
    assert list(q.median_frobenius) == [11.0, 21.0, 31.0]
    assert set(t.model) == {"m"} and set(t.layers) == {3}


def test_local_pool_takes_one_worker_per_gpu_with_cuda(monkeypatch):
    import torch

    from lrscan.sweep import executors

    specs = [ModelSpec(f"m{j}") for j in range(5)]
    monkeypatch.setattr(executors, "cpu_count", lambda: 16)
    assert executors._local_pool_size(specs, {"device": "cpu"}, None) == (5, None)  # capped by the work
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert executors.wants_gpu("cuda") and not executors.wants_gpu("cpu")
    assert executors._local_pool_size(specs, {"device": "cuda"}, None) == (2, [0, 1])
    assert executors._local_pool_size(specs, {"device": "cuda"}, 4) == (4, [0, 1, 0, 1])
    assert executors._local_pool_size(specs, {"device": "cuda:1"}, None) == (1, None)  # one named GPU: one worker

"""Sweeps: scan many models / checkpoints into one table, on one machine or a Ray cluster.

Python API:
    run_sweep(models, out, *, revisions=None, shard=None, executor="local", ...) -> SweepResult
    collect(folders, out=None) -> SweepResult          join shard outputs (lrscan sweep-merge)
Modules, one job each: models (work list), shard, task (one scan), executors, tables, run, join,
trajectory (figures vs checkpoint step), report.
"""
from __future__ import annotations

__all__ = ["run_sweep", "collect", "SweepResult", "ModelSpec"]


def __getattr__(name):  # lazy: `lrscan --help` must not import pandas/torch
    if name in ("run_sweep", "SweepResult"):
        from lrscan.sweep import run

        return getattr(run, name)
    if name == "collect":
        from lrscan.sweep.join import collect

        return collect
    if name == "ModelSpec":
        from lrscan.sweep.models import ModelSpec

        return ModelSpec
    raise AttributeError(name)

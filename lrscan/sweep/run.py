"""A sweep end to end: work list -> shard -> skip finished -> execute -> tables -> report."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd

from lrscan.atomic import write_text
from lrscan.sweep import tables
from lrscan.sweep.executors import OnResult, run_tasks
from lrscan.sweep.models import ModelSpec, gather_specs
from lrscan.sweep.shard import select_shard, shard_tag
from lrscan.sweep.task import MANIFEST, SCAN_CSV, TaskResult, is_complete, skipped_result


@dataclass
class SweepResult:
    table: pd.DataFrame  # every finished model's rows, `model` and `revision` first
    status: pd.DataFrame  # one row per entry (tables.STATUS_COLUMNS)
    failures: pd.DataFrame  # model, revision, error
    out: Path
    files: list[Path] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # e.g. why a report was not written

    @property
    def ok(self) -> bool:
        return self.failures.empty


def run_sweep(
    models: Sequence[str] | Sequence[ModelSpec],
    out: str | Path,
    *,
    revisions: Iterable[str] | None = None,
    shard: tuple[int, int] | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    scan_kwargs: dict | None = None,
    scan_fn: Callable | str | None = None,
    report: bool = True,
    on_result: OnResult | None = None,
) -> SweepResult:
    """Scan every (model, revision); return (and write under `out`) the combined tables.

    `models`: models files and/or model entries (`id`, `folder`, `id@rev`), or ModelSpecs.
    A model whose output folder already holds a complete manifest is read back, not redone.
    """
    out = Path(out)
    if models and all(isinstance(m, ModelSpec) for m in models):
        from lrscan.sweep.models import dedupe, expand_revisions

        specs = dedupe(expand_revisions(models, revisions))  # type: ignore[arg-type]
    else:
        specs = gather_specs([str(m) for m in models], revisions)
    if shard:
        specs = select_shard(specs, *shard)
    out.mkdir(parents=True, exist_ok=True)

    done = {i: skipped_result(s, str(out)) for i, s in enumerate(specs) if is_complete(out / s.slug)}
    todo = [s for i, s in enumerate(specs) if i not in done]
    ran = iter(
        run_tasks(todo, str(out), scan_kwargs=scan_kwargs, scan_fn=scan_fn, executor=executor, workers=workers,
                  address=address, on_result=on_result)
    )
    results = [done[i] if i in done else next(ran) for i in range(len(specs))]
    for r in results:
        if r.status == "ok" and r.frame is not None and not is_complete(r.out):
            _write_scan_locally(r)  # the task ran on another machine without a shared filesystem

    res = summarize(results, out)
    tag = shard_tag(shard)
    res.files += tables.write_table(res.table, out, f"sweep{tag}")
    res.files.append(tables.write_csv(res.status, out / f"status{tag}.csv"))
    res.files.append(tables.write_csv(res.failures, out / f"failures{tag}.csv"))
    if report and not shard and not res.table.empty:
        from lrscan.sweep.report import write_reports

        files, msgs = write_reports(res.table, out)
        res.files += files
        res.messages += msgs
    return res


def summarize(results: Sequence[TaskResult], out: Path) -> SweepResult:
    table = tables.stack((r.model, r.revision, r.frame) for r in results if r.status != "failed" and r.frame is not None)
    status = pd.DataFrame(
        [[r.model, r.revision, r.out, r.status, r.error, round(r.seconds, 3), r.rows] for r in results],
        columns=tables.STATUS_COLUMNS,
    )
    failures = status.loc[status.status == "failed", tables.FAILURE_COLUMNS].reset_index(drop=True)
    return SweepResult(table, status, failures, out)


def _write_scan_locally(r: TaskResult) -> None:
    folder = Path(r.out)
    tables.write_csv(r.frame, folder / SCAN_CSV)
    text = json.dumps(r.manifest or {}, indent=2, default=str)
    write_text(folder / MANIFEST, text)

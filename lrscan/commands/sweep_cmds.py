"""CLI: `lrscan sweep`, `lrscan sweep-merge`, `lrscan diff` (thin layers over lrscan.sweep / lrscan.diff)."""
from __future__ import annotations

from typing import List, Optional

import typer

from lrscan.commands import options as opts


def _echo_result(r, done: int, total: int) -> None:
    label = f"{r.model}@{r.revision}" if r.revision else r.model
    tail = f"  {r.error}" if r.error else f"  ({r.rows} rows, {r.seconds:.1f} s)"
    typer.echo(f"[{done}/{total}] {r.status:<7} {label}{tail}", err=True)


def _finish(res, what: str) -> None:
    st = res.status["status"].value_counts()
    parts = [f"{st.get('ok', 0)} scanned", f"{st.get('skipped', 0)} already complete", f"{st.get('failed', 0)} failed"]
    for m in res.messages:
        typer.echo(f"lrscan: note: {m}", err=True)
    typer.echo(f"{what}: {', '.join(parts)}; {len(res.table)} rows -> {res.out}", err=True)
    for f in res.files:
        typer.echo(f"  {f}", err=True)
    if not res.ok:
        from lrscan.errors import LrscanError

        # an LrscanError, not typer.Exit(1): main() runs typer with standalone_mode=False, where
        # click returns an Exit's code instead of raising it, and the process would exit 0
        raise LrscanError(f"{len(res.failures)} model(s) failed (see {res.out}/failures*.csv)")


def register(app: typer.Typer) -> None:
    @app.command(
        "sweep",
        epilog=(
            "Examples:\n\n"
            "  lrscan sweep models.txt --out reports/sweep\n\n"
            "  lrscan sweep EleutherAI/pythia-160m --revisions step0,step1000,step143000 --out reports/pythia\n\n"
            "  lrscan sweep models.txt --executor ray --address auto\n\n"
            "  lrscan sweep models.txt --shard 3/16   (then: lrscan sweep-merge reports/sweep)"
        ),
    )
    def sweep(
        models: List[str] = typer.Argument(..., help="models files (one hub id or folder per line, optional @revision, # comments) and/or model entries"),
        out: str = typer.Option("reports/sweep", "--out", help="sweep folder: per-model outputs in SLUG or SLUG@REV subfolders, sweep.csv, report"),
        revisions: Optional[str] = typer.Option(None, "--revisions", help="comma-separated revisions for entries without @revision"),
        shard: Optional[str] = typer.Option(None, "--shard", help="I/N: only this slice of the list (job arrays)"),
        executor: str = typer.Option("local", "--executor", help="local (process pool) | ray | sequential"),
        workers: Optional[int] = typer.Option(None, "--workers", help="parallel scans (default: cores, or GPUs with CUDA; Ray: local CPUs)"),
        address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (e.g. auto); default: start Ray locally"),
        device: opts.Device = "auto",
        precision: opts.Precision = "fp32",
        method: opts.Method = "auto",
        layers: opts.Layers = None,
        roles: opts.Roles = None,
        generic: opts.Generic = False,
        spectrum: opts.Spectrum = False,
        collect_: bool = typer.Option(False, "--collect", help="do not scan: join the shard outputs already in --out"),
        report: bool = typer.Option(True, "--report/--no-report", help="write report.html and trajectory.html"),
    ):
        """Scan many models or checkpoints into one table (resumable; failures recorded, the sweep goes on)."""
        from lrscan.sweep import collect, run_sweep
        from lrscan.sweep.shard import parse_shard

        if collect_:
            _finish(collect([out], out, report=report), "sweep-merge")
            return
        from lrscan.sweep.models import parse_revisions

        scan_kwargs = dict(device=device, precision=precision, method=method, generic=generic, spectrum=spectrum)
        if layers:
            scan_kwargs["layers"] = layers
        if roles:
            scan_kwargs["roles"] = roles
        res = run_sweep(
            models, out, revisions=parse_revisions(revisions), shard=parse_shard(shard), executor=executor,
            workers=workers, address=address, scan_kwargs=scan_kwargs, report=report, on_result=_echo_result,
        )
        _finish(res, "sweep")

    @app.command("sweep-merge")
    def sweep_merge(
        folders: List[str] = typer.Argument(..., help="sweep folders written by shards (or earlier sweeps)"),
        out: Optional[str] = typer.Option(None, "--out", help="where the joined tables go (default: the first folder)"),
        report: bool = typer.Option(True, "--report/--no-report"),
    ):
        """Join shard outputs into one sweep.csv (+ failures, report)."""
        from lrscan.sweep import collect

        _finish(collect(folders, out, report=report), "sweep-merge")

    @app.command(
        "diff",
        epilog=(
            "Examples:\n\n"
            "  lrscan diff bert-base-uncased ./my-finetuned-bert --out reports/delta\n\n"
            "  lrscan diff BASE ./task-a ./task-b -k 16 --out reports/task-arith   (principal angles between the deltas)"
        ),
    )
    def diff(
        base: str = typer.Argument(..., help="base model (hub id or folder, optional @revision)"),
        tuned: str = typer.Argument(..., help="fine-tuned model"),
        tuned2: Optional[str] = typer.Argument(None, help="a second fine-tune of the same base: principal angles"),
        out: str = typer.Option("reports/delta", "--out", help="folder for delta.csv, angles.csv, manifest.json"),
        k: int = typer.Option(8, "-k", "--k", help="top-k singular subspaces compared between two deltas"),
        device: opts.Device = "auto",
        precision: opts.Precision = "fp32",
        method: opts.Method = "auto",
        layers: opts.Layers = None,
        roles: opts.Roles = None,
        generic: opts.Generic = False,
    ):
        """Scan fine-tune deltas ΔW = W_tuned − W_base per (layer, role): norms, stable rank, relative size."""
        from lrscan.diff import diff_models, summary

        res = diff_models(base, tuned, tuned2, out=out, k=k, device=device, precision=precision, method=method,
                          layers=layers, roles=roles, generic=generic)
        typer.echo(summary(res).to_string(index=False))
        typer.echo(f"diff: {len(res.deltas)} delta rows -> {out}", err=True)
        for f in res.files:
            typer.echo(f"  {f}", err=True)

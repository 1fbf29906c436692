"""`lrscan merge-exp ...`: the paper's merging and low-rank experiments (Figures 2, 3 and 5).

A few lines per command over lrscan.merge.run; heavy imports stay inside the functions.
"""
from __future__ import annotations

from typing import Optional

import typer

_PRESET = typer.Option("quick", "--preset", help="paper = the paper's settings; quick = scaled down, < 1 min on 2 CPU cores.")
_LR = typer.Option(None, "--lr", help="GD step size η (default: the preset's).")
_WD = typer.Option(None, "--weight-decay", help="weight decay λ (default: the preset's).")
_STEPS = typer.Option(None, "--steps", help="GD steps (fig2: SGD epochs).")
_SEEDS = typer.Option(None, "--seeds", help="number of random draws of the sample (and initialisations).")
_WIDTHS = typer.Option(None, "--widths", help="hidden widths, comma-separated, e.g. 1000,100.")
_DEVICE = typer.Option("auto", "--device", help="auto | cpu | cuda")
_PRECISION = typer.Option("fp32", "--precision", help="fp32 | fp64")
_OUT = typer.Option(None, "--out", "-o", help="output folder (default reports/merge-<experiment>).")
_RESUME = typer.Option(False, "--resume", help="continue from --out's checkpoint (same settings).")
_BIAS = typer.Option(False, "--bias", help="add biases (breaks the homogeneity the theory assumes).")
_SEED = typer.Option(None, "--seed", help="base random seed (default 0).")
_LAMBDAS = typer.Option(None, "--lambdas", help="weight-decay grid, comma-separated (default: the preset's).")
_N = typer.Option(None, "--n", help="training points per task.")
_THREADS = typer.Option(None, "--threads", help="torch CPU threads (quick presets: 1; paper: torch's default).")
_CKPT = typer.Option(None, "--checkpoint-seconds", help="seconds between checkpoints (default 180).")


def _run(experiment: str, preset: str, out: Optional[str], **overrides) -> None:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from lrscan.merge.config import parse_floats, parse_widths, preset as make_preset
    from lrscan.merge.runner import run

    overrides["widths"] = parse_widths(overrides.get("widths"))
    overrides["lambdas"] = parse_floats(overrides.get("lambdas"), "--lambdas")
    cfg = make_preset(experiment, preset, out=out or f"reports/merge-{experiment}", **overrides)
    console = Console(stderr=True)
    unit = "epochs" if experiment == "fig2" else "steps"
    bar = Progress(TextColumn(f"merge-exp {experiment} [{preset}]"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console)
    task = None

    def progress(step: int, total: int) -> None:  # the bar starts with training (data errors stay one line)
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("train", total=total, completed=step)
        bar.update(task, completed=step)

    try:
        run(cfg, progress=progress, quiet=True)
    finally:
        if task is not None:
            bar.stop()
    typer.echo((Path(cfg.out) / "summary.txt").read_text(encoding="utf-8"), nl=False)
    typer.echo(f"wrote {cfg.out}/curves.csv, manifest.json, summary.txt, report.html")


def register(app: typer.Typer) -> None:
    merge = typer.Typer(name="merge-exp", no_args_is_help=True, add_completion=False,
                        help="Reproduce the paper's model-merging and low-rank experiments (Figures 2, 3, 5).")

    @merge.command("synthetic")
    def synthetic(preset: str = _PRESET, lr: Optional[float] = _LR, weight_decay: Optional[float] = _WD,
                  steps: Optional[int] = _STEPS, seeds: Optional[int] = _SEEDS, widths: Optional[str] = _WIDTHS,
                  overlap: Optional[float] = typer.Option(None, "--overlap", help="also run tasks whose input subspaces overlap by ε in [0, 1]."),
                  n: Optional[int] = _N, seed: Optional[int] = _SEED, device: str = _DEVICE, precision: str = _PRECISION,
                  out: Optional[str] = _OUT, resume: bool = _RESUME, bias: bool = _BIAS,
                  checkpoint_seconds: Optional[float] = _CKPT, threads: Optional[int] = _THREADS):
        """Figure 3 (first row, and the stable ranks of its second row): merge by summing weights of
        models trained on different / same-inputs / identical synthetic tasks."""
        _run("synthetic", preset, out, lr=lr, weight_decay=weight_decay, steps=steps, seeds=seeds, widths=widths,
             overlap=overlap, n=n, seed=seed, device=device, precision=precision, resume=resume, bias=bias,
             checkpoint_seconds=checkpoint_seconds, threads=threads)

    @merge.command("lambda-sweep")
    def lambda_sweep(preset: str = _PRESET, lambdas: Optional[str] = _LAMBDAS, lr: Optional[float] = _LR,
                     steps: Optional[int] = _STEPS, seeds: Optional[int] = _SEEDS, widths: Optional[str] = _WIDTHS,
                     n: Optional[int] = _N, seed: Optional[int] = _SEED, device: str = _DEVICE, precision: str = _PRECISION,
                     out: Optional[str] = _OUT, resume: bool = _RESUME, bias: bool = _BIAS,
                     checkpoint_seconds: Optional[float] = _CKPT, threads: Optional[int] = _THREADS):
        """Figure 3, second row (left): the merged-vs-individual loss gap on different tasks for several
        weight decays λ (for Figure 2, the low-rank-vs-λ plot, see `fig2`)."""
        _run("lambda-sweep", preset, out, lambdas=lambdas, lr=lr, steps=steps, seeds=seeds, widths=widths, n=n,
             seed=seed, device=device, precision=precision, resume=resume, bias=bias, checkpoint_seconds=checkpoint_seconds, threads=threads)

    @merge.command("fig2")
    def fig2(preset: str = _PRESET, lambdas: Optional[str] = _LAMBDAS, lr: Optional[float] = _LR,
             steps: Optional[int] = typer.Option(None, "--steps", "--epochs", help="SGD epochs (paper: 5000)."),
             batch_size: Optional[int] = typer.Option(None, "--batch-size", help="SGD minibatch size (not in the paper; preset 100)."),
             seeds: Optional[int] = _SEEDS, widths: Optional[str] = _WIDTHS, seed: Optional[int] = _SEED,
             device: str = _DEVICE, precision: str = _PRECISION, out: Optional[str] = _OUT, resume: bool = _RESUME,
             bias: bool = _BIAS, checkpoint_seconds: Optional[float] = _CKPT, threads: Optional[int] = _THREADS):
        """Figure 2: average inverse stable rank, class error, margin error and loss vs weight decay
        (K = 3, widths 10, SGD with weight decay, labels sin(10 wᵀx) and sin(100 wᵀx))."""
        _run("fig2", preset, out, lambdas=lambdas, lr=lr, steps=steps, batch_size=batch_size, seeds=seeds,
             widths=widths, seed=seed, device=device, precision=precision, resume=resume, bias=bias,
             checkpoint_seconds=checkpoint_seconds, threads=threads)

    @merge.command("images")
    def images(preset: str = _PRESET,
               dataset: str = typer.Option("digits", "--dataset", help="digits (scikit-learn's, offline) | fashion-mnist"),
               data_dir: Optional[str] = typer.Option(None, "--data-dir", help="folder with the Fashion-MNIST IDX files."),
               download: bool = typer.Option(False, "--download", help="download Fashion-MNIST into --data-dir (checksums verified)."),
               samples: Optional[int] = typer.Option(None, "--samples-per-task", help="training images per task (paper: 10)."),
               lr: Optional[float] = _LR, weight_decay: Optional[float] = _WD, lambdas: Optional[str] = _LAMBDAS,
               steps: Optional[int] = _STEPS, seeds: Optional[int] = _SEEDS, widths: Optional[str] = _WIDTHS,
               seed: Optional[int] = _SEED, device: str = _DEVICE, precision: str = _PRECISION,
               out: Optional[str] = _OUT, resume: bool = _RESUME, bias: bool = _BIAS,
               checkpoint_seconds: Optional[float] = _CKPT, threads: Optional[int] = _THREADS):
        """Figure 5 (Appendix C.2): the merging experiment on images, classes 0-4 vs 5-9, task 2 zero-padded
        on the other side with labels inverted."""
        _run("images", preset, out, dataset=dataset, data_dir=data_dir, download=download, n=samples, lr=lr,
             weight_decay=weight_decay, lambdas=lambdas, steps=steps, seeds=seeds, widths=widths, seed=seed,
             device=device, precision=precision, resume=resume, bias=bias, checkpoint_seconds=checkpoint_seconds, threads=threads)

    app.add_typer(merge, name="merge-exp")

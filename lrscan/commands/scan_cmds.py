"""`lrscan model`, `lrscan archs`, `lrscan demo`: thin CLI over lrscan.scan_model and the registry."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lrscan.commands import options as opts

MODEL_EPILOG = """Examples:

  lrscan model microsoft/phi-2                       (hub id; the HF cache and HF_HUB_OFFLINE are honoured)

  lrscan model ./my-checkpoint --out reports/my-checkpoint

  lrscan model EleutherAI/pythia-160m --revision step3000 --device cpu --precision fp64

  lrscan model gpt2-xl --layers 0-5 --roles Q,K,QKV --spectrum

  lrscan model ./odd-arch --generic                 (unknown model_type: every 2-D weight, role 'other')
"""


def _print_warnings():
    """Show lrscan's warnings as one line each on stderr."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        typer.echo(f"lrscan: warning: {message}", err=True)

    warnings.showwarning = show


def _summary(df, out_dir: Path, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    from lrscan.scan_table import role_summary

    console = Console()
    s = role_summary(df)
    t = Table(title=f"{len(df)} matrices in {seconds:.1f} s", title_justify="left")
    for col in ("role", "n", "stable rank median", "min", "max", "‖W‖_F median"):
        t.add_column(col, justify="left" if col == "role" else "right")
    for _, r in s.iterrows():
        t.add_row(r["role"], str(r["matrices"]), f"{r['stable_rank_median']:.3f}", f"{r['stable_rank_min']:.3f}",
                  f"{r['stable_rank_max']:.3f}", f"{r['frobenius_median']:.4g}")
    console.print(t)
    bad = df[df["status"] != "ok"]
    if len(bad):
        console.print(f"[yellow]{len(bad)} matrices flagged[/yellow] ({', '.join(sorted(set(bad['status'])))}): see the 'note' column")
    console.print(f"wrote {out_dir}/scan.csv and manifest.json")


def run_scan(model: str, **kw) -> None:
    import time

    from lrscan.io.resolve import model_slug
    from lrscan.scan import scan_model

    _print_warnings()
    t0 = time.perf_counter()
    out = kw.pop("out", None)
    out_dir = Path(out) if out is not None else Path("reports") / model_slug(model, kw.get("revision"))
    df = scan_model(model, out=out_dir, **kw)
    _summary(df, out_dir, time.perf_counter() - t0)
    if kw.get("html") and (out_dir / "report.html").exists():
        typer.echo(f"report: {out_dir / 'report.html'}")


def register(app: typer.Typer) -> None:
    @app.command("model", epilog=MODEL_EPILOG)
    def model_cmd(
        model: str = typer.Argument(..., help="Hub id (org/name) or a local folder with config.json + weights."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: reports/<model-slug>/)."),
        revision: Optional[str] = typer.Option(None, "--revision", help="Hub revision: branch, tag or commit."),
        device: opts.Device = "auto",
        precision: opts.Precision = "fp32",
        method: opts.Method = "auto",
        layers: opts.Layers = None,
        roles: opts.Roles = None,
        fmt: str = typer.Option("auto", "--format", help="csv | parquet | json (scan.csv is always written; auto: + parquet when pyarrow is there)."),
        generic: opts.Generic = False,
        resume: bool = typer.Option(False, "--resume", help="Skip (layer, role) rows already in --out."),
        spectrum: opts.Spectrum = False,
        html: bool = typer.Option(False, "--html", help="Also write report.html into --out."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
        max_memory: Optional[str] = typer.Option(None, "--max-memory", help="Memory budget, e.g. 8GB: stop up front when one matrix would need more."),
        label: Optional[str] = typer.Option(None, "--label", help="Name for the model column and reports (e.g. the hub id of a local copy)."),
    ):
        """Scan a pretrained transformer: per (layer, role) Frobenius norm, spectral norm, stable rank.

        Writes scan.csv (tidy: one row per layer and role; + scan.parquet) and manifest.json.
        """
        run_scan(model, out=out, revision=revision, device=device, precision=precision, method=method,
                 layers=layers, roles=roles, format=fmt, generic=generic, resume=resume, spectrum=spectrum,
                 html=html, progress=progress, max_memory=max_memory, label=label)

    @app.command("archs")
    def archs_cmd(
        markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table (as in the README)."),
    ):
        """Supported architecture families and how their tensors map to roles."""
        from lrscan.arch.describe import families_markdown, print_families

        if markdown:
            typer.echo(families_markdown())
        else:
            print_families()

    @app.command("demo")
    def demo_cmd(
        out: Path = typer.Option(Path("reports"), "--out", help="Parent folder; the scan goes to OUT/all-MiniLM-L6-v2/."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
    ):
        """Scan the real pretrained BERT shipped on PyPI (all-MiniLM-L6-v2), offline, with an HTML report."""
        from lrscan.assets import DEMO_MODEL_ID, DEMO_MODEL_NAME, demo_model_path

        run_scan(str(demo_model_path()), out=out / DEMO_MODEL_NAME, html=True, progress=progress, label=DEMO_MODEL_ID)

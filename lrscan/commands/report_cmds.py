"""`lrscan report DIR [DIR ...] -o OUT.html [--shared-y] [--png] [--svg]`: one HTML page for scan folders."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        dirs: List[Path] = typer.Argument(..., help="Scan output folders (each with scan.csv and manifest.json), "
                                                    "one row of plots per model, in this order."),
        out: Path = typer.Option(..., "-o", "--out", help="The HTML file to write (self-contained, works offline)."),
        shared_y: bool = typer.Option(False, "--shared-y", help="Same y range for every model's panels."),
        png: bool = typer.Option(False, "--png", help="Also write OUT-<figure>.png next to the page (offline, "
                                                      "needs kaleido and a local Chromium)."),
        svg: bool = typer.Option(False, "--svg", help="Also write OUT-<figure>.svg next to the page."),
    ) -> None:
        """Write the HTML report (the paper's Figure 4 layout) for one or more scans."""
        from lrscan.errors import UsageError
        from lrscan.report.scan_report import build, load_scan_dirs, write_report
        from lrscan.report.static import write_images

        if out.is_dir():
            raise UsageError(f"-o {out} is a folder; give the HTML file to write, e.g. {out / 'report.html'}")
        frames, manifests = load_scan_dirs(dirs)
        rep = build(frames, manifests=manifests, shared_y=shared_y)
        page = write_report(rep, out)
        typer.echo(f"wrote {page} ({page.stat().st_size / 1e6:.1f} MB, {len(frames)} model"
                   f"{'' if len(frames) == 1 else 's'})")
        formats = [f for f, on in (("png", png), ("svg", svg)) if on]
        for path in write_images(rep.figures, out.with_suffix(""), formats):
            typer.echo(f"wrote {path}")

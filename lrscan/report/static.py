"""Static PNG/SVG images of report figures, for papers, made offline.

    write_images(figures, prefix, formats) -> list[Path]
        figures: {name: go.Figure}; writes <prefix>-<name>.<fmt> for each figure and format ("png", "svg").

How: plotly's exporter kaleido (>= 1) drives a local headless Chromium over the DevTools protocol; it is
pointed at the system browser (lrscan.report.browser.find_chromium, e.g. Debian's /usr/bin/chromium), at the
plotly.js bundled with the plotly package, and with MathJax off, so nothing is fetched from the network
and no browser is downloaded. All images are rendered in one browser session.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import plotly.graph_objects as go

from lrscan.errors import LrscanError, UsageError
from lrscan.report.browser import find_chromium
from lrscan.report.figures import figure_size, for_print

FORMATS = ("png", "svg")
PNG_SCALE = 2  # 2x pixels for print


def _plotlyjs_path() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise LrscanError(f"plotly.js not found at {path} (reinstall plotly)")
    return path


def image_paths(names: Sequence[str], prefix: str | os.PathLike, formats: Sequence[str]) -> list[Path]:
    prefix = Path(prefix)
    return [prefix.with_name(f"{prefix.name}-{name}.{fmt}") for name in names for fmt in formats]


def write_images(figures: Mapping[str, go.Figure], prefix: str | os.PathLike, formats: Sequence[str]) -> list[Path]:
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UsageError(f"unknown image format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    if not formats or not figures:
        return []
    try:
        import kaleido
    except ImportError:
        raise LrscanError("--png/--svg need the kaleido package: pip install 'lrscan[images]'") from None
    browser = find_chromium()
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    specs, paths = [], []
    for name, fig in figures.items():
        printable = for_print(fig)
        width, height = figure_size(printable)
        for fmt in formats:
            path = prefix.with_name(f"{prefix.name}-{name}.{fmt}")
            opts = {"format": fmt, "width": width, "height": height, "scale": PNG_SCALE if fmt == "png" else 1}
            specs.append({"fig": printable, "path": str(path), "opts": opts})
            paths.append(path)
    kopts = {"path": browser, "plotlyjs": str(_plotlyjs_path()), "mathjax": False}
    try:
        kaleido.write_fig_from_object_sync(specs, kopts=kopts, cancel_on_error=True)
    except Exception as e:  # kaleido/choreographer raise many types (browser died, timeout, JS error)
        raise LrscanError(f"static image export with {browser} failed: {type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}") from None
    missing = [str(p) for p in paths if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise LrscanError(f"static image export wrote no file for {', '.join(missing)}")
    return paths

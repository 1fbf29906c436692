"""One page skeleton shared by every lrscan report (scan, sweep, merge-exp)."""
from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

import jinja2

_TEMPLATES = Path(__file__).parent / "templates"


def _block_html(content: Any, first_figure: list[bool]) -> str:
    import pandas as pd
    import plotly.graph_objects as go

    if isinstance(content, go.Figure):
        include = first_figure[0]
        first_figure[0] = False
        return content.to_html(full_html=False, include_plotlyjs=include, config={"displaylogo": False})
    if isinstance(content, pd.DataFrame):
        return content.to_html(index=False, classes="table", border=0, float_format=lambda v: f"{v:.4g}")
    return str(content)


def write_page(path: str | os.PathLike, title: str, meta: dict[str, Any], blocks: Iterable[tuple[str, Any]]) -> Path:
    """Render the page and write it atomically (temp file + rename). Returns the path."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True)
    first = [True]
    rendered = [(heading, jinja2.utils.markupsafe.Markup(_block_html(c, first))) for heading, c in blocks]
    text = env.get_template("page.html.j2").render(title=title, meta=meta, blocks=rendered)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def escape(s: str) -> str:
    return html.escape(s)

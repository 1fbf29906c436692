"""One page skeleton shared by every lrscan report (scan, sweep, merge-exp).

    write_page(path, title, meta, blocks, *, header=None) -> Path
        blocks: list of (heading, content); content is a list of contents, a plotly Figure (plotly.js is inlined once, before
        the first figure, so the page needs no network), a pandas DataFrame (a table) or an HTML string
        (trusted, produced by lrscan, e.g. by fragment()). header: optional trusted HTML under the title.
    fragment(macro, **kwargs) -> Markup    a macro of templates/fragments.html.j2, rendered (autoescaped)
"""
from __future__ import annotations

import html
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jinja2
from markupsafe import Markup

from lrscan.atomic import write_text

_TEMPLATES = Path(__file__).parent / "templates"
PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "toImageButtonOptions": {"format": "svg", "filename": "lrscan"}}


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)


def fragment(macro: str, **kwargs: Any) -> Markup:
    """Render one macro of fragments.html.j2 (small reusable pieces: scan header, caption)."""
    return Markup(getattr(_env().get_template("fragments.html.j2").module, macro)(**kwargs))


def _block_html(content: Any, first_figure: list[bool]) -> str:
    import pandas as pd
    import plotly.graph_objects as go

    if isinstance(content, (list, tuple)):
        return "\n".join(_block_html(c, first_figure) for c in content)
    if isinstance(content, go.Figure):
        include = first_figure[0]
        first_figure[0] = False
        return content.to_html(full_html=False, include_plotlyjs=include, config=PLOT_CONFIG)
    if isinstance(content, pd.DataFrame):
        content = content.copy()
        for col in content.columns:  # nullable integer columns print <NA>, which na_rep does not cover
            if isinstance(content[col].dtype, pd.api.extensions.ExtensionDtype) and content[col].isna().any():
                content[col] = content[col].astype(object).where(content[col].notna(), "—")
        return content.to_html(index=False, classes="table", border=0, na_rep="—",
                               float_format=lambda v: f"{v:.4g}")
    return str(content)


def write_page(path: str | os.PathLike, title: str, meta: dict[str, Any], blocks: Iterable[tuple[str, Any]],
               *, header: str | None = None) -> Path:
    """Render the page and write it atomically (temp file + rename). Returns the path."""
    first = [True]
    rendered = [(heading, Markup(_block_html(c, first))) for heading, c in blocks]
    text = _env().get_template("page.html.j2").render(
        title=title, meta=meta, blocks=rendered, header=Markup(header) if header else None)
    return write_text(path, text)


def escape(s: str) -> str:
    return html.escape(s)

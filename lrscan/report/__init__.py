"""HTML reports: plotly figures in one self-contained page (plotly.js inline, no network).

API CONTRACT (scan, sweep and merge-exp rely on it):
    lrscan.report.page.write_page(path, title, meta, blocks) -> Path
        blocks: list of (heading, content) where content is a plotly Figure, a pandas
        DataFrame (rendered as a table) or an HTML string (trusted, produced by lrscan).
    lrscan.report.render(frames, path, ...) -> Path      scan report for one or more models
    lrscan.report.render_scan_dirs(dirs, path, ...) -> Path
"""
from lrscan.report.page import write_page

__all__ = ["write_page", "render", "render_scan_dirs"]


def __getattr__(name):
    if name in ("render", "render_scan_dirs"):
        from lrscan.report import scan_report

        return getattr(scan_report, name)
    raise AttributeError(name)

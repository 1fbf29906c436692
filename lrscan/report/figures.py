"""plotly figures of a scan (the paper's Figures 1 and 4, and the norm-preservation panel).

    rank_norm_figure(frames, *, shared_y=False) -> go.Figure
        one row per model: left stable rank ||W||_F/||W||_2 per layer, right ||W||_F per layer,
        one trace per role per panel (2 x roles per model), the same colour and marker for a role everywhere.
    norm_ratio_figure(frames, *, shared_y=False) -> go.Figure | None
        one row per model that has QKV (or Q, K, V) and M1/M2/O rows (None if no model has):
        ||M1||_F/||QKV||_F, ||M2||_F/||QKV||_F, ||O||_F/||QKV||_F per layer, 1 marked.
    for_print(fig) -> go.Figure       a copy for static export: white background, no log/linear buttons.

`frames` is the ordered {label: scan frame} of lrscan.report.data.as_model_frames. Rows whose status is
not ok carry NaN metrics; they become gaps in the lines.
"""
from __future__ import annotations

import copy
from typing import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lrscan.report.data import role_sort_key
from lrscan.report.stats import RATIOS, norm_ratios

# Mid-luminance colours: at least 3:1 contrast on white and on the dark page (#161616) alike;
# a marker symbol per role as well, so roles stay apart without colour.
ROLE_STYLE: dict[str, tuple[str, str]] = {
    "Q": ("#3d8fd6", "circle"),
    "K": ("#e8890c", "square"),
    "V": ("#2ca02c", "diamond"),
    "O": ("#d62728", "cross"),
    "QKV": ("#9467bd", "x"),
    "M1": ("#17becf", "triangle-up"),
    "M1_gate": ("#bcbd22", "triangle-down"),
    "M2": ("#e377c2", "star"),
    "other": ("#8c8c8c", "circle-open"),
}
_FALLBACK = ("#7f7f7f", "hexagon")

SR_TITLE = "stable rank ‖W‖_F / ‖W‖₂"
FRO_TITLE = "Frobenius norm ‖W‖_F"
LAYER_TITLE = "layer (block index)"
RATIO_TITLE = "‖W‖_F / ‖QKV‖_F"

_ROW_PX = 260      # height of one row of panels
_RATIO_ROW_PX = 200
_GAP_PX = 95       # between rows: the x-axis title of one row and the panel titles of the next
_TOP_PX = 105      # legend and log/linear buttons
_BOTTOM_PX = 60

_HOVER = (
    "<b>%{customdata[0]}</b> · layer %{x}<br>"
    "shape %{customdata[1]} × %{customdata[2]}<br>"
    "stable rank ‖W‖_F/‖W‖₂ = %{customdata[5]:.8g}<br>"
    "stable rank / min(rows, cols) = %{customdata[6]:.4g} (bound √min = %{customdata[7]:.4g})<br>"
    "‖W‖_F = %{customdata[3]:.8g}<br>"
    "‖W‖₂ (spectral norm) = %{customdata[4]:.8g}<br>"
    "status %{customdata[8]} · %{customdata[9]}"
    "<extra>%{meta}</extra>"
)


def role_style(role: str) -> tuple[str, str]:
    return ROLE_STYLE.get(role, _FALLBACK)


def _grid(n_rows: int, row_px: int) -> tuple[float, int]:
    """(vertical_spacing as make_subplots wants it, figure height in px) for n rows of row_px each."""
    plot_px = n_rows * row_px + (n_rows - 1) * _GAP_PX
    return (_GAP_PX / plot_px if n_rows > 1 else 0.0), plot_px + _TOP_PX + _BOTTOM_PX


def _layer_dtick(frames: Mapping[str, pd.DataFrame]) -> int:
    span = max(int(f["layer"].max()) - int(f["layer"].min()) for f in frames.values())
    for step in (1, 2, 4, 8, 16):
        if span <= 16 * step:
            return step
    return 32


def _customdata(g: pd.DataFrame) -> np.ndarray:
    mins = np.minimum(g["rows"].to_numpy(), g["cols"].to_numpy()).astype("float64")
    sr = g["stable_rank"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mins > 0, sr / mins, np.nan)
    return np.column_stack([
        g["role"].to_numpy(dtype=object),
        g["rows"].to_numpy(),
        g["cols"].to_numpy(),
        g["frobenius"].to_numpy(dtype="float64"),
        g["spectral_norm"].to_numpy(dtype="float64"),
        sr,
        rel,
        np.sqrt(mins),
        g["status"].to_numpy(dtype=object),
        g["tensors"].to_numpy(dtype=object),
    ]).astype(object)


def _log_toggle(fig: go.Figure, n_axes: int) -> None:
    plot_px = fig.layout.height - _TOP_PX - _BOTTOM_PX  # updatemenus sit in paper coordinates: top of the margin
    names = ["yaxis"] + [f"yaxis{i}" for i in range(2, n_axes + 1)]

    def args(kind: str) -> list:
        return [{f"{n}.type": kind for n in names} | {f"{n}.autorange": True for n in names}]

    fig.update_layout(updatemenus=[dict(
        type="buttons", direction="right", x=1.0, xanchor="right", y=1.0 + (_TOP_PX - 36) / plot_px, yanchor="top",
        pad=dict(r=4), showactive=True, active=0,
        buttons=[dict(label="linear y", method="relayout", args=args("linear")),
                 dict(label="log y", method="relayout", args=args("log"))],
    )])


def _base_layout(fig: go.Figure, height: int, dtick: int) -> None:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin=dict(l=70, r=20, t=_TOP_PX, b=_BOTTOM_PX),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend=dict(orientation="h", x=0, xanchor="left", y=1.0, yanchor="top", yref="container",
                    title=dict(text="role (click to hide/show): "), bgcolor="rgba(0,0,0,0)",
                    groupclick="togglegroup"),
        hovermode="closest",
        font=dict(size=13),
    )
    fig.update_xaxes(showline=True, mirror=True, ticks="outside", zeroline=False, dtick=dtick)
    fig.update_yaxes(showline=True, mirror=True, ticks="outside", zeroline=False)
    # subplot titles: left-aligned and a bit bolder than axis text
    for ann in fig.layout.annotations:
        ann.font = dict(size=14)


def rank_norm_figure(frames: Mapping[str, pd.DataFrame], *, shared_y: bool = False) -> go.Figure:
    labels = list(frames)
    n = len(labels)
    titles = [t for label in labels for t in (f"{label}: stable rank", f"{label}: Frobenius norm")]
    spacing, height = _grid(n, _ROW_PX)
    fig = make_subplots(rows=n, cols=2, subplot_titles=titles, horizontal_spacing=0.08,
                        vertical_spacing=spacing)
    seen: set[str] = set()
    for r, label in enumerate(labels, start=1):
        f = frames[label]
        for role in sorted(pd.unique(f["role"]), key=role_sort_key):
            g = f[f["role"] == role].sort_values("layer", kind="stable")
            color, symbol = role_style(role)
            # generic scans may hold several matrices per (layer, role): markers only, no misleading line
            mode = "lines+markers" if not g["layer"].duplicated().any() else "markers"
            cd = _customdata(g)
            for c, (col, ytitle) in enumerate((("stable_rank", SR_TITLE), ("frobenius", FRO_TITLE)), start=1):
                fig.add_trace(go.Scatter(
                    x=g["layer"].to_numpy(), y=g[col].to_numpy(dtype="float64"),
                    name=role, legendgroup=role, showlegend=role not in seen,
                    legendrank=100 + role_sort_key(role)[0],
                    mode=mode, connectgaps=False,
                    line=dict(color=color, width=2), marker=dict(color=color, symbol=symbol, size=7),
                    customdata=cd, hovertemplate=_HOVER, meta=label,
                ), row=r, col=c)
                seen.add(role)
        fig.update_yaxes(title_text=SR_TITLE, row=r, col=1)
        fig.update_yaxes(title_text=FRO_TITLE, row=r, col=2)
        fig.update_xaxes(title_text=LAYER_TITLE, row=r, col=1)
        fig.update_xaxes(title_text=LAYER_TITLE, row=r, col=2)
    if shared_y and n > 1:
        for r in range(2, n + 1):
            fig.update_yaxes(matches="y", row=r, col=1)
            fig.update_yaxes(matches="y2", row=r, col=2)
    _base_layout(fig, height, _layer_dtick(frames))
    _log_toggle(fig, 2 * n)
    return fig


def ratio_models(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """label -> norm_ratios table, for the models whose scan has QKV (or Q, K, V) and M1, M2 or O rows."""
    out = {label: norm_ratios(f) for label, f in frames.items()}
    return {label: r for label, r in out.items() if not r.empty}


def norm_ratio_figure(frames: Mapping[str, pd.DataFrame], *, shared_y: bool = False) -> go.Figure | None:
    """None when no model has the rows for a ratio (generic scans)."""
    models = ratio_models(frames)
    if not models:
        return None
    labels = list(models)
    n = len(labels)
    spacing, height = _grid(n, _RATIO_ROW_PX)
    fig = make_subplots(rows=n, cols=1, vertical_spacing=spacing,
                        subplot_titles=[f"{label}: norm preservation (Lemma 3)" for label in labels])
    seen: set[str] = set()
    for r, label in enumerate(labels, start=1):
        ratios = models[label]
        for ratio_label, role in RATIOS:
            g = ratios[ratios["ratio"] == ratio_label]
            if g.empty:
                continue
            color, symbol = role_style(role)
            fig.add_trace(go.Scatter(
                x=g["layer"].to_numpy(), y=g["value"].to_numpy(dtype="float64"),
                name=ratio_label, legendgroup=ratio_label, showlegend=ratio_label not in seen,
                mode="lines+markers", connectgaps=False,
                line=dict(color=color, width=2), marker=dict(color=color, symbol=symbol, size=7),
                hovertemplate=f"<b>{ratio_label}</b> · layer %{{x}}<br>= %{{y:.6g}}<extra>{label}</extra>",
            ), row=r, col=1)
            seen.add(ratio_label)
        fig.add_hline(y=1, line=dict(color="#888", dash="dash", width=1.5), row=r, col=1,
                      annotation_text="1: equal norms", annotation_position="top left")
        fig.update_yaxes(title_text=RATIO_TITLE, row=r, col=1)
        fig.update_xaxes(title_text=LAYER_TITLE, row=r, col=1)
    if shared_y and n > 1:
        for r in range(2, n + 1):
            fig.update_yaxes(matches="y", row=r, col=1)
    _base_layout(fig, height, _layer_dtick(frames))
    fig.update_layout(legend_title_text="ratio (click to hide/show): ")
    _log_toggle(fig, n)
    return fig


def for_print(fig: go.Figure) -> go.Figure:
    """A copy for papers: opaque white background, black text, no buttons."""
    out = go.Figure(copy.deepcopy(fig.to_dict()))
    out.layout.updatemenus = ()
    title = str(out.layout.legend.title.text or "").split(" (click")[0]
    top = _TOP_PX - 40  # no buttons: the legend alone needs the top margin
    out.update_layout(paper_bgcolor="white", plot_bgcolor="white", font=dict(color="black"),
                      legend_title_text=title + ": " if title else None, margin_t=top,
                      height=int(out.layout.height) - (_TOP_PX - top))
    return out


def figure_size(fig: go.Figure) -> tuple[int, int]:
    """(width, height) in CSS pixels for a static image of the figure."""
    return 1100, int(fig.layout.height or 500)


__all__ = ["rank_norm_figure", "norm_ratio_figure", "for_print", "figure_size", "ROLE_STYLE",
           "SR_TITLE", "FRO_TITLE", "LAYER_TITLE", "RATIO_TITLE"]

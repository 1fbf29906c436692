"""The scan report page: Figure 4's rows for one or more models, norm preservation, summary tables.

    render(frames, path, *, manifests=None, shared_y=False, title=None) -> Path
        frames: a scan DataFrame, a list of them, or a dict label -> frame (README's scan.csv columns);
        manifests: list (same order) or dict label -> manifest.json contents.
    render_scan_dirs(dirs, path, *, shared_y=False) -> Path      reads each dir's scan table + manifest
    load_scan_dirs(dirs) -> (frames, manifests)                   ordered dicts keyed by model label
    build(frames, *, manifests=None, shared_y=False) -> ScanReport   figures and tables, no file written
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from lrscan._version import __version__
from lrscan.report import figures, stats
from lrscan.report.data import as_model_frames, read_scan_dir
from lrscan.report.page import fragment, write_page

RANK_CAPTION = (
    "One row per model, as in the paper's Figures 1 and 4. Left: stable rank ‖W‖_F/‖W‖₂ of each weight matrix "
    "(between 1 and √rank), per layer; right: its Frobenius norm ‖W‖_F. QKV is [Q; K; V] stacked; M1 and M2 are "
    "the MLP's first and second matrices. Hover a point for its shape, exact values and spectral norm; click a "
    "role in the legend to hide or show it everywhere; the buttons switch the y axes between linear and log."
)
RATIO_CAPTION = (
    "Lemma 3 (norm preservation): at a stationary point of a homogeneous network with weight decay, every layer's "
    "weight matrix has the same Frobenius norm. For a transformer the paper treats QKV as one layer's weight "
    "(Section 6.1), so a ratio near the dashed line at 1 means the norm is preserved."
)
SUMMARY_CAPTION = (
    "Stable rank over the layers of each role (finite values only). The harmonic mean n/Σ(1/sr) is the inverse of "
    "Lemma 4's average inverse stable rank (1/K)Σ‖W‖₂/‖W‖_F: small when most matrices have a low stable rank."
)


@dataclass
class ScanReport:
    frames: dict[str, pd.DataFrame]
    manifests: dict[str, dict[str, Any]]
    rank_figure: go.Figure
    ratio_figure: go.Figure | None  # None when no model has QKV and M1/M2/O rows (generic scans)
    summary: pd.DataFrame
    facts: pd.DataFrame
    ratio_labels: list[str] = field(default_factory=list)        # models drawn in ratio_figure
    figures: dict[str, go.Figure] = field(default_factory=dict)  # name -> figure, for static export


def _align_manifests(labels: list[str], manifests) -> dict[str, dict[str, Any]]:
    if manifests is None:
        return {}
    if isinstance(manifests, Mapping):
        return {str(k): dict(v or {}) for k, v in manifests.items()}
    manifests = [dict(m or {}) for m in manifests]
    if len(manifests) == len(labels):
        return dict(zip(labels, manifests))
    by_model = {str(m.get("model")): m for m in manifests}
    return {label: by_model.get(label, {}) for label in labels}


def build(frames, *, manifests=None, shared_y: bool = False) -> ScanReport:
    model_frames = as_model_frames(frames)
    labels = list(model_frames)
    mans = _align_manifests(labels, manifests)
    rank = figures.rank_norm_figure(model_frames, shared_y=shared_y)
    ratio = figures.norm_ratio_figure(model_frames, shared_y=shared_y)
    return ScanReport(
        frames=model_frames, manifests=mans, rank_figure=rank, ratio_figure=ratio,
        summary=stats.role_summary(model_frames), facts=stats.model_facts(labels, mans),
        ratio_labels=list(figures.ratio_models(model_frames)),
        figures={"ranks": rank} | ({"norm-ratios": ratio} if ratio is not None else {}),
    )


def _fmt_seconds(s: Any) -> str:
    try:
        s = float(s)
    except (TypeError, ValueError):
        return "—"
    if s != s:
        return "—"
    if s < 120:
        return f"{s:.3g} s"
    m, sec = divmod(round(s), 60)
    h, m = divmod(m, 60)
    return (f"{h} h " if h else "") + f"{m} min {sec} s"


def _fmt_date(value: Any) -> str:
    if not value:
        return "—"
    try:
        t = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc)
        return t.strftime("%Y-%m-%d %H:%M UTC")
    return t.strftime("%Y-%m-%d %H:%M")


def _first(values: pd.Series) -> str:
    vals = [v for v in pd.unique(values) if v]
    return ", ".join(str(v) for v in vals) if vals else "—"


def _scan_header(label: str, frame: pd.DataFrame, m: Mapping[str, Any]) -> dict[str, Any]:
    facts = [
        ("model", m.get("model") or _first(frame["model"])),
        ("revision", m.get("revision") or _first(frame["revision"])),
        ("lrscan version", m.get("lrscan_version") or "—"),
        ("scan date", _fmt_date(m.get("finished_at") or m.get("started_at"))),
        ("device", m.get("device") or _first(frame["device"])),
        ("precision", m.get("precision") or "—"),
        ("method", m.get("method") or _first(frame["method"])),
        ("total time", _fmt_seconds(m.get("total_seconds", frame["seconds"].sum(min_count=1)))),
        ("matrices", f"{len(frame)}"),
    ]
    not_ok = frame[frame["status"] != "ok"]
    return {
        "label": label,
        "facts": facts,
        "complete": bool(m.get("complete", True)) if m else True,
        "skipped": [{"tensor": str(s.get("tensor", "")), "reason": str(s.get("reason", ""))}
                    for s in (m.get("skipped") or []) if isinstance(s, Mapping)],
        "not_ok": not_ok[["layer", "role", "status", "note", "tensors"]].to_dict("records"),
    }


def write_report(report: ScanReport, path: str | os.PathLike, *, title: str | None = None) -> Path:
    labels = list(report.frames)
    if title is None:
        title = f"lrscan: {labels[0]}" if len(labels) == 1 else f"lrscan: {len(labels)} models"
    header = fragment("scan_headers", scans=[
        _scan_header(label, report.frames[label], report.manifests.get(label, {})) for label in labels])
    meta = {"report written": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "by lrscan": __version__}
    ratio_caption = RATIO_CAPTION
    missing = [label for label in labels if label not in report.ratio_labels]
    if missing:
        ratio_caption += (" Not shown (no QKV, or Q, K, V, with M1, M2 or O rows in the scan): "
                          + ", ".join(missing) + ".")
    ratio_block = [fragment("caption", text=ratio_caption)]
    if report.ratio_figure is not None:
        ratio_block.append(report.ratio_figure)
    blocks = [
        ("Stable rank and Frobenius norm per layer", [fragment("caption", text=RANK_CAPTION), report.rank_figure]),
        ("Norm preservation: ‖W‖_F relative to ‖QKV‖_F", ratio_block),
        ("Stable rank by role", [fragment("caption", text=SUMMARY_CAPTION), report.summary]),
        ("Model facts (the paper's Table 1)", report.facts),
    ]
    return write_page(path, title, meta, blocks, header=header)


def render(frames, path: str | os.PathLike, *, manifests=None, shared_y: bool = False,
           title: str | None = None) -> Path:
    """Write the scan report of one or more models to `path` (one self-contained HTML file)."""
    return write_report(build(frames, manifests=manifests, shared_y=shared_y), path, title=title)


def load_scan_dirs(dirs: Sequence[str | os.PathLike]) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    frames: dict[str, pd.DataFrame] = {}
    manifests: dict[str, dict] = {}
    for d in dirs:
        frame, manifest = read_scan_dir(d)
        for model, f in as_model_frames(frame).items():
            label = model
            if label in frames:  # same model scanned twice (another revision, device...): tell them apart
                label = f"{model} ({Path(d).name})"
            frames[label] = f
            manifests[label] = manifest
    return frames, manifests


def render_scan_dirs(dirs: Sequence[str | os.PathLike], path: str | os.PathLike, *, shared_y: bool = False) -> Path:
    """Report of scan output folders (each with scan.csv or scan.parquet, and manifest.json)."""
    frames, manifests = load_scan_dirs(dirs)
    return render(frames, path, manifests=manifests, shared_y=shared_y)

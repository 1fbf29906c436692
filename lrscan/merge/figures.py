"""Plotly figures of merge-exp runs, laid out like the paper's Figures 2, 3 and 5: mean ± sd bands
over seeds, with the theory's quantities drawn beside the measurements."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


def _rgba(hex_color: str, a: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{a})"


LOG_BAND_FLOOR = 1e-2  # on a log axis a band edge at mean - sd <= 0 is drawn down to this fraction of the mean


def band(fig, x, mean, sd, name, color, *, row=None, col=None, dash=None, showlegend=True, group=None, log_y=False):
    """A mean line with a ±sd band (sd NaN with one seed: no band). With log_y, a lower edge that would be
    <= 0 (sd > mean, e.g. one seed's poor merge) is clipped to LOG_BAND_FLOOR x mean instead of leaving the plot."""
    x, mean, sd = np.asarray(x, float), np.asarray(mean, float), np.nan_to_num(np.asarray(sd, float))
    kw = {} if row is None else {"row": row, "col": col}
    group = group or name
    lower = mean - sd
    if log_y:
        lower = np.where(lower > 0, lower, LOG_BAND_FLOOR * mean)
    fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([mean + sd, lower[::-1]]),
                             fill="toself", fillcolor=_rgba(color, 0.18), line={"width": 0}, hoverinfo="skip",
                             showlegend=False, legendgroup=group), **kw)
    fig.add_trace(go.Scatter(x=x, y=mean, name=name, mode="lines", line={"color": color, "dash": dash},
                             showlegend=showlegend, legendgroup=group), **kw)


def _stats(df: pd.DataFrame, value: str, by=("step",)) -> pd.DataFrame:
    g = df.groupby(list(by))[value]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1)}).reset_index()


def _series(df, value, **where):
    sel = df
    for k, v in where.items():
        sel = sel[sel[k] == v]
    sel = sel[sel.step > 0]
    return _stats(sel, value)


def _own(df):
    return df[((df.model == "A") & (df.task == 1)) | ((df.model == "B") & (df.task == 2))]


def merge_curves(df: pd.DataFrame, lam: float, title: str) -> go.Figure:
    """Fig 3 / Fig 5 first row: training loss over steps of the individual models on their own
    task and of the merged (sum) model on each task, one panel per condition."""
    d = df[df.weight_decay == lam]
    conds = list(dict.fromkeys(d.condition))
    fig = make_subplots(rows=1, cols=len(conds), subplot_titles=conds, shared_yaxes=True)
    for i, cond in enumerate(conds, start=1):
        c = d[d.condition == cond]
        own = _own(c[c.step > 0]).groupby(["seed", "step"])["loss"].mean().reset_index()
        s = _stats(own, "loss")
        band(fig, s.step, s["mean"], s.sd, "individual (own task)", PALETTE[0], row=1, col=i, showlegend=i == 1, log_y=True)
        for j, task in enumerate((1, 2)):
            s = _series(c, "loss", model="merged", task=task)
            band(fig, s.step, s["mean"], s.sd, f"merged (sum) on task {task}", PALETTE[1 + j], row=1, col=i, showlegend=i == 1, log_y=True)
        avg = c[(c.model == "averaged") & (c.step > 0)].groupby(["seed", "step"])["loss"].mean().reset_index()
        s = _stats(avg, "loss")
        band(fig, s.step, s["mean"], s.sd, "averaged, both tasks", PALETTE[3], row=1, col=i, dash="dot", showlegend=i == 1, log_y=True)
    fig.update_xaxes(type="log", title_text="step")
    fig.update_yaxes(type="log", title_text="training loss", col=1)
    fig.update_layout(title=title, height=420)
    return fig


def lambda_gap(df: pd.DataFrame, title: str, condition: str = "different") -> go.Figure:
    """Fig 3 second row (left): merged-minus-individual loss over steps for every weight decay, and
    the final gap against weight decay."""
    d = df[df.condition == condition]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("gap over training", "final gap vs weight decay"),
                        column_widths=[0.6, 0.4])
    finals = []
    for i, (lam, c) in enumerate(sorted(d.groupby("weight_decay"), key=lambda t: t[0])):
        c = c[c.step > 0]
        own = _own(c).groupby(["seed", "step"])["loss"].mean()
        merged = c[c.model == "merged"].groupby(["seed", "step"])["loss"].mean()
        gap = (merged - own).rename("gap").reset_index()
        s = _stats(gap, "gap")
        band(fig, s.step, s["mean"], s.sd, f"λ = {lam:g}", PALETTE[i % len(PALETTE)], row=1, col=1)
        last = gap[gap.step == gap.step.max()]["gap"]
        finals.append((lam, last.mean(), last.std(ddof=1)))
    if finals:
        lams = [f"{x[0]:g}" for x in finals]
        fig.add_trace(go.Scatter(x=lams, y=[x[1] for x in finals], error_y={"type": "data", "array": [np.nan_to_num(x[2]) for x in finals]},
                                 mode="markers+lines", name="final gap", line={"color": "black"}), row=1, col=2)
    fig.update_xaxes(type="log", title_text="step", row=1, col=1)
    fig.update_xaxes(type="category", title_text="weight decay λ", row=1, col=2)
    fig.update_yaxes(title_text="merged loss − individual loss", row=1, col=1)
    fig.update_layout(title=title, height=420)
    return fig


def stable_ranks(df: pd.DataFrame, lam: float, condition: str, shapes: list[str], title: str) -> go.Figure:
    """Fig 3 second row (right): stable rank of each layer over training, individual vs merged."""
    d = df[(df.condition == condition) & (df.weight_decay == lam) & (df.task == 1)]
    K = len(shapes)
    fig = make_subplots(rows=1, cols=K, subplot_titles=[f"W{k + 1} ({shapes[k]})" for k in range(K)])
    for k in range(K):
        for j, model in enumerate(("A", "B", "merged")):
            s = _series(d, f"sr_{k + 1}", model=model)
            band(fig, s.step, s["mean"], s.sd, model, PALETTE[j], row=1, col=k + 1, showlegend=k == 0)
    fig.update_xaxes(type="log", title_text="step")
    fig.update_yaxes(rangemode="tozero")  # a 1×n layer's stable rank is 1 exactly: no axis zoomed onto rounding noise
    fig.update_yaxes(title_text="stable rank ‖W‖_F/‖W‖₂", col=1)
    fig.update_layout(title=title, height=380)
    return fig


def lemma3(df: pd.DataFrame, lam: float, condition: str, K: int, title: str) -> go.Figure:
    """Lemma 3: lambda ||W_k||_F^2 for every layer against -(1/n) sum l'(y f) y f, model A on task 1."""
    d = df[(df.condition == condition) & (df.weight_decay == lam) & (df.model == "A") & (df.task == 1) & (df.step > 0)]
    fig = go.Figure()
    for k in range(K):
        v = d.assign(v=lam * d[f"fro_{k + 1}"] ** 2)
        s = _stats(v, "v")
        band(fig, s.step, s["mean"], s.sd, f"λ‖W{k + 1}‖²_F", PALETTE[k], log_y=True)
    s = _stats(d, "lemma3_rhs")
    band(fig, s.step, s["mean"], s.sd, "−(1/n)Σ ℓ′(yf) yf  (Lemma 3: all equal at stationarity)", "#000000", dash="dash", log_y=True)
    fig.update_xaxes(type="log", title_text="step")
    fig.update_yaxes(type="log")
    fig.update_layout(title=title, height=380)
    return fig


def lemma5(df: pd.DataFrame, title: str) -> go.Figure:
    """Lemma 5 / Corollary 1: ||W_1 x'|| of model A on task 2's inputs against the bound."""
    d = df[(df.model == "A") & (df.task == 2) & (df.step > 0)]
    groups = list(d.groupby(["condition", "weight_decay"]))
    fig = go.Figure()
    for i, ((cond, lam), c) in enumerate(groups):
        color = PALETTE[i % len(PALETTE)]
        s = _stats(c, "cross_norm")
        band(fig, s.step, s["mean"], s.sd, f"{cond}, λ={lam:g}: measured", color, group=f"{cond}{lam}", log_y=True)
        s = _stats(c, "cross_bound")
        band(fig, s.step, s["mean"], s.sd, f"{cond}, λ={lam:g}: bound", color, dash="dash", group=f"{cond}{lam}", log_y=True)
    fig.update_xaxes(type="log", title_text="step")
    fig.update_yaxes(type="log", title_text="mean ‖W₁ x′‖ over the other task's inputs")
    fig.update_layout(title=title, height=420)
    return fig


def angles(df: pd.DataFrame, lam: float, title: str) -> go.Figure:
    d = df[(df.weight_decay == lam) & (df.model == "A") & (df.task == 1) & (df.step > 0)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("largest cosine (smallest principal angle)", "mean cos²"))
    for i, (cond, c) in enumerate(d.groupby("condition")):
        for j, col in enumerate(("pa_cos_max", "pa_cos2_mean")):
            s = _stats(c, col)
            band(fig, s.step, s["mean"], s.sd, cond, PALETTE[i % len(PALETTE)], row=1, col=j + 1, showlegend=j == 0)
    fig.update_xaxes(type="log", title_text="step")
    fig.update_layout(title=title, height=380)
    return fig


def fig2(df: pd.DataFrame, title: str) -> go.Figure:
    """Fig 2: average inverse stable rank (with Lemma 4's bound), class error, margin error and
    loss of the final network against weight decay; one row per labelling function."""
    from lrscan.merge.summary import final

    f = final(df)
    conds = list(dict.fromkeys(f.condition))
    panels = ["avg inverse stable rank", "class error", "margin error (y f < 1)", "average loss"]
    fig = make_subplots(rows=len(conds), cols=4, subplot_titles=[f"{c}: {p}" for c in conds for p in panels])
    for r, cond in enumerate(conds, start=1):
        c = f[f.condition == cond]
        x = sorted(c.weight_decay.unique())
        xs = [f"{v:g}" for v in x]
        for j, col in enumerate(("inv_sr_avg", "class_error", "margin_error", "loss")):
            s = c.groupby("weight_decay")[col].agg(["mean", "std"]).reindex(x)
            fig.add_trace(go.Scatter(x=xs, y=s["mean"], error_y={"type": "data", "array": np.nan_to_num(s["std"].to_numpy())},
                                     mode="lines+markers", line={"color": PALETTE[j]}, name=col, showlegend=r == 1), row=r, col=j + 1)
        for b, dash in (("lemma4_bound3", "dash"), ("lemma4_bound2", "dot")):
            s = c.groupby("weight_decay")[b].mean().reindex(x)
            fig.add_trace(go.Scatter(x=xs, y=s, mode="lines", line={"color": "black", "dash": dash},
                                     name=f"Lemma 4 bound ({b[-1]})", showlegend=r == 1), row=r, col=1)
    fig.update_xaxes(type="category", title_text="λ")
    fig.update_layout(title=title, height=360 * len(conds))
    return fig

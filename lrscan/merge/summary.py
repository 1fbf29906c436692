"""Final-step statistics of a run, the paper's claims checked against them, and the one-screen
text summary. Every verdict prints the numbers and the threshold it used."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

LOG2 = math.log(2.0)


def final(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the last logged step of every (condition, weight decay, seed)."""
    if df.empty:
        return df
    last = df.groupby(["condition", "weight_decay", "seed"])["step"].transform("max")
    return df[df["step"] == last]


def merge_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (condition, weight decay): mean and sd over seeds of the final training loss of the
    individual models on their own task, the merged (sum) and averaged models on each task."""
    f = final(df)
    if f.empty or "cross_norm" not in f.columns:
        return pd.DataFrame()
    own = f[((f.model == "A") & (f.task == 1)) | ((f.model == "B") & (f.task == 2))]
    per_seed = own.groupby(["condition", "weight_decay", "seed"]).agg(individual=("loss", "mean"),
                                                                        individual_err=("class_error", "mean"))
    for model in ("merged", "averaged"):
        for task in (1, 2):
            s = f[(f.model == model) & (f.task == task)].set_index(["condition", "weight_decay", "seed"])
            per_seed[f"{model}_t{task}"] = s["loss"]
            if model == "merged":
                per_seed[f"merged_err_t{task}"] = s["class_error"]
    per_seed["gap"] = (per_seed["merged_t1"] + per_seed["merged_t2"]) / 2 - per_seed["individual"]
    g = per_seed.groupby(level=["condition", "weight_decay"])
    out = g.mean().add_suffix("_mean").join(g.std(ddof=1).add_suffix("_sd")).join(g.size().rename("seeds"))
    cols = [c for base in ("individual", "merged_t1", "merged_t2", "averaged_t1", "averaged_t2", "gap",
                           "individual_err", "merged_err_t1", "merged_err_t2") for c in (f"{base}_mean", f"{base}_sd")]
    return out[cols + ["seeds"]].reset_index()


def rank_table(df: pd.DataFrame, widths: tuple[int, ...], d: int) -> pd.DataFrame:
    """Final stable rank of every layer (mean over seeds) next to the matrix's rank bound."""
    f = final(df)
    if f.empty:
        return pd.DataFrame()
    dims = [d, *widths, 1]
    rows = []
    K = len(dims) - 1
    for (cond, lam, model), g in f[f.task == 1].groupby(["condition", "weight_decay", "model"]):
        for k in range(K):
            col = f"sr_{k + 1}"
            rows.append({"condition": cond, "weight_decay": lam, "model": model, "layer": k + 1,
                         "shape": f"{dims[k + 1]}x{dims[k]}", "max_rank": min(dims[k], dims[k + 1]),
                         "stable_rank_mean": g[col].mean(), "stable_rank_sd": g[col].std(ddof=1),
                         "stable_rank_sq_mean": (g[col] ** 2).mean()})
    return pd.DataFrame(rows)


def claims(df: pd.DataFrame, widths: tuple[int, ...], d: int, lam_ref: float | None = None) -> list[dict]:
    """The paper's four merging hypotheses (Section 6.2), checked on this run's final step.
    Conditions are compared at weight decay lam_ref (the run's --weight-decay)."""
    out = []
    mt = merge_table(df)
    if mt.empty:
        return out
    # the weight decay the condition comparison is made at: the most common one per condition
    def at(cond):
        rows = mt[mt.condition == cond]
        if rows.empty:
            return None
        if lam_ref is not None and (rows.weight_decay == lam_ref).any():
            return rows[rows.weight_decay == lam_ref].iloc[0]
        counts = df[df.condition == cond].groupby("weight_decay").size()
        return rows[rows.weight_decay == counts.idxmax()].iloc[0]

    diff, same = at("different"), at("same-inputs")
    if diff is not None:
        gap = diff["gap_mean"]
        ok = gap < 0.1 * LOG2
        out.append({"claim": f"different tasks: merged loss close to the individual models' (λ={diff['weight_decay']:g})",
                    "holds": bool(ok),
                    "numbers": f"individual {diff['individual_mean']:.4f}±{diff['individual_sd']:.4f}, merged on task 1 "
                               f"{diff['merged_t1_mean']:.4f}±{diff['merged_t1_sd']:.4f}, task 2 {diff['merged_t2_mean']:.4f}±"
                               f"{diff['merged_t2_sd']:.4f}; gap {gap:.4f} (threshold 0.1·ln2 = {0.1 * LOG2:.4f})"})
    if same is not None:
        gap = same["gap_mean"]
        ok = gap > 0.25 * LOG2 and (diff is None or gap > 5 * max(diff["gap_mean"], 1e-12))
        out.append({"claim": "same inputs, different labels: merged model clearly worse",
                    "holds": bool(ok),
                    "numbers": f"individual {same['individual_mean']:.4f}±{same['individual_sd']:.4f}, merged on task 1 "
                               f"{same['merged_t1_mean']:.4f}±{same['merged_t1_sd']:.4f}, task 2 {same['merged_t2_mean']:.4f}±"
                               f"{same['merged_t2_sd']:.4f}; gap {gap:.4f} (threshold > 0.25·ln2 = {0.25 * LOG2:.4f}"
                               + ("" if diff is None else f" and > 5 × the different gap {diff['gap_mean']:.4f}") + ")"})
    sweep = mt[mt.condition == "different"].sort_values("weight_decay")
    if len(sweep) >= 3:
        gaps = sweep["gap_mean"].to_numpy()
        lams = sweep["weight_decay"].to_numpy()
        decreasing = bool(np.all(np.diff(gaps) <= 0.02 * LOG2) and gaps[-1] < 0.5 * gaps[0])
        out.append({"claim": "weight decay enables merging: the different-task gap shrinks as lambda grows",
                    "holds": decreasing,
                    "numbers": ", ".join(f"λ={lam:g}: {g:.4f}±{s:.4f}" for lam, g, s in zip(lams, gaps, sweep["gap_sd"]))
                               + " (threshold: non-increasing within 0.02·ln2 and last < half the first)"})
    rt = rank_table(df, widths, d)
    if not rt.empty:
        rt = rt[(rt.model.isin(["A", "B"])) & (rt.max_rank > 1) & (rt.weight_decay > 0)]
        worst = rt.assign(ratio=rt.stable_rank_sq_mean / rt.max_rank).sort_values("ratio").iloc[-1]
        ok = bool(worst["ratio"] < 0.1)
        out.append({"claim": "weight decay gives low stable rank (far below the matrix rank)",
                    "holds": ok,
                    "numbers": f"largest (stable rank)² / rank: layer {int(worst['layer'])} ({worst['shape']}) in "
                               f"{worst['condition']} at λ={worst['weight_decay']:g}: {worst['stable_rank_sq_mean']:.2f} / "
                               f"{int(worst['max_rank'])} (threshold < 0.1 × rank)"})
    return out


def fig2_table(df: pd.DataFrame) -> pd.DataFrame:
    f = final(df)
    if f.empty:
        return f
    g = f.groupby(["condition", "weight_decay"])
    cols = ["inv_sr_avg", "class_error", "margin_error", "loss", "lemma4_bound2", "lemma4_bound3"]
    return g[cols].mean().add_suffix("_mean").join(g[cols[:4]].std(ddof=1).add_suffix("_sd")).reset_index()


def fig2_claims(df: pd.DataFrame) -> list[dict]:
    t = fig2_table(df)
    out = []
    for cond, g in t.groupby("condition"):
        g = g.sort_values("weight_decay")
        inv = g["inv_sr_avg_mean"].to_numpy()
        # collapsed: weight decay drove the net to f = 0 (loss ln 2, every margin < 1); its stable
        # ranks are those of a vanishing, decayed initialisation, not of a trained solution
        collapsed = (g["loss_mean"].to_numpy() > 0.99 * LOG2) & (g["margin_error_mean"].to_numpy() > 0.999)
        ok_inv = np.isfinite(inv) & ~collapsed
        from scipy.stats import spearmanr

        rho = spearmanr(g["weight_decay"].to_numpy()[ok_inv], inv[ok_inv]).statistic if ok_inv.sum() >= 3 else float("nan")
        out.append({"claim": f"{cond}: average inverse stable rank grows with lambda (trained, non-collapsed nets)",
                    "holds": bool(rho > 0.8),
                    "numbers": ", ".join(f"λ={lam:g}: {v:.3f}" + (" (collapsed)" if c else "")
                                         for lam, v, c in zip(g["weight_decay"], inv, collapsed))
                               + f" (Spearman ρ over the {int(ok_inv.sum())} non-collapsed λ = {rho:.2f}, threshold > 0.8)"})
        if collapsed.any():
            out.append({"claim": f"{cond}: the net stays trained at every λ of the grid",
                        "holds": False,
                        "numbers": "collapsed to f ≈ 0 (loss ≈ ln 2, all margins < 1) at λ = "
                                   + ", ".join(f"{lam:g}" for lam in g["weight_decay"].to_numpy()[collapsed])
                                   + "; there the measured stable ranks are those of vanishing matrices (the paper does not give its λ grid)"})
        b3 = g["lemma4_bound3_mean"].to_numpy()
        viol = [(lam, v, b) for lam, v, b in zip(g["weight_decay"], inv, b3) if np.isfinite(v) and v < b]
        out.append({"claim": f"{cond}: Lemma 4 bound (3) below the measured average inverse stable rank",
                    "holds": not viol,
                    "numbers": "holds at every λ" if not viol else
                               "violated at " + ", ".join(f"λ={lam:g} (measured {v:.3f} < bound {b:.3f})" for lam, v, b in viol)})
    return out


def summary_text(df: pd.DataFrame, cfg, *, complete: bool, diverged: dict | None, d_in: int | None = None) -> str:
    d = d_in or cfg.d
    lines = [f"lrscan merge-exp {cfg.experiment} (preset {cfg.preset}): {cfg.seeds} seeds, widths {','.join(map(str, cfg.widths))}, "
             f"lr {cfg.lr:g}, weight decay {cfg.weight_decay:g}, {cfg.steps} {'epochs' if cfg.experiment == 'fig2' else 'steps'}"]
    if diverged:
        lines.append(f"DIVERGED at step {diverged['step']} (last finite loss at step {diverged['last_finite_step']}: "
                     + ", ".join(f"{v:.4g}" for v in diverged["last_finite_loss"][:4]) + "); curves up to then kept")
    elif not complete:
        lines.append("INCOMPLETE run (rerun with --resume)")
    if df.empty:
        return "\n".join(lines + ["no rows logged"]) + "\n"
    if cfg.experiment == "fig2":
        t = fig2_table(df)
        lines.append("final (mean over seeds): cond, λ, avg inverse stable rank, class err, margin err, loss, Lemma 4 bound (3)")
        for _, r in t.iterrows():
            lines.append(f"  {r.condition:9s} λ={r.weight_decay:<7g} inv_sr {r.inv_sr_avg_mean:.3f}  class {r.class_error_mean:.3f}  "
                         f"margin {r.margin_error_mean:.3f}  loss {r.loss_mean:.3f}  bound {r.lemma4_bound3_mean:.3f}")
        cl = fig2_claims(df)
    else:
        mt = merge_table(df)
        lines.append("final training loss, mean±sd over seeds: individual (own task) | merged(sum) task1, task2 | averaged task1, task2")
        for _, r in mt.iterrows():
            lines.append(f"  {r.condition:12s} λ={r.weight_decay:<7g} {r.individual_mean:.4f}±{r.individual_sd:.4f} | "
                         f"{r.merged_t1_mean:.4f}±{r.merged_t1_sd:.4f}, {r.merged_t2_mean:.4f}±{r.merged_t2_sd:.4f} | "
                         f"{r.averaged_t1_mean:.4f}, {r.averaged_t2_mean:.4f}")
        rt = rank_table(df, cfg.widths, d)
        if not rt.empty:
            sub = rt[rt.model == "A"].groupby("layer").agg(sr=("stable_rank_mean", "mean"), shape=("shape", "first"),
                                                           rank=("max_rank", "first"))
            lines.append("final stable rank ||W||_F/||W||_2 of model A per layer (mean over conditions): "
                         + "; ".join(f"W{k} {r['shape']}: {r['sr']:.2f} (rank ≤ {r['rank']})" for k, r in sub.iterrows()))
        cl = claims(df, cfg.widths, d, cfg.weight_decay)
    if cl:
        lines.append("paper's claims at this setting:")
        for c in cl:
            lines.append(f"  [{'holds' if c['holds'] else 'DOES NOT HOLD'}] {c['claim']}: {c['numbers']}")
    return "\n".join(lines) + "\n"

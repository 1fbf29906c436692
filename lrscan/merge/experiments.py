"""What each experiment trains and what it logs.

  synthetic     Fig 3, first row + stable ranks: conditions x seeds, pairs of models (A on task 1,
                B on task 2), merged by SUM (and AVERAGE), at one weight decay
  lambda-sweep  Fig 3, second row (left): the `different` pairs at several weight decays
  fig2          Fig 2: one network per (label frequency, weight decay, seed), SGD by epochs
  images        Fig 5 (Appendix C.2): the image protocol, conditions x seeds at one weight decay
                plus the `different` pairs at the weight-decay grid

A Problem holds every member's training set stacked as [E, n, d] so that the whole experiment is
one batched ensemble. Pair experiments put model A of pair p at member 2p and B at 2p + 1.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from lrscan.merge import data, merging, mlp, theory
from lrscan.merge.config import MergeConfig

MODELS = ("A", "B", "merged", "averaged")


@dataclass
class Problem:
    kind: str  # "pairs" | "singles"
    X: torch.Tensor  # [E, n, d]
    Y: torch.Tensor  # [E, n]
    wd: list[float]  # per member
    units: list[dict]  # per pair (or per single network): condition, seed, weight_decay, ...
    init: mlp.Ensemble
    extra: dict = field(default_factory=dict)

    @property
    def members(self) -> int:
        return self.X.shape[0]


def _stream(*parts) -> list[int]:
    return [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]


def _generator(*parts) -> torch.Generator:
    state = np.random.SeedSequence(_stream(*parts)).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] % np.uint64(2**63)))


def _pair_units(cfg: MergeConfig) -> list[tuple[str, float]]:
    """(condition, weight decay) of every pair group, in order."""
    if cfg.experiment == "lambda-sweep":
        grid = cfg.lambdas or (cfg.weight_decay,)
        return [(c, lam) for c in cfg.all_conditions for lam in grid]
    units = [(c, cfg.weight_decay) for c in cfg.all_conditions]
    if cfg.experiment == "images":
        units += [("different", lam) for lam in cfg.lambdas if lam != cfg.weight_decay]
    return units


def build(cfg: MergeConfig, device: torch.device, dtype: torch.dtype) -> Problem:
    if cfg.experiment == "fig2":
        return _build_fig2(cfg, device, dtype)
    images = classes = None
    if cfg.experiment == "images":
        images, classes = data.load_images(cfg.dataset, cfg.data_dir, cfg.download)
    Xs, Ys, wd, units, gens = [], [], [], [], []
    for cond, lam in _pair_units(cfg):
        for s in range(cfg.seeds):
            rng = np.random.default_rng(_stream(cfg.seed, s, cond, cfg.experiment == "images"))
            if images is None:
                pair = data.synthetic_pair(cond, cfg.n, cfg.d, rng, freq=cfg.label_freqs[0])
            else:
                pair = data.image_pair(cond, images, classes, cfg.n, rng)
            Xs += [pair.X1, pair.X2]
            Ys += [pair.y1, pair.y2]
            wd += [lam, lam]
            # same data and initialisation for every weight decay: the lambda comparison is paired
            gens += [_generator(cfg.seed, s, cond, "A"), _generator(cfg.seed, s, cond, "B")]
            units.append({"condition": cond, "seed": s, "weight_decay": lam, "epsilon": pair.epsilon,
                          "subspace_overlap": pair.info.get("subspace_overlap", float("nan"))})
    X = torch.tensor(np.stack(Xs), dtype=dtype, device=device)
    Y = torch.tensor(np.stack(Ys), dtype=dtype, device=device)
    init = mlp.init_ensemble(gens, X.shape[-1], cfg.widths, dtype=dtype, device=device, bias=cfg.bias,
                             init_scale=cfg.init_scale)
    prob = Problem("pairs", X, Y, wd, units, init)
    # ||W_0 x'|| averaged over the other task's inputs, for Lemma 5's bound
    other = X.view(-1, 2, *X.shape[1:]).flip(1).reshape_as(X)
    prob.extra["cross_init"] = theory.cross_norm(init.weights[0], other).cpu()
    return prob


def _build_fig2(cfg: MergeConfig, device, dtype) -> Problem:
    Xs, Ys, wd, units, gens = [], [], [], [], []
    grid = cfg.lambdas or (cfg.weight_decay,)
    for freq in cfg.label_freqs:
        for s in range(cfg.seeds):
            # one sample and one initialisation per (freq, seed), shared by every lambda
            X, y = data.fig2_task(cfg.n, cfg.d, freq, np.random.default_rng(_stream(cfg.seed, s, "fig2", int(freq * 1000))))
            for lam in grid:
                Xs.append(X)
                Ys.append(y)
                wd.append(lam)
                gens.append(_generator(cfg.seed, s, "fig2", int(freq * 1000)))
                units.append({"condition": f"freq-{freq:g}", "seed": s, "weight_decay": lam, "freq": freq})
    X = torch.tensor(np.stack(Xs), dtype=dtype, device=device)
    Y = torch.tensor(np.stack(Ys), dtype=dtype, device=device)
    init = mlp.init_ensemble(gens, cfg.d, cfg.widths, dtype=dtype, device=device, bias=cfg.bias, init_scale=cfg.init_scale)
    return Problem("singles", X, Y, wd, units, init)


# ------------------------------------------------------------------------------ evaluation

def _metrics(f: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    m = (y * f).to(torch.float64)
    return {
        "loss": torch.nn.functional.softplus(-m).mean(-1),
        "class_error": (m <= 0).to(torch.float64).mean(-1),
        "margin_error": (m < 1).to(torch.float64).mean(-1),
        "lemma3_rhs": theory.lemma3_rhs(f, y),
    }


def _layer_cols(ens: mlp.Ensemble) -> tuple[np.ndarray, np.ndarray]:
    fro, spec = theory.layer_norms(ens)
    return fro.cpu().numpy(), theory.stable_rank(fro, spec).cpu().numpy()


def evaluate(prob: Problem, cfg: MergeConfig, step: int, ens: mlp.Ensemble) -> list[dict]:
    return _eval_pairs(prob, cfg, step, ens) if prob.kind == "pairs" else _eval_singles(prob, cfg, step, ens)


def _eval_singles(prob: Problem, cfg: MergeConfig, step: int, ens: mlp.Ensemble) -> list[dict]:
    with torch.no_grad():
        met = {k: v.cpu().numpy() for k, v in _metrics(mlp.forward(ens, prob.X), prob.Y).items()}
        fro, sr = _layer_cols(ens)
    K = ens.depth
    rows = []
    for e, u in enumerate(prob.units):
        inv = float(np.mean(1.0 / sr[e]))
        b2, b3 = theory.lemma4_bounds(u["weight_decay"], float(met["loss"][e]), K)
        row = {"step": step, "seed": u["seed"], "condition": u["condition"], "weight_decay": u["weight_decay"],
               "model": "A", "task": 1, **{k: float(v[e]) for k, v in met.items()}}
        row.update({f"sr_{k + 1}": float(sr[e, k]) for k in range(K)})
        row.update({f"fro_{k + 1}": float(fro[e, k]) for k in range(K)})
        row.update({"inv_sr_avg": inv, "lemma4_bound2": b2, "lemma4_bound3": b3})
        rows.append(row)
    return rows


def _eval_pairs(prob: Problem, cfg: MergeConfig, step: int, ens: mlp.Ensemble) -> list[dict]:
    P = len(prob.units)
    K = ens.depth
    dev = prob.X.device
    ia, ib = torch.arange(0, 2 * P, 2, device=dev), torch.arange(1, 2 * P, 2, device=dev)
    with torch.no_grad():
        A, B = ens.select(ia), ens.select(ib)
        models = [A, B, merging.merge_sum(A, B), merging.merge_average(A, B)]
        big = mlp.Ensemble([torch.cat([m.weights[k] for m in models]) for k in range(K)],
                           None if A.biases is None else [torch.cat([m.biases[k] for m in models]) for k in range(K)])
        per_task = {}
        for task, idx in ((1, ia), (2, ib)):
            Xt, Yt = prob.X[idx], prob.Y[idx]
            f = mlp.forward(big, Xt.repeat(4, 1, 1))
            per_task[task] = {k: v.cpu().numpy().reshape(4, P) for k, v in _metrics(f, Yt.repeat(4, 1)).items()}
        fro, sr = _layer_cols(big)
        fro, sr = fro.reshape(4, P, K), sr.reshape(4, P, K)
        # Lemma 5: first layer of each model on the other task's inputs
        cross_a = theory.cross_norm(A.weights[0], prob.X[ib]).cpu().numpy()
        cross_b = theory.cross_norm(B.weights[0], prob.X[ia]).cpu().numpy()
        cos = [theory.principal_cosines(A.weights[0][p], B.weights[0][p]) for p in range(P)]
    cross_init = prob.extra["cross_init"].numpy()
    rows = []
    for p, u in enumerate(prob.units):
        lam = u["weight_decay"]
        c = cos[p]
        pa_max = float(c.max()) if c.numel() else float("nan")
        pa_mean = float((c**2).mean()) if c.numel() else float("nan")
        for mi, model in enumerate(MODELS):
            inv = float(np.mean(1.0 / sr[mi, p]))
            for task in (1, 2):
                met = {k: float(v[mi, p]) for k, v in per_task[task].items()}
                row = {"step": step, "seed": u["seed"], "condition": u["condition"], "weight_decay": lam,
                       "model": model, "task": task, **met}
                row.update({f"sr_{k + 1}": float(sr[mi, p, k]) for k in range(K)})
                row.update({f"fro_{k + 1}": float(fro[mi, p, k]) for k in range(K)})
                row["inv_sr_avg"] = inv
                own = (model == "A" and task == 1) or (model == "B" and task == 2)
                b2, b3 = theory.lemma4_bounds(lam, met["loss"], K) if own else (float("nan"), float("nan"))
                row["lemma4_bound2"], row["lemma4_bound3"] = b2, b3
                cross = bound = float("nan")
                if (model == "A" and task == 2) or (model == "B" and task == 1):
                    m = 2 * p + (0 if model == "A" else 1)
                    cross = float(cross_a[p] if model == "A" else cross_b[p])
                    bound = float(theory.lemma5_bound(float(cross_init[m]), u["epsilon"], cfg.lr, lam, step))
                row["cross_norm"], row["cross_bound"] = cross, bound
                row["epsilon"] = u["epsilon"]
                row["pa_cos_max"], row["pa_cos2_mean"] = pa_max, pa_mean
                rows.append(row)
    return rows

"""merge-exp trainer throughput, measured in one run.

  1. achieved throughput of the fused GD step as a ratio of the bare matmul throughput for the
     same shapes (the 3 forward and 5 backward bmm of a d -> w1 -> w2 -> 1 net; goal >= 0.7),
  2. one model at a time (E calls) vs the batched ensemble (one call for E members),
  3. projected wall time of every preset on this machine (training steps only + evaluation estimate).

    python benchmarks/bench_merge.py [--members 6] [--repeats 5] [--device auto] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from lrscan.merge import mlp
from lrscan.merge.config import PRESET_TABLE, MergeConfig


def _time(fn, repeats: int) -> float:
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _problem(E, n, d, widths, device, dtype):
    g = torch.Generator().manual_seed(0)
    ens = mlp.init_ensemble([torch.Generator().manual_seed(i) for i in range(E)], d, widths, device=device, dtype=dtype)
    X = torch.randn(E, n, d, generator=g).to(device, dtype)
    X = X / X.norm(dim=-1, keepdim=True)
    Y = torch.where(torch.randn(E, n, generator=g) > 0, 1.0, -1.0).to(device, dtype)
    return ens, X, Y


def bare_matmuls(ens, X):
    """The matmuls a step needs, nothing else: forward h_k = h_{k-1} W_k^T; backward grad_k = d_k^T h_{k-1}
    for every layer and d_{k-1} = d_k W_k for k > 1."""
    acts = [X]
    h = X
    for w in ens.weights:
        h = torch.bmm(h, w.transpose(1, 2))
        acts.append(h)
    delta = h
    for k in range(len(ens.weights) - 1, -1, -1):
        torch.bmm(delta.transpose(1, 2), acts[k])
        if k > 0:
            delta = torch.bmm(delta, ens.weights[k])


def flops_per_step(n, d, widths) -> float:
    dims = [d, *widths, 1]
    f = 0.0
    for k in range(len(dims) - 1):
        mk = 2.0 * n * dims[k] * dims[k + 1]
        f += mk * (3 if k > 0 else 2)  # forward, weight gradient, and input delta except at layer 1
    return f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=6, help="ensemble size measured (projections scale linearly)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    from lrscan.spectral import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    dtype = torch.float32
    print(f"device {dev}, torch {torch.__version__}, threads {torch.get_num_threads()}, fp32")
    shapes = {
        "Fig 3 paper (n=1000, 100-1000-100-1)": (1000, 100, (1000, 100)),
        "Fig 3 quick (n=100, 100-100-20-1)": (100, 100, (100, 20)),
        "Fig 5 paper, digits (n=10, 128-1000-100-1)": (10, 128, (1000, 100)),
        "Fig 2 (batch 100, 100-10-10-1)": (100, 100, (10, 10)),
    }
    per_member_step = {}
    print(f"\n{'shapes':44s} {'E':>3s} {'matmul ms':>10s} {'step ms':>9s} {'ratio':>6s} {'GFLOP/s':>8s} "
          f"{'1-by-1 ms':>10s} {'batch gain':>10s}")
    for name, (n, d, widths) in shapes.items():
        E = args.members
        ens, X, Y = _problem(E, n, d, widths, dev, dtype)
        t_mm = _time(lambda: bare_matmuls(ens, X), args.repeats)
        t_step = _time(lambda: mlp.gd_step_(ens, X, Y, 1e-3, 1e-4), args.repeats)
        singles = [_problem(1, n, d, widths, dev, dtype) for _ in range(E)]
        t_one = _time(lambda: [mlp.gd_step_(e, x, y, 1e-3, 1e-4) for e, x, y in singles], args.repeats)
        gflops = flops_per_step(n, d, widths) * E / t_step / 1e9
        per_member_step[name] = t_step / E
        print(f"{name:44s} {E:3d} {t_mm * 1e3:10.2f} {t_step * 1e3:9.2f} {t_mm / t_step:6.2f} {gflops:8.1f} "
              f"{t_one * 1e3:10.2f} {t_one / t_step:9.2f}x")

    print("\nprojected training time of each preset on this machine (steps x members x measured per-member step;"
          " evaluation at the log steps adds ~10-30%):")
    for preset_name, table in PRESET_TABLE.items():
        for exp, vals in table.items():
            cfg = MergeConfig(experiment=exp, preset=preset_name, **vals)
            conds = len(cfg.all_conditions)
            if exp == "fig2":
                members = len(cfg.label_freqs) * cfg.seeds * max(1, len(cfg.lambdas))
                steps = cfg.steps * (cfg.n // cfg.batch_size)
                key = "Fig 2 (batch 100, 100-10-10-1)"
                n_, d_, w_ = cfg.batch_size, cfg.d, cfg.widths
            else:
                groups = (len(cfg.lambdas) * conds) if exp == "lambda-sweep" else conds
                if exp == "images":
                    groups += len([lam for lam in cfg.lambdas if lam != cfg.weight_decay])
                members = 2 * cfg.seeds * groups
                steps = cfg.steps
                n_, d_, w_ = cfg.n, (128 if exp == "images" else cfg.d), cfg.widths
                key = None
            # measure this preset's exact shapes when they differ from the table above
            if key is None:
                ens, X, Y = _problem(min(args.members, members), n_, d_, w_, dev, dtype)
                t = _time(lambda: mlp.gd_step_(ens, X, Y, 1e-3, 1e-4), args.repeats) / ens.size
            else:
                t = per_member_step[key]
            secs = t * members * steps
            print(f"  {preset_name:5s} {exp:12s} members {members:4d} x {steps:>7d} steps: {secs / 3600:8.2f} h"
                  f"  ({secs:,.0f} s)")


if __name__ == "__main__":
    main()

"""Sweep throughput: N locally built small GPT-2 checkpoints scanned sequentially (in-process),
with the local process pool, and with Ray on 2 CPUs. Prints the ratios measured in this run.

    python benchmarks/bench_sweep.py [--n 8] [--d 384] [--layers 4] [--workers 2]

The in-process baseline runs twice: with torch's default thread count and with 1 thread (what
each pool / Ray worker gets when workers = cores); ratios are against the 1-thread run.
Each executor sweeps into a fresh folder (nothing is skipped as complete). Pool and Ray times are
end to end (worker start-up, which imports torch, included); Ray's own `ray.init` is timed apart.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(folder: Path, n: int, d: int, layers: int) -> list[str]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    paths = []
    for j in range(n):
        torch.manual_seed(j)
        m = GPT2LMHeadModel(GPT2Config(n_layer=layers, n_embd=d, n_head=max(1, d // 64), n_positions=32, vocab_size=128))
        p = folder / f"ckpt{j}"
        m.save_pretrained(p, safe_serialization=True)  # noqa
        print(f"built {p.name}", end="\r", file=sys.stderr)
        paths.append(str(p))
    return paths


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()

    from lrscan.sweep import run_sweep
    from lrscan.sweep.executors import cpu_count, ray_init

    root = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        models = build(root / "models", a.n, a.d, a.layers)
        kw = dict(scan_kwargs={"device": "cpu"}, report=False)
        print(f"{a.n} GPT-2 checkpoints, d_model={a.d}, {a.layers} layers, {cpu_count()} CPU cores visible")
        import torch

        default_threads = torch.get_num_threads()
        t_def, r = timed(lambda: run_sweep(models, root / "seq_default", executor="sequential", **kw))
        assert r.ok, r.failures
        rows = len(r.table)
        torch.set_num_threads(1)  # what each pool / Ray worker gets on a machine this size
        t_seq, r = timed(lambda: run_sweep(models, root / "seq", executor="sequential", **kw))
        torch.set_num_threads(default_threads)
        assert r.ok and len(r.table) == rows, r.failures
        t_loc, r = timed(lambda: run_sweep(models, root / "local", executor="local", workers=a.workers, **kw))
        assert r.ok and len(r.table) == rows, r.failures
        t_init, _ = timed(lambda: ray_init(num_cpus=2))
        t_ray, r = timed(lambda: run_sweep(models, root / "ray", executor="ray", **kw))
        assert r.ok and len(r.table) == rows, r.failures
        import ray

        ray.shutdown()
        print(f"{'executor':<40}{'seconds':>9}{'models/s':>10}{'vs sequential 1 thread':>24}")
        for name, t in ((f"sequential, torch default ({default_threads} threads)", t_def),
                        ("sequential, 1 thread", t_seq), (f"local pool ({a.workers} workers)", t_loc),
                        ("ray (num_cpus=2)", t_ray)):
            print(f"{name:<40}{t:>9.2f}{a.n / t:>10.2f}{t_seq / t:>23.2f}x")
        print(f"ray.init(num_cpus=2) itself: {t_init:.2f} s (not included above); {rows} rows per sweep; "
              f"load average during the run: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()

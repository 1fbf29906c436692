"""run(config) -> DataFrame: build the experiment, train it (resuming from a checkpoint when
asked), and write curves.csv, manifest.json, summary.txt and report.html to config.out."""
from __future__ import annotations

import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd

from lrscan.atomic import atomic_write, write_text
from lrscan.errors import UsageError
from lrscan.merge.config import MergeConfig, validate

CHECKPOINT = "checkpoint.pt"



def _versions() -> dict:
    import numpy
    import torch

    from lrscan import __version__

    return {"lrscan": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "pandas": pd.__version__, "python": platform.python_version()}


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values(["condition", "weight_decay", "seed", "step", "model", "task"], kind="stable")
        df = df.reset_index(drop=True)
    return df


def run(config: MergeConfig, *, progress: Callable[[int, int], None] | None = None, quiet: bool = True) -> pd.DataFrame:
    """Run one merge experiment; returns the tidy curves (also written to config.out when set).

    Raises lrscan.merge.train.Diverged (outputs for the steps logged so far are written first)
    and KeyboardInterrupt (a checkpoint and the partial outputs are written first; rerun with
    resume=True to continue)."""
    import torch


    cfg = validate(config)
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg, progress, quiet)
    finally:
        torch.set_num_threads(threads_before)


def _run(cfg: MergeConfig, progress, quiet: bool) -> pd.DataFrame:
    import torch

    from lrscan.merge import experiments, train
    from lrscan.spectral import compute_dtype, resolve_device

    device = resolve_device(cfg.device)
    dtype = compute_dtype(cfg.precision)
    out = Path(cfg.out) if cfg.out else None
    t0 = time.monotonic()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    prob = experiments.build(cfg, device, dtype)

    state = None
    resumed_from = None
    if out is not None and cfg.resume and (out / CHECKPOINT).exists():
        from lrscan.io.safe_load import load_weights_only

        payload = load_weights_only(out / CHECKPOINT)  # never weights_only=False: --out may hold a planted file
        if not isinstance(payload, dict) or not isinstance(payload.get("state"), dict):
            raise UsageError(f"--resume: {out / CHECKPOINT} is not a merge-exp checkpoint; remove it or use a new --out")
        if payload.get("config") != cfg.identity():
            diff = sorted(k for k in cfg.identity() if payload.get("config", {}).get(k) != cfg.identity()[k])
            raise UsageError(f"--resume: {out / CHECKPOINT} was written with a different configuration ({', '.join(diff)}); "
                             "rerun with the same settings or a new --out")
        state = train.TrainState.from_payload(payload["state"], device, dtype)
        resumed_from = state.step
    if state is None:
        state = train.TrainState(prob.init.clone())

    total = cfg.steps
    log_at = train.log_schedule(total, cfg.log_points)
    wd = torch.tensor(prob.wd, dtype=dtype, device=device)

    def save(st: train.TrainState, complete: bool = False, diverged: dict | None = None) -> pd.DataFrame:
        df = frame(st.rows)
        if out is None:
            return df
        payload = {"config": cfg.identity(), "state": st.to_payload()}
        atomic_write(out / CHECKPOINT, lambda tmp: torch.save(payload, tmp))
        atomic_write(out / "curves.csv", lambda tmp: df.to_csv(tmp, index=False))
        manifest = {
            "experiment": cfg.experiment,
            "config": cfg.to_dict(),
            "seeds": list(range(cfg.seeds)),
            "base_seed": cfg.seed,
            "units": prob.units,
            "members": prob.members,
            "device": str(device),
            "precision": cfg.precision,
            "versions": _versions(),
            "started_at": started,
            "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "train_seconds": round(st.elapsed, 3),
            "total_seconds": round(time.monotonic() - t0, 3),
            "steps_done": st.step,
            "steps_planned": total,
            "resumed_from_step": resumed_from,
            "complete": complete,
            "diverged": diverged,
            "log_steps": log_at,
        }
        write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=float))
        return df

    def finish(df: pd.DataFrame, complete: bool, diverged: dict | None) -> None:
        from lrscan.merge import report, summary

        text = summary.summary_text(df, cfg, complete=complete, diverged=diverged, d_in=prob.X.shape[-1])
        if out is not None:
            write_text(out / "summary.txt", text)
            report.write_report(out / "report.html", df, cfg, text, complete=complete, diverged=diverged,
                                d_in=prob.X.shape[-1])
        if not quiet:
            print(text)

    try:
        train.train(state, prob.X, prob.Y, cfg.lr, wd, total, log_at,
                    lambda step, ens: experiments.evaluate(prob, cfg, step, ens),
                    batch_size=cfg.batch_size, seed=cfg.seed, progress=progress,
                    checkpoint=lambda st: save(st), checkpoint_seconds=cfg.checkpoint_seconds)
    except train.Diverged as e:
        info = {"step": e.step, "members": e.members, "last_finite_step": e.last_step, "last_finite_loss": e.last_finite}
        df = save(state, complete=False, diverged=info)
        finish(df, complete=False, diverged=info)
        e.frame = df
        raise
    except KeyboardInterrupt:
        save(state)
        raise
    df = save(state, complete=True)
    finish(df, complete=True, diverged=None)
    return df

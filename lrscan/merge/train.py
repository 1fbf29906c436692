"""The training loop: full-batch GD (or SGD by epochs) with weight decay on a batched ensemble,
with log-spaced logging, divergence detection, periodic checkpoints and clean interruption.

theta <- theta - eta (grad L(theta) + lambda theta)      (paper, Algorithm 1)

One "step" of the loop is one GD step (batch_size None) or one epoch of SGD over shuffled
minibatches (batch_size B): then every member sees n // B updates per epoch.

Cache-sized groups (full-batch GD on the CPU): members are independent, so when the ensemble's
weights and activations do not fit in the CPU cache (Fig 5's 120 members of 128-1000-100-1 hold
110 MB of weights, and each step then streams them from memory four times), the members are cut
into groups of about GROUP_BYTES and the loop runs group by group for up to GROUP_STEPS steps at a
time, so that each group's weights stay in cache (fewer steps when the whole ensemble is large, so that
a turn through all groups stays short: progress, Ctrl-C and checkpoints wait for the end of a turn).
Every member goes through the same sequence of operations either way (tested: identical curves);
logging, checkpoints and interrupts happen when all groups have reached the same step.
"""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from lrscan.errors import LrscanError
from lrscan.merge import mlp


class Diverged(LrscanError):
    """The loss became NaN/Inf. Carries the step and the last finite values."""

    exit_code = 1

    def __init__(self, step: int, members: list[int], last_step: int, last_finite: list[float]):
        self.step, self.members, self.last_step, self.last_finite = step, members, last_step, last_finite
        shown = ", ".join(f"{v:.4g}" for v in last_finite[:4]) + (", ..." if len(last_finite) > 4 else "")
        super().__init__(
            f"training diverged at step {step}: loss NaN/Inf for {len(members)} model(s) (first: member {members[0]}); "
            f"last finite loss at step {last_step}: {shown}; curves logged up to then were kept"
        )


def log_schedule(total: int, points: int) -> list[int]:
    """Step 0, the last step and about `points` log-spaced steps in between."""
    s = np.unique(np.round(np.logspace(0, np.log10(max(total, 1)), points)).astype(np.int64))
    return sorted({0, total, *[int(v) for v in s if 0 < v <= total]})


@dataclass
class TrainState:
    ens: mlp.Ensemble
    step: int = 0  # steps completed
    last_logged: int = -1
    rows: list = field(default_factory=list)
    gen_state: torch.Tensor | None = None  # SGD shuffling
    elapsed: float = 0.0  # seconds of training in earlier runs

    def to_payload(self) -> dict:
        return {
            "weights": [w.detach().cpu() for w in self.ens.weights],
            "biases": None if self.ens.biases is None else [b.detach().cpu() for b in self.ens.biases],
            "step": self.step,
            "last_logged": self.last_logged,
            "rows": self.rows,
            "gen_state": self.gen_state,
            "elapsed": self.elapsed,
        }

    @classmethod
    def from_payload(cls, p: dict, device, dtype) -> "TrainState":
        ens = mlp.Ensemble(
            [w.to(device=device, dtype=dtype) for w in p["weights"]],
            None if p["biases"] is None else [b.to(device=device, dtype=dtype) for b in p["biases"]],
        )
        return cls(ens, p["step"], p["last_logged"], list(p["rows"]), p["gen_state"], p.get("elapsed", 0.0))


class _DeferredInterrupt:
    """Turn Ctrl-C (and SIGTERM) into a flag checked between steps, so a checkpoint is never
    half-updated. A second signal interrupts at once."""

    def __init__(self):
        self.flag = False
        self._old = None

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)  # SIGTERM deferred too: a kill must not land mid-update

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.getsignal(sig) for sig in self._SIGNALS}

            def handler(signum, frame):
                if self.flag:
                    raise KeyboardInterrupt
                self.flag = True

            for sig in self._SIGNALS:
                signal.signal(sig, handler)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            for sig, old in self._old.items():
                signal.signal(sig, old)
        return False


GROUP_BYTES = 6 << 20  # per group: well inside a 32 MB L3 shared by the cores
GROUP_STEPS = 50  # at most this many steps per group and turn
TURN_BYTES = 2 << 30  # ... and at most about this much weight + activation traffic per turn (about a second)


def _member_bytes(ens: mlp.Ensemble, X: torch.Tensor) -> int:
    """Weights + activations of one member (what one of its steps touches), in bytes."""
    n = X.shape[1]
    return X.element_size() * (sum(p[0].numel() for p in ens.params()) + n * sum(w.shape[1] for w in ens.weights))


def turn_steps(ens: mlp.Ensemble, X: torch.Tensor) -> int:
    """Steps each group runs per turn: GROUP_STEPS, fewer for a large ensemble (Fig 3's 60 members at n = 1000
    take 6, Fig 5's 120 small ones 18), at least 1."""
    return int(min(GROUP_STEPS, max(1, TURN_BYTES // max(1, X.shape[0] * _member_bytes(ens, X)))))


def member_groups(ens: mlp.Ensemble, X: torch.Tensor, group_bytes: int | None = None, *, lr=None,
                  weight_decay=None) -> list[slice]:
    """Slices of the member dimension whose weights + activations take about group_bytes each
    (at least one member per group); one slice for the whole ensemble when it fits or off the CPU.
    Groups do not straddle a change of per-member lr / weight decay, so that each group's step
    takes the fused path (decay folded into the weight update: one pass over W less)."""
    E = X.shape[0]
    if X.device.type != "cpu":
        return [slice(0, E)]
    budget = GROUP_BYTES if group_bytes is None else group_bytes
    size = max(1, budget // max(1, _member_bytes(ens, X)))
    if size >= E:
        return [slice(0, E)]
    keys = [torch.as_tensor(v).reshape(-1).expand(E).tolist() for v in (lr, weight_decay) if v is not None]
    cuts = [0] + [e for e in range(1, E) if any(k[e] != k[e - 1] for k in keys)] + [E]
    return [slice(g, min(g + size, end)) for start, end in zip(cuts, cuts[1:]) for g in range(start, end, size)]


def _member_slice(v, sl: slice):
    if isinstance(v, (int, float)):
        return v
    t = torch.as_tensor(v).reshape(-1)
    return t if t.numel() == 1 else t[sl]


def _gd_steps_by_group(ens: mlp.Ensemble, X, Y, lr, wd, groups: list[slice], steps: int) -> list[torch.Tensor]:
    """`steps` GD steps for every member, group by group; returns the per-step losses over all members."""
    per_group = []
    for sl in groups:
        view = ens.select(sl)  # a slice selects views: the steps update ens in place
        lr_g, wd_g = _member_slice(lr, sl), _member_slice(wd, sl)
        per_group.append([mlp.gd_step_(view, X[sl], Y[sl], lr_g, wd_g) for _ in range(steps)])
    return [torch.cat([g[i] for g in per_group]) for i in range(steps)]


def _epoch_sgd(ens, X, Y, lr, wd, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    E, n, d = X.shape
    perm = torch.argsort(torch.rand(E, n, generator=gen), dim=1).to(X.device)
    losses = []
    for b in range(n // batch_size):
        idx = perm[:, b * batch_size : (b + 1) * batch_size]
        Xb = torch.gather(X, 1, idx.unsqueeze(-1).expand(-1, -1, d))
        Yb = torch.gather(Y, 1, idx)
        losses.append(mlp.gd_step_(ens, Xb, Yb, lr, wd))
    return torch.stack(losses).mean(0)


def train(
    state: TrainState,
    X: torch.Tensor,
    Y: torch.Tensor,
    lr,
    weight_decay,
    total: int,
    log_at: list[int],
    on_log: Callable[[int, mlp.Ensemble], list[dict]],
    *,
    batch_size: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: Callable[[TrainState], None] | None = None,
    checkpoint_seconds: float = 180.0,
    check_every: int = 25,
) -> TrainState:
    """Advance `state` to `total` steps, appending on_log's rows at every step of `log_at`.

    Raises Diverged (state keeps the rows logged so far) or KeyboardInterrupt (between two
    steps, after `checkpoint(state)` was called with a consistent state)."""
    log_set = set(log_at)
    log_after = sorted(log_at)
    groups = member_groups(state.ens, X, lr=lr, weight_decay=weight_decay) if batch_size is None else [slice(0, X.shape[0])]
    turn = turn_steps(state.ens, X)
    gen = None
    if batch_size is not None:
        gen = torch.Generator().manual_seed(seed)
        if state.gen_state is not None:
            gen.set_state(state.gen_state)
    buf: list[torch.Tensor] = []
    buf_start = state.step
    last_finite: tuple[int, torch.Tensor] | None = None
    t_start = time.monotonic()
    last_ckpt = t_start
    base_elapsed = state.elapsed

    def check() -> None:
        nonlocal buf, buf_start, last_finite
        if not buf:
            return
        L = torch.stack(buf).cpu()
        ok = torch.isfinite(L).all(dim=1)
        if not bool(ok.all()):
            i = int((~ok).nonzero()[0])
            bad_step = buf_start + i
            members = (~torch.isfinite(L[i])).nonzero().flatten().tolist()
            if i > 0:
                last_finite = (bad_step - 1, L[i - 1])
            prev_step, prev = last_finite if last_finite is not None else (-1, torch.full_like(L[i], float("nan")))
            raise Diverged(bad_step, members, prev_step, prev[members].tolist())
        last_finite = (buf_start + len(buf) - 1, L[-1])
        buf, buf_start = [], buf_start + len(buf)

    with _DeferredInterrupt() as intr:
        while True:
            t = state.step
            if t in log_set and t > state.last_logged:
                check()
                state.rows.extend(on_log(t, state.ens))
                state.last_logged = t
            if t >= total:
                break
            if len(groups) > 1:
                # one turn: up to the next log step or `turn` steps ahead, whichever comes first
                nxt = next((v for v in log_after if v > t), total)
                k = min(turn, nxt - t, total - t)
                buf.extend(_gd_steps_by_group(state.ens, X, Y, lr, weight_decay, groups, k))
                state.step = t + k
            else:
                if batch_size is None:
                    loss = mlp.gd_step_(state.ens, X, Y, lr, weight_decay)
                else:
                    loss = _epoch_sgd(state.ens, X, Y, lr, weight_decay, batch_size, gen)
                    state.gen_state = gen.get_state()
                buf.append(loss)
                state.step = t + 1
            state.elapsed = base_elapsed + (time.monotonic() - t_start)
            if len(buf) >= check_every:
                check()
            if progress is not None:
                progress(state.step, total)
            now = time.monotonic()
            if intr.flag:
                check()
                if checkpoint is not None:
                    checkpoint(state)
                raise KeyboardInterrupt
            if checkpoint is not None and now - last_ckpt >= checkpoint_seconds:
                check()
                checkpoint(state)
                last_ckpt = now
    check()
    return state

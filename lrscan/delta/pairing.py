"""Open a base and its fine-tunes with the scan engine's reader and registry, check they are the
same architecture, and stream their matching (layer, role) matrices side by side.

Only one matrix per model is materialised at a time (plus, within one layer, a fused tensor
still needed by a later role: the scan engine's `iter_matrices` rule).
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Iterator

from lrscan.errors import WeightsError


@dataclass
class Opened:
    label: str  # as the user gave it (model or model@revision)
    resolved: object  # lrscan.io.ResolvedModel
    ck: object  # lrscan.io.Checkpoint
    plan: object  # lrscan.arch.Plan
    config_hash: str


def open_model(stack: ExitStack, model: str, revision: str | None, *, generic: bool, layers, roles) -> Opened:
    from lrscan.arch import build_plan
    from lrscan.io import Checkpoint, resolve_model
    from lrscan.scan import read_config

    resolved = resolve_model(model, revision)
    ck = stack.enter_context(Checkpoint(resolved.path))
    config, config_hash = read_config(resolved.path, required=not generic)
    plan = build_plan(config, {n: ck.info(n) for n in ck.names()}, generic=generic, layers=layers, roles=roles)
    label = f"{model}@{revision}" if revision else model
    return Opened(label, resolved, ck, plan, config_hash)


def _shapes(o: Opened, pm) -> tuple:
    return tuple(o.ck.info(p.tensor).shape for p in pm.pieces)


def check_compatible(base: Opened, others: list[Opened]) -> None:
    """Same family, same (layer, role) set, same tensor shapes; otherwise one clear line."""
    b_keys = [pm.key for pm in base.plan.matrices]
    if not b_keys:
        raise WeightsError(f"{base.label}: no matrices to compare (check --layers/--roles)")
    for o in others:
        if (o.plan.family, o.plan.model_type) != (base.plan.family, base.plan.model_type):
            raise WeightsError(
                f"architectures differ: {base.label} is {base.plan.family} ({base.plan.model_type!r}), "
                f"{o.label} is {o.plan.family} ({o.plan.model_type!r})"
            )
        o_by_key = {pm.key: pm for pm in o.plan.matrices}
        missing = [k for k in b_keys if k not in o_by_key]
        extra = [k for k in o_by_key if k not in set(b_keys)]
        if missing or extra:
            what = (f"{len(missing)} matrices of {base.label} missing from {o.label} (first: layer {missing[0][0]} {missing[0][1]})"
                    if missing else f"{o.label} has {len(extra)} matrices {base.label} lacks (first: layer {extra[0][0]} {extra[0][1]})")
            raise WeightsError(
                f"architectures differ: {what}; layers {base.plan.facts.num_layers} vs {o.plan.facts.num_layers}"
            )
        for pm in base.plan.matrices:
            sb, so = _shapes(base, pm), _shapes(o, o_by_key[pm.key])
            if sb != so:
                raise WeightsError(
                    f"shapes differ at layer {pm.layer} {pm.role}: {base.label} {' + '.join(map(str, map(list, sb)))} "
                    f"vs {o.label} {' + '.join(map(str, map(list, so)))}"
                )


def paired_matrices(base: Opened, others: list[Opened]) -> Iterator[tuple[object, list]]:
    """Yield (planned matrix of base, [W_base, W_other1, ...]) in base's plan order."""
    from lrscan.arch import iter_matrices

    order = [pm.key for pm in base.plan.matrices]
    streams = [iter_matrices(base.ck, base.plan)]
    for o in others:
        by_key = {pm.key: pm for pm in o.plan.matrices}
        streams.append(iter_matrices(o.ck, o.plan, [by_key[k] for k in order]))
    for items in zip(*streams):
        pm = items[0][0]
        assert all(it[0].key == pm.key for it in items), "streams out of step"
        yield pm, [it[1] for it in items]

"""Config dimensions against tensor shapes: a config.json that contradicts the weights stops
the scan with one line naming the tensor, instead of producing rows that mean nothing.

    check_shapes(plan, infos, config)     WeightsError on the first contradiction

Checked per planned matrix, in nn.Linear [out, in] orientation: Q/K/V/QKV/M1/M1_gate read
d_model inputs, O and M2 write d_model outputs, M1/M1_gate have d_ff rows and M2 d_ff inputs,
Q has num_heads*head_dim rows and K, V num_kv_heads*head_dim (whole tensors only: fused splits
are sized from the config and checked by lrscan.arch.splits). Generic plans are not checked.
"""
from __future__ import annotations

from lrscan.errors import WeightsError

_READS_D_MODEL = ("Q", "K", "V", "QKV", "M1", "M1_gate")
_WRITES_D_MODEL = ("O", "M2")


def _key(config: dict, keys: tuple[str, ...], fact: str) -> str:
    """The config.json key that gave `fact` (for the message)."""
    present = [k for k in keys if config.get(k) is not None]
    return present[0] if present else fact


def _expected(plan, role: str) -> list[tuple[int, str, int]]:
    """(axis, fact, value) that a piece of `role` must satisfy; axis 0 = out, 1 = in."""
    f = plan.facts
    out: list[tuple[int, str, int]] = []
    if f.d_model:
        if role in _READS_D_MODEL:
            out.append((1, "d_model", f.d_model))
        if role in _WRITES_D_MODEL:
            out.append((0, "d_model", f.d_model))
    if f.d_ff:
        if role in ("M1", "M1_gate"):
            out.append((0, "d_ff", f.d_ff))
        if role == "M2":
            out.append((1, "d_ff", f.d_ff))
    if f.head_dim:
        if role == "Q" and f.num_heads:
            out.append((0, "num_heads*head_dim", f.num_heads * f.head_dim))
        if role in ("K", "V") and f.num_kv_heads:
            out.append((0, "num_kv_heads*head_dim", f.num_kv_heads * f.head_dim))
    return out


def check_shapes(plan, infos: dict, config: dict) -> None:
    if plan.family == "generic":
        return
    from lrscan.arch.registry import family_for

    keys = family_for(plan.model_type).config_keys
    for pm in plan.matrices:
        for piece in pm.pieces:
            stored = tuple(infos[piece.tensor].shape)
            if len(stored) != 2:
                continue  # the planner reports non-2-D tensors itself
            oriented = stored[::-1] if piece.layout == "conv1d" else stored
            split = piece.split is not None and piece.part is not None
            role = piece.part if split else pm.role
            for axis, fact, want in _expected(plan, role):
                if pm.role == "QKV" and axis == 0:
                    continue  # a stack: its rows are checked as Q, K and V
                if split and axis == 0:
                    continue  # rows of a split piece come from the config by construction
                got = oriented[axis]
                if got != want:
                    names = " x ".join(_key(config, keys.get(part, ()), part) for part in fact.split("*"))
                    side = "outputs (rows)" if axis == 0 else "inputs (columns)"
                    raise WeightsError(
                        f"config.json contradicts the weights: tensor {piece.tensor} (role {role}, layer {pm.layer}) "
                        f"has shape {list(stored)} ({side} {got}) but config.json's {names} says {want}"
                    )

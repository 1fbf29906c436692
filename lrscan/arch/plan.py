"""A scan plan: which matrices to build, from which tensors, and how; and building them.

    Plan.matrices: list of PlannedMatrix(layer, role, pieces)   one per output row
    Plan.skipped:  list of {"tensor": name, "reason": why}      every tensor not used
    iter_matrices(checkpoint, plan)  -> yields (PlannedMatrix, torch.Tensor [out, in], read_seconds)

A matrix is its pieces stacked on rows; a piece is one checkpoint tensor, transposed when stored
as Conv1D `[in, out]`, optionally cut by a split rule. Within a layer each tensor is read once
and dropped after its last use; a tensor used by a single contiguous piece is read as a slice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from lrscan.arch.splits import SPLITS


@dataclass(frozen=True)
class ConfigFacts:
    num_layers: int
    d_model: int | None = None
    d_ff: int | None = None
    num_heads: int | None = None
    num_kv_heads: int | None = None
    head_dim: int | None = None

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("num_layers", "d_model", "d_ff", "num_heads", "num_kv_heads", "head_dim")}


@dataclass(frozen=True)
class Piece:
    tensor: str
    layout: str = "linear"  # "linear" stored [out, in] | "conv1d" stored [in, out]
    split: str | None = None  # rule name in lrscan.arch.splits
    part: str | None = None  # role taken from the split (None: the whole tensor)

    def row_range(self, stored_shape: tuple[int, ...], facts: ConfigFacts) -> tuple[int, int] | None:
        if self.split is None or self.part is None:
            return None
        n_rows = stored_shape[1] if self.layout == "conv1d" else stored_shape[0]
        return SPLITS[self.split].row_range(self.part, n_rows, facts)

    def from_full(self, stored, facts: ConfigFacts):
        w = stored.T if self.layout == "conv1d" else stored
        if self.split is None or self.part is None:
            return w
        return SPLITS[self.split].extract(w, self.part, facts)

    def read_alone(self, ck, facts: ConfigFacts):
        """Read only the rows this piece needs (safetensors get_slice), in [out, in] orientation."""
        rr = self.row_range(ck.info(self.tensor).shape, facts)
        if rr is None:
            return self.from_full(ck.read(self.tensor), facts)
        a, b = rr
        if self.layout == "conv1d":
            return ck.read(self.tensor, (slice(None), slice(a, b))).T
        return ck.read(self.tensor, (slice(a, b),))


@dataclass(frozen=True)
class PlannedMatrix:
    layer: int
    role: str
    pieces: tuple[Piece, ...]

    @property
    def tensors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.tensor for p in self.pieces))

    @property
    def key(self) -> tuple[int, str]:
        return (self.layer, self.role)


@dataclass
class Plan:
    family: str  # family name, or "generic"
    model_type: str
    facts: ConfigFacts
    prefix: str
    matrices: list[PlannedMatrix]
    skipped: list[dict] = field(default_factory=list)

    def select(self, keep) -> "Plan":
        """A copy keeping only the matrices for which keep(pm) is true."""
        return Plan(self.family, self.model_type, self.facts, self.prefix,
                    [m for m in self.matrices if keep(m)], list(self.skipped))


def iter_matrices(ck, plan: Plan, matrices: list[PlannedMatrix] | None = None):
    """Yield (planned, matrix, read_seconds); reads are shared within a layer (see module doc)."""
    import torch

    todo = plan.matrices if matrices is None else matrices
    facts = plan.facts
    by_layer: dict[int, list[PlannedMatrix]] = {}
    for pm in todo:
        by_layer.setdefault(pm.layer, []).append(pm)
    for layer_items in by_layer.values():
        users: dict[str, int] = {}
        for pm in layer_items:
            for p in pm.pieces:
                users[p.tensor] = users.get(p.tensor, 0) + 1
        cache: dict[str, object] = {}
        for pm in layer_items:
            t0 = time.perf_counter()
            parts = []
            for p in pm.pieces:
                if users[p.tensor] == 1 and p.tensor not in cache:
                    parts.append(p.read_alone(ck, facts))
                else:
                    if p.tensor not in cache:
                        cache[p.tensor] = ck.read(p.tensor)
                    parts.append(p.from_full(cache[p.tensor], facts))
                users[p.tensor] -= 1
                if users[p.tensor] == 0:
                    cache.pop(p.tensor, None)
            read_s = time.perf_counter() - t0
            mat = parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
            del parts
            yield pm, mat, read_s
        cache.clear()
        release = getattr(ck, "release", None)
        if release is not None:
            release()  # unmap what this layer read, so resident memory stays about one layer

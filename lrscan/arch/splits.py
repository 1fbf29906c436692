"""The few ways a fused weight tensor splits into role matrices, each written once.

Every rule works on the tensor in nn.Linear `[out, in]` orientation and splits along rows:

    equal3                Q | K | V, three equal row blocks (GPT-2 c_attn, phi-msft Wqkv).
                          The tensor as stored is already [Q; K; V], so it is also QKV.
    qkv_sizes             Q | K | V with sizes from the config: Q = num_heads*head_dim rows,
                          K = V = num_kv_heads*head_dim rows (grouped-query attention, fused).
                          Also QKV as stored.
    per_head_interleaved  rows are (head, [q|k|v], head_dim) (GPT-NeoX query_key_value):
                          Q = W.view(h, 3, hd, in)[:, 0].reshape(h*hd, in), etc. As stored it is
                          a row permutation of [Q; K; V], so QKV is built by stacking.
    gate_up               M1_gate | M1, two equal row blocks (fused gate_up_proj: gate first).

A rule returns views (no copies) wherever the rows it takes are contiguous.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lrscan.errors import WeightsError


@dataclass(frozen=True)
class SplitRule:
    name: str
    roles: tuple[str, ...]  # roles it yields, in stored order
    whole: str | None  # role that the whole tensor (as stored) equals, if any
    _row_ranges: Callable | None = None  # (n_rows, facts) -> {role: (start, stop)} for contiguous rules
    _extract: Callable | None = None  # (w, role, facts) -> tensor, for non-contiguous rules
    doc: str = ""

    def row_range(self, role: str, n_rows: int, facts) -> tuple[int, int] | None:
        """Contiguous rows of `role` in the `[out, in]` tensor, or None when not contiguous."""
        if self._row_ranges is None:
            return None
        return self._row_ranges(n_rows, facts)[role]

    def extract(self, w, role: str, facts):
        """Matrix of `role` from the whole fused tensor `w` (`[out, in]` orientation)."""
        if role not in self.roles:
            raise KeyError(f"split {self.name} yields {self.roles}, not {role}")
        if self._row_ranges is not None:
            a, b = self._row_ranges(w.shape[0], facts)[role]
            return w[a:b]
        return self._extract(w, role, facts)


def _equal_blocks(roles: tuple[str, ...], what: str):
    def ranges(n_rows: int, facts) -> dict:
        k = len(roles)
        if n_rows % k:
            raise WeightsError(f"{what}: fused tensor has {n_rows} rows, not divisible by {k}")
        step = n_rows // k
        return {r: (j * step, (j + 1) * step) for j, r in enumerate(roles)}

    return ranges


def _qkv_sizes(n_rows: int, facts) -> dict:
    q = facts.num_heads * facts.head_dim
    kv = facts.num_kv_heads * facts.head_dim
    if q + 2 * kv != n_rows:
        raise WeightsError(
            f"fused QKV has {n_rows} rows but the config implies {q} + 2*{kv} "
            f"(num_heads={facts.num_heads}, num_kv_heads={facts.num_kv_heads}, head_dim={facts.head_dim})"
        )
    return {"Q": (0, q), "K": (q, q + kv), "V": (q + kv, q + 2 * kv)}


def _per_head_interleaved(w, role: str, facts):
    h = facts.num_heads
    n_rows, n_in = w.shape
    if not h or n_rows % (3 * h):
        raise WeightsError(f"fused per-head QKV has {n_rows} rows, not divisible by 3*num_heads={3 * (h or 0)}")
    hd = n_rows // (3 * h)
    j = ("Q", "K", "V").index(role)
    return w.reshape(h, 3, hd, n_in)[:, j].reshape(h * hd, n_in)


SPLITS: dict[str, SplitRule] = {
    r.name: r
    for r in (
        SplitRule("equal3", ("Q", "K", "V"), "QKV", _equal_blocks(("Q", "K", "V"), "equal3"),
                  doc="rows [Q; K; V] in equal thirds"),
        SplitRule("qkv_sizes", ("Q", "K", "V"), "QKV", _qkv_sizes,
                  doc="rows [Q; K; V], sizes num_heads*head_dim, num_kv_heads*head_dim (x2)"),
        SplitRule("per_head_interleaved", ("Q", "K", "V"), None, None, _per_head_interleaved,
                  doc="rows (head, [q|k|v], head_dim)"),
        SplitRule("gate_up", ("M1_gate", "M1"), None, _equal_blocks(("M1_gate", "M1"), "gate_up"),
                  doc="rows [gate; up] in equal halves"),
    )
}

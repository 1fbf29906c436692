"""`--shard i/n`: split the work list so that n independent jobs cover it exactly once.

Rule (deterministic, documented in the README): entries are ordered by the SHA-256 of their
key (`model@revision`) and dealt round-robin, so shard i (1-based) gets positions i-1, i-1+n, ...
of that order. Consequences:
  * the assignment depends only on the *set* of entries, not on their order in models.txt,
    nor on the machine, Python's hash seed or the job's environment;
  * shard sizes differ by at most one (balanced job arrays);
  * adding or removing entries can move others to another shard. That is harmless when the
    shards share one output folder: a model whose manifest is complete is never redone.
"""
from __future__ import annotations

import hashlib
import re
from typing import Sequence, TypeVar

from lrscan.errors import UsageError

T = TypeVar("T")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'3/16' -> (3, 16); None/'' -> None. 1 <= i <= n."""
    if text is None or str(text).strip() == "":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise UsageError(f"--shard {text!r}: expected I/N, e.g. 3/16")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= i <= n:
        raise UsageError(f"--shard {text}: need 1 <= I <= N")
    return i, n


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def select_shard(specs: Sequence[T], i: int, n: int, key=lambda s: s.key) -> list[T]:
    """The entries of shard i of n (1-based), in their original list order."""
    order = sorted(range(len(specs)), key=lambda j: (_digest(key(specs[j])), key(specs[j])))
    mine = {order[p] for p in range(i - 1, len(order), n)}
    return [s for j, s in enumerate(specs) if j in mine]


def shard_tag(shard: tuple[int, int] | None) -> str:
    """File-name tag of a shard's own tables: '' or '.shard3of16'."""
    return "" if shard is None else f".shard{shard[0]}of{shard[1]}"

"""Shared helpers for the scan-engine tests (tiny-model cache, float64 SVD reference)."""
from __future__ import annotations

import os

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tiny_models import build_tiny  # noqa: E402

_BUILT: dict = {}


def tiny(root, family: str, **kw):
    """Build a tiny model once per (family, variant) under a session-wide root folder."""
    key = (str(root), family, tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key not in _BUILT:
        name = family + "".join(f"-{k}={v}" for k, v in sorted(kw.items()) if v).replace("torch.", "")
        _BUILT[key] = build_tiny(family, root / name, **kw)
    return _BUILT[key]


def svd_metrics(mat: torch.Tensor) -> dict:
    """The reference: float64 numpy full SVD."""
    a = mat.detach().to(torch.float64).numpy()
    s = np.linalg.svd(a, compute_uv=False)
    fro = float(np.sqrt((a * a).sum()))
    return {"frobenius": fro, "spectral_norm": float(s[0]), "stable_rank": fro / float(s[0]),
            "stable_rank_sq": (fro / float(s[0])) ** 2}


def assert_rel(got: float, want: float, tol: float = 1e-6, what: str = "") -> None:
    assert abs(got - want) <= tol * abs(want), f"{what}: {got!r} vs {want!r} (rel {abs(got - want) / abs(want):.2e})"

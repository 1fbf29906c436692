"""Contract-shaped scan outputs (scan.csv + manifest.json) for the report tests.

Each matrix is described by its singular values (a decaying spectrum), so that norms, spectral norms, stable
ranks and the QKV = [Q; K; V] row agree exactly with each other as in a real scan (no SVD needed).
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["model", "revision", "layer", "role", "rows", "cols", "frobenius", "spectral_norm", "stable_rank",
           "stable_rank_sq", "dtype", "device", "method", "seconds", "status", "note", "tensors"]


def _spectrum(k: int, decay: float, scale: float) -> np.ndarray:
    return scale * np.exp(-decay * np.arange(k))


def _row(model, layer, role, shape, sv, tensors, status="ok", note=""):
    """One scan row of a matrix with singular values sv (W = U diag(sv) V^T for some orthonormal U, V)."""
    fro = float(np.sqrt(np.sum(sv ** 2)))
    spec = float(sv.max()) if sv.size else 0.0
    sr = fro / spec if spec > 0 else float("nan")
    row = dict(model=model, revision="abc123" if "/" in model else "", layer=layer, role=role,
               rows=shape[0], cols=shape[1], frobenius=fro, spectral_norm=spec, stable_rank=sr,
               stable_rank_sq=sr * sr, dtype="float32", device="cpu", method="svd", seconds=0.01,
               status=status, note=note, tensors=tensors)
    if status == "nonfinite":
        row.update(frobenius=np.nan, spectral_norm=np.nan, stable_rank=np.nan, stable_rank_sq=np.nan)
    elif status == "zero":
        row.update(frobenius=0.0, spectral_norm=0.0, stable_rank=np.nan, stable_rank_sq=np.nan)
    return row


def bert_like_scan(model="test/bert-like-6", layers=6, d=96, ff=384, seed=0, gated=False,
                   bad_rows=True) -> tuple[pd.DataFrame, dict]:
    frame, manifest = _bert_like_scan(model, layers, d, ff, seed, gated, bad_rows)
    return frame.copy(), copy.deepcopy(manifest)


@functools.lru_cache(maxsize=None)
def _bert_like_scan(model, layers, d, ff, seed, gated, bad_rows):
    """A BERT-like encoder scan: Q, K, V, O, QKV, M1, M2 (and M1_gate when gated) for each layer.
    With bad_rows, layer 2's V is `nonfinite` (so is its QKV) and layer 4's O is `zero`."""
    rng = np.random.default_rng(seed)
    rows = []
    for layer in range(layers):
        p = f"encoder.layer.{layer}."
        jitter = lambda: 1 + 0.05 * rng.standard_normal()  # noqa: E731
        q, k, v = (_spectrum(d, (decay + 0.01 * layer) * jitter(), (3.0 + 0.1 * i) * jitter())
                   for i, decay in enumerate((0.05, 0.09, 0.03)))
        # Q, K, V sharing right singular vectors: [Q; K; V] has singular values sqrt(q² + k² + v²)
        qkv = np.sqrt(q ** 2 + k ** 2 + v ** 2)
        o = _spectrum(d, (0.04 - 0.003 * layer) * jitter(), 1.5 * jitter())
        m1 = _spectrum(d, (0.02 + 0.002 * layer) * jitter(), 4.0 * jitter())
        m2 = _spectrum(d, (0.05 + 0.005 * layer) * jitter(), 4.5 * jitter())
        bad_v = bad_rows and layer == 2
        bad_o = bad_rows and layer == 4
        nonfinite = ("nonfinite", "NaN/Inf in tensor") if bad_v else ()
        rows.append(_row(model, layer, "Q", (d, d), q, p + "attention.self.query.weight"))
        rows.append(_row(model, layer, "K", (d, d), k, p + "attention.self.key.weight"))
        rows.append(_row(model, layer, "V", (d, d), v, p + "attention.self.value.weight", *nonfinite))
        rows.append(_row(model, layer, "O", (d, d), 0 * o if bad_o else o, p + "attention.output.dense.weight",
                         *(("zero", "all-zero matrix") if bad_o else ())))
        rows.append(_row(model, layer, "QKV", (3 * d, d), qkv,
                         ";".join(p + f"attention.self.{n}.weight" for n in ("query", "key", "value")), *nonfinite))
        rows.append(_row(model, layer, "M1", (ff, d), m1, p + "intermediate.dense.weight"))
        if gated:
            rows.append(_row(model, layer, "M1_gate", (ff, d), _spectrum(d, 0.03 * jitter(), 3.5),
                             p + "mlp.gate_proj.weight"))
        rows.append(_row(model, layer, "M2", (d, ff), m2, p + "output.dense.weight"))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    manifest = {
        "model": model, "revision": "abc123", "family": "bert", "model_type": "bert",
        "config_hash": "0" * 64,
        "config_facts": {"num_layers": layers, "d_model": d, "d_ff": ff, "num_heads": 4, "num_kv_heads": 4},
        "lrscan_version": "0.1.0", "device": "cpu", "precision": "fp32", "method": "svd",
        "skipped": [{"tensor": "embeddings.word_embeddings.weight", "reason": "embedding, not a block matrix"},
                    {"tensor": "pooler.dense.weight", "reason": "outside the encoder blocks"}],
        "started_at": "2026-03-01T10:00:00+00:00", "finished_at": "2026-03-01T10:00:07+00:00",
        "total_seconds": 7.25, "rows": len(frame), "complete": True,
    }
    return frame, manifest


def generic_scan(model="test/mlp", seed=1) -> tuple[pd.DataFrame, dict]:
    """A generic-mode scan: role `other`, one matrix outside the blocks (layer -1), two matrices per layer."""
    rng = np.random.default_rng(seed)
    rows = [_row(model, -1, "other", (32, 16), _spectrum(16, 0.1 * (1 + rng.random()), 1.0), "embed.weight")]
    for layer in range(3):
        for name, decay, scale in (("a", 0.1, 2.0), ("b", 0.2, 1.0)):
            rows.append(_row(model, layer, "other", (32, 32), _spectrum(32, decay * (1 + 0.2 * rng.random()), scale),
                             f"blocks.{layer}.{name}.weight"))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    manifest = {"model": model, "revision": "", "family": "generic", "model_type": "mlp", "config_facts": {},
                "lrscan_version": "0.1.0", "device": "cpu", "precision": "fp64", "method": "svd", "skipped": [],
                "started_at": "2026-03-02T08:00:00+00:00", "finished_at": "2026-03-02T08:00:01+00:00",
                "total_seconds": 0.5, "rows": len(frame), "complete": True}
    return frame, manifest


def write_scan_dir(directory: Path, frame: pd.DataFrame, manifest: dict) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_csv(directory / "scan.csv", index=False)
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return directory

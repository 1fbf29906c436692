"""Contract-shaped scan outputs (scan.csv + manifest.json) for the report tests.

The metrics are computed from real random matrices with a decaying spectrum, so that norms, spectral norms,
stable ranks and the QKV = [Q; K; V] row agree with each other as in a real scan.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["model", "revision", "layer", "role", "rows", "cols", "frobenius", "spectral_norm", "stable_rank",
           "stable_rank_sq", "dtype", "device", "method", "seconds", "status", "note", "tensors"]


def _matrix(rng: np.random.Generator, rows: int, cols: int, decay: float, scale: float) -> np.ndarray:
    k = min(rows, cols)
    u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
    s = scale * np.exp(-decay * np.arange(k))
    return (u * s) @ v.T


def _row(model, layer, role, w, tensors, status="ok", note=""):
    fro = float(np.linalg.norm(w))
    spec = float(np.linalg.norm(w, 2))
    sr = fro / spec if spec > 0 else float("nan")
    row = dict(model=model, revision="abc123" if "/" in model else "", layer=layer, role=role,
               rows=w.shape[0], cols=w.shape[1], frobenius=fro, spectral_norm=spec, stable_rank=sr,
               stable_rank_sq=sr * sr, dtype="float32", device="cpu", method="svd", seconds=0.01,
               status=status, note=note, tensors=tensors)
    if status == "nonfinite":
        row.update(frobenius=np.nan, spectral_norm=np.nan, stable_rank=np.nan, stable_rank_sq=np.nan)
    elif status == "zero":
        row.update(frobenius=0.0, spectral_norm=0.0, stable_rank=np.nan, stable_rank_sq=np.nan)
    return row


def bert_like_scan(model="test/bert-like-6", layers=6, d=96, ff=384, seed=0, gated=False,
                   bad_rows=True) -> tuple[pd.DataFrame, dict]:
    """A BERT-like encoder scan: Q, K, V, O, QKV, M1, M2 (and M1_gate when gated) for each layer.
    With bad_rows, layer 2's V is `nonfinite` (so is its QKV) and layer 4's O is `zero`."""
    rng = np.random.default_rng(seed)
    rows = []
    for layer in range(layers):
        p = f"encoder.layer.{layer}."
        q, k, v = (_matrix(rng, d, d, decay + 0.01 * layer, 3.0 + 0.1 * i)
                   for i, decay in enumerate((0.05, 0.09, 0.03)))
        o = _matrix(rng, d, d, 0.04 - 0.003 * layer, 1.5)
        m1 = _matrix(rng, ff, d, 0.02 + 0.002 * layer, 4.0)
        m2 = _matrix(rng, d, ff, 0.05 + 0.005 * layer, 4.5)
        bad_v = bad_rows and layer == 2
        bad_o = bad_rows and layer == 4
        rows.append(_row(model, layer, "Q", q, p + "attention.self.query.weight"))
        rows.append(_row(model, layer, "K", k, p + "attention.self.key.weight"))
        rows.append(_row(model, layer, "V", v, p + "attention.self.value.weight",
                         *(("nonfinite", "NaN/Inf in tensor") if bad_v else ())))
        rows.append(_row(model, layer, "O", np.zeros_like(o) if bad_o else o, p + "attention.output.dense.weight",
                         *(("zero", "all-zero matrix") if bad_o else ())))
        rows.append(_row(model, layer, "QKV", np.vstack([q, k, v]),
                         ";".join(p + f"attention.self.{n}.weight" for n in ("query", "key", "value")),
                         *(("nonfinite", "NaN/Inf in tensor") if bad_v else ())))
        rows.append(_row(model, layer, "M1", m1, p + "intermediate.dense.weight"))
        if gated:
            rows.append(_row(model, layer, "M1_gate", _matrix(rng, ff, d, 0.03, 3.5), p + "mlp.gate_proj.weight"))
        rows.append(_row(model, layer, "M2", m2, p + "output.dense.weight"))
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
    rows = [_row(model, -1, "other", _matrix(rng, 32, 16, 0.1, 1.0), "embed.weight")]
    for layer in range(3):
        rows.append(_row(model, layer, "other", _matrix(rng, 32, 32, 0.1, 2.0), f"blocks.{layer}.a.weight"))
        rows.append(_row(model, layer, "other", _matrix(rng, 32, 32, 0.2, 1.0), f"blocks.{layer}.b.weight"))
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

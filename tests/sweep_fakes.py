"""A stand-in for lrscan.scan.scan_model with the same output contract, for sweep unit tests.

A 'model' is a folder holding `weights.npz` (arrays named `L{layer}.{role}`); a folder without it
fails like a checkpoint with missing weights. Every call appends a line to `<out>/calls.log`
so that tests can count how often a model was really scanned (across processes).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["model", "revision", "layer", "role", "rows", "cols", "frobenius", "spectral_norm", "stable_rank",
           "stable_rank_sq", "dtype", "device", "method", "seconds", "status", "note", "tensors"]


def make_fake_model(folder: Path, seed: int, layers: int = 2, shape=(6, 4)) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"L{i}.{role}": rng.standard_normal(shape) for i in range(layers) for role in ("Q", "M1")}
    np.savez(folder / "weights.npz", **arrays)
    (folder / "config.json").write_text(json.dumps({"model_type": "fake"}))
    return folder


def fake_scan(model, *, revision=None, out=None, resume=False, **kw):
    from lrscan.errors import WeightsError
    from lrscan.spectral import matrix_metrics
    import torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "calls.log", "a") as f:
        f.write(f"{os.getpid()}\n")
    src = Path(model)
    if revision:
        src = src / revision
    if not (src / "weights.npz").is_file():
        raise WeightsError(f"no weights found in {src} (expected weights.npz)")
    rows = []
    with np.load(src / "weights.npz") as z:
        for name in sorted(z.files):
            layer, role = name[1:].split(".")
            m = matrix_metrics(torch.from_numpy(z[name]), precision="fp64")
            rows.append([model, revision or "", int(layer), role, *z[name].shape, m.frobenius, m.spectral_norm,
                         m.stable_rank, m.stable_rank_sq, "float64", "cpu", m.method, 0.0, m.status, m.note, name])
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.to_csv(out / "scan.csv", index=False)
    (out / "manifest.json").write_text(json.dumps({"model": model, "revision": revision or "", "complete": True,
                                                    "rows": len(df)}))
    return df

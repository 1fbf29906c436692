"""The real pretrained BERT shipped on PyPI (all-MiniLM-L6-v2) scans end to end."""
from __future__ import annotations

import json
import math

import numpy as np
from safetensors import safe_open

from lrscan.assets import demo_model_path
from lrscan.scan import scan_model


def test_real_pretrained_bert_scans_end_to_end(tmp_path):
    path = demo_model_path()
    df = scan_model(path, out=tmp_path / "minilm")
    assert sorted(df["layer"].unique()) == list(range(6))
    for layer in range(6):
        assert list(df[df.layer == layer]["role"]) == ["Q", "K", "V", "O", "QKV", "M1", "M2"]
    assert (df["status"] == "ok").all()
    for r in df.itertuples():
        assert 1.0 <= r.stable_rank <= math.sqrt(min(r.rows, r.cols)) + 1e-9
    shapes = {role: (r, c) for role, r, c in df[df.layer == 0][["role", "rows", "cols"]].itertuples(index=False)}
    assert shapes == {"Q": (384, 384), "K": (384, 384), "V": (384, 384), "O": (384, 384), "QKV": (1152, 384),
                      "M1": (1536, 384), "M2": (384, 1536)}
    # trained weights: stable ranks far below the dimension (the paper's observation)
    assert df["stable_rank"].max() < 0.5 * math.sqrt(384)
    # spot-check one matrix against float64 SVD straight from the file
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        w = f.get_tensor("encoder.layer.3.intermediate.dense.weight").double().numpy()
    s = np.linalg.svd(w, compute_uv=False)
    row = df[(df.layer == 3) & (df.role == "M1")].iloc[0]
    assert abs(row.spectral_norm - s[0]) <= 1e-6 * s[0]
    man = json.loads((tmp_path / "minilm" / "manifest.json").read_text())
    assert man["family"] == "bert" and man["complete"] and man["config_facts"]["num_layers"] == 6
    assert any(x["tensor"] == "embeddings.word_embeddings.weight" for x in man["skipped"])

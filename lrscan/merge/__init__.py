"""Model merging by summing weights, and weight decay's low-rank bias (paper Sections 4-6).

    from lrscan.merge import run, preset
    df = run(preset("synthetic", "quick", out="reports/merge-syn"))

Modules: config (presets, validation), data (tasks), fashion_mnist (IDX loader), mlp (batched
ensemble, hand-written backward), train (GD/SGD loop, checkpoints), merging (sum, average),
theory (Lemmas 1, 3, 4, 5 and principal angles), experiments (what each figure trains and logs),
runner (run + outputs), summary (claims, text), figures + report (HTML).
"""
from __future__ import annotations

__all__ = ["run", "preset", "MergeConfig"]


def __getattr__(name):  # lazy: keep `import lrscan.merge` free of torch
    if name == "run":
        from lrscan.merge.runner import run

        return run
    if name in ("preset", "MergeConfig"):
        from lrscan.merge import config

        return getattr(config, name)
    raise AttributeError(f"module 'lrscan.merge' has no attribute {name!r}")

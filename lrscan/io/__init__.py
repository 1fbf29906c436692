"""Where weights come from: a local folder or a hub snapshot, read tensor by tensor.

    resolve_model(model, revision=None) -> ResolvedModel     folder on disk (+ hub revision/commit)
    Checkpoint(folder)                                       streaming reader over safetensors / .bin
"""
from lrscan.io.checkpoint import Checkpoint, TensorInfo
from lrscan.io.resolve import ResolvedModel, resolve_model

__all__ = ["Checkpoint", "TensorInfo", "ResolvedModel", "resolve_model"]

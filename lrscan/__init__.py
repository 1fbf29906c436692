"""lrscan: rank and norm structure of network weights, and model merging by summing weights.

Python API (each returns a pandas DataFrame):
    lrscan.scan_model(model, ...)   per (layer, role) norms and stable ranks of a pretrained transformer
    lrscan.merge.run(config)        merging experiments (paper Figures 2, 3, 5)
"""
from lrscan._version import __version__

__all__ = ["__version__", "scan_model"]


def __getattr__(name):  # lazy: importing lrscan must not import torch
    if name == "scan_model":
        from lrscan.scan import scan_model

        return scan_model
    raise AttributeError(f"module 'lrscan' has no attribute {name!r}")

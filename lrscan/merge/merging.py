"""Merging two ensembles of networks layer by layer: the paper's SUM, and the AVERAGE for contrast."""
from __future__ import annotations

from lrscan.merge.mlp import Ensemble


def _combine(a: Ensemble, b: Ensemble, scale: float) -> Ensemble:
    if a.depth != b.depth or any(x.shape != y.shape for x, y in zip(a.weights, b.weights)):
        raise ValueError("can only merge networks of the same shape")
    weights = [(x + y) * scale if scale != 1.0 else x + y for x, y in zip(a.weights, b.weights)]
    biases = None
    if a.biases is not None or b.biases is not None:
        if a.biases is None or b.biases is None:
            raise ValueError("cannot merge a network with biases and one without")
        biases = [(x + y) * scale if scale != 1.0 else x + y for x, y in zip(a.biases, b.biases)]
    return Ensemble(weights, biases)


def merge_sum(a: Ensemble, b: Ensemble) -> Ensemble:
    """W_k = W_k^A + W_k^B for every layer k (and biases likewise): the paper's merge."""
    return _combine(a, b, 1.0)


def merge_average(a: Ensemble, b: Ensemble) -> Ensemble:
    """W_k = (W_k^A + W_k^B) / 2. For a bias-free K-layer ReLU net this is the SUM scaled by
    2^-K on the output (positive homogeneity): same class error, different loss."""
    return _combine(a, b, 0.5)

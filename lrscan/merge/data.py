"""Training sets of the merging experiments (paper Sections 6.1, 6.2 and Appendix C.2).

Every generator takes a numpy Generator and returns float64 numpy arrays; labels are in {-1, +1}.

Synthetic tasks (Fig 3): d-dimensional inputs drawn from N(0, U U^T) for an orthonormal basis
U of a d/2-dimensional subspace, projected onto the unit sphere; labels
y = 2 * 1(sigmoid(sin(freq w^T x)) >= 1/2) - 1 = sign of sin(freq w^T x) (0 -> +1), w ~ N(0, I_d).
Conditions (names are the `condition` column of curves.csv):
  different     task 2's subspace is orthogonal to task 1's (Sigma_1 ⟂ Sigma_2, epsilon = 0), own w
  same-inputs   task 2 draws fresh inputs from task 1's distribution, labelled by its own w
  identical     task 2 is task 1 (same inputs, same labels); only the initialisation differs
  overlap-<eps> task 2's subspace makes principal angles arccos(eps) with task 1's: every unit
                vector of one has inner product at most eps with every unit vector of the other
                (eps = 0 is `different`, eps = 1 is `same-inputs` in distribution)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CONDITIONS = ("different", "same-inputs", "identical")


def overlap_condition(eps: float) -> str:
    return f"overlap-{eps:g}"


def parse_overlap(condition: str) -> float | None:
    if condition.startswith("overlap-"):
        return float(condition[len("overlap-"):])
    return None


@dataclass
class TaskPair:
    """The two tasks of one (condition, seed): inputs [n, d] and labels [n] each."""

    X1: np.ndarray
    y1: np.ndarray
    X2: np.ndarray
    y2: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def epsilon(self) -> float:
        """max_ij |<x_i, x'_j>|: the paper's epsilon between the two tasks' inputs."""
        import torch  # numpy's threaded BLAS stalls on busy machines; torch's matmul does not

        return float(torch.from_numpy(self.X1).matmul(torch.from_numpy(self.X2).T).abs().max())


def to_sphere(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def sin_labels(X: np.ndarray, w: np.ndarray, freq: float = 1.0) -> np.ndarray:
    """y = 2 * 1(sigmoid(f*(x)) >= 1/2) - 1 with f*(x) = sin(freq * w^T x)."""
    return np.where(np.sin(freq * (X @ w)) >= 0.0, 1.0, -1.0)


def task_bases(d: int, overlap: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal bases U1, U2 (d x d//2) of two subspaces with U1^T U2 = overlap * I."""
    k = d // 2
    import torch

    Q = torch.linalg.qr(torch.from_numpy(rng.standard_normal((d, d)))).Q.numpy()
    U1, V = Q[:, :k], Q[:, k : 2 * k]
    U2 = np.sqrt(1.0 - overlap**2) * V + overlap * U1
    return U1, U2


def _inputs(U: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    # x ~ N(0, U U^T) projected on the sphere
    return to_sphere(rng.standard_normal((n, U.shape[1])) @ U.T)


def synthetic_pair(condition: str, n: int, d: int, rng: np.random.Generator, freq: float = 1.0) -> TaskPair:
    eps = parse_overlap(condition)
    if condition not in CONDITIONS and eps is None:
        raise ValueError(f"unknown condition {condition!r}")
    U1, U2 = task_bases(d, 0.0 if eps is None else eps, rng)
    w1, w2 = rng.standard_normal(d), rng.standard_normal(d)
    X1 = _inputs(U1, n, rng)
    y1 = sin_labels(X1, w1, freq)
    if condition == "identical":
        X2, y2 = X1.copy(), y1.copy()
    elif condition == "same-inputs":
        X2 = _inputs(U1, n, rng)
        y2 = sin_labels(X2, w2, freq)
    else:  # different, overlap-eps
        X2 = _inputs(U2, n, rng)
        y2 = sin_labels(X2, w2, freq)
    return TaskPair(X1, y1, X2, y2, {"condition": condition, "subspace_overlap": 0.0 if eps is None else eps})


def fig2_task(n: int, d: int, freq: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Fig 2: n inputs from N(0, I_d) projected on the sphere, labels from sin(freq w^T x)."""
    X = to_sphere(rng.standard_normal((n, d)))
    w = rng.standard_normal(d)
    return X, sin_labels(X, w, freq)


# ---------------------------------------------------------------- images (Appendix C.2)

def binary_image_labels(classes: np.ndarray) -> np.ndarray:
    """Classes 0-4 -> -1, classes 5-9 -> +1 (the paper's 'first 5 classes into class 0')."""
    return np.where(classes >= 5, 1.0, -1.0)


def image_pair(condition: str, images: np.ndarray, classes: np.ndarray, n: int, rng: np.random.Generator) -> TaskPair:
    """The paper's protocol on any image set [N, p] (Appendix C.2).

    2n images are drawn without replacement; the first n form task 1, the other n task 2.
    Each image is scaled to unit length. Task 1 inputs are [x, 0] (p zeros appended), binary
    labels as is. Task 2 (`different`) inputs are [0, x'] (zeros prepended, so the tasks are
    orthogonal and lengths preserved), labels inverted. `same-inputs`: task 2 keeps its own
    images and inverted labels but on the same side as task 1 ([x', 0]). `identical`: task 2 is
    task 1.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"image experiments know the conditions {', '.join(CONDITIONS)}, not {condition!r}")
    if 2 * n > len(images):
        raise ValueError(f"need {2 * n} images, the data set has {len(images)}")
    idx = rng.choice(len(images), size=2 * n, replace=False)
    X = to_sphere(images[idx].astype(np.float64))
    y = binary_image_labels(classes[idx])
    zeros = np.zeros_like(X[:n])
    X1, y1 = np.hstack([X[:n], zeros]), y[:n]
    if condition == "identical":
        X2, y2 = X1.copy(), y1.copy()
    elif condition == "same-inputs":
        X2, y2 = np.hstack([X[n:], zeros]), -y[n:]
    else:
        X2, y2 = np.hstack([zeros, X[n:]]), -y[n:]
    return TaskPair(X1, y1, X2, y2, {"condition": condition})


def load_images(dataset: str, data_dir: str | None = None, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, pixels] float64, classes [N] int) of `digits` (scikit-learn's shipped 8x8
    handwritten digits) or `fashion-mnist` (IDX files from data_dir)."""
    if dataset == "digits":
        from sklearn.datasets import load_digits

        b = load_digits()
        return b.data.astype(np.float64), b.target.astype(np.int64)
    if dataset == "fashion-mnist":
        from lrscan.merge.fashion_mnist import load_fashion_mnist

        imgs, labels = load_fashion_mnist(data_dir, download=download)
        return imgs.reshape(len(imgs), -1).astype(np.float64), labels.astype(np.int64)
    from lrscan.errors import UsageError

    raise UsageError(f"unknown dataset {dataset!r}; choose digits or fashion-mnist")

"""How good a code is, and how much training moved it. Pure functions of NumPy arrays.

Codes are (N, k) arrays over *all* samples in their original order; ``is_train`` (N,) says
which samples the models were trained on, and held-out scores use the others only.
"""

from __future__ import annotations

import numpy as np


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Share of samples whose highest-scoring class is the true one."""
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def reconstruction_mse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean squared error over samples and features."""
    return float(np.mean(np.square(np.asarray(x_hat, np.float64) - x)))


def linear_cka(a: np.ndarray, b: np.ndarray) -> float:
    """Linear centred kernel alignment of two representations of the same samples.

    1 when ``b`` is an invertible linear map of ``a`` up to rotation and isotropic scale,
    0 when their centred features are orthogonal (Kornblith et al. 2019, eq. 5). ``nan`` when
    either representation is constant (CKA is undefined there).
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    cross = np.linalg.norm(b.T @ a) ** 2
    norm = np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)
    return float(cross / norm) if norm > 1e-12 else float("nan")


def mean_displacement(before: np.ndarray, after: np.ndarray) -> float:
    """Mean Euclidean distance each sample's code moved."""
    return float(np.mean(np.linalg.norm(np.asarray(after, np.float64) - before, axis=-1)))


def knn_accuracy(code: np.ndarray, y: np.ndarray, is_train: np.ndarray, k: int = 5) -> float:
    """Held-out accuracy of k nearest neighbours fitted on the training samples' codes."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=min(k, int(is_train.sum())))
    knn.fit(code[is_train], y[is_train])
    return float(knn.score(code[~is_train], y[~is_train]))


def probe_accuracy(code: np.ndarray, y: np.ndarray, is_train: np.ndarray) -> float:
    """Held-out accuracy of a logistic-regression probe fitted on the training samples' codes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(code[is_train], y[is_train])
    return float(probe.score(code[~is_train], y[~is_train]))


def silhouette(code: np.ndarray, y: np.ndarray) -> float:
    """Silhouette of the true classes in the code over all samples (-1 to 1; higher: separated).

    ``nan`` when it is undefined: a single class, or a code that collapsed to one point.
    """
    from sklearn.metrics import silhouette_score

    if len(np.unique(y)) < 2 or np.ptp(code, axis=0).max() <= 1e-12:
        return float("nan")
    return float(silhouette_score(np.asarray(code, np.float64), y))


def code_quality(code: np.ndarray, y: np.ndarray, is_train: np.ndarray) -> dict[str, float]:
    """The label-free view of a code: what simple classifiers and clustering make of it."""
    return {
        "knn_accuracy": knn_accuracy(code, y, is_train),
        "probe_accuracy": probe_accuracy(code, y, is_train),
        "silhouette": silhouette(code, y),
    }

"""How good a code is, and how much training moved it. Pure functions of NumPy arrays.

Codes are (N, k) arrays over *all* samples in their original order. Classifiers of a code are
fitted on the samples ``fit`` (N,) marks (the labelled training samples: no label beyond those
the models saw) and scored on those ``test`` marks (the held-out samples).
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


def seeded_rows(favoured: np.ndarray, cap: int) -> np.ndarray:
    """Every row, or (above ``cap``) a seeded sample of ``cap`` of them in order: every
    ``favoured`` row up to half of it (more when the other rows cannot fill the rest), and the
    other rows for the rest. Scoring samples keep the labelled rows the classifiers learn
    from; figures keep the labelled points."""
    n = len(favoured)
    if n <= cap:
        return np.arange(n)
    rng = np.random.default_rng(0)

    def some(rows: np.ndarray, count: int) -> np.ndarray:
        return rows if len(rows) <= count else rng.choice(rows, count, replace=False)

    others = np.flatnonzero(~favoured)
    chosen = some(np.flatnonzero(favoured), max(cap // 2, cap - len(others)))
    return np.sort(np.concatenate([chosen, some(others, cap - len(chosen))]))


def knn_accuracy(
    code: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray, k: int = 5
) -> float:
    """Accuracy on ``test`` of k nearest neighbours fitted on the codes of ``fit``."""
    from sklearn.neighbors import KNeighborsClassifier  # heavy: imported when used

    if not fit.any() or not test.any():
        return float("nan")

    knn = KNeighborsClassifier(n_neighbors=min(k, int(fit.sum())))
    knn.fit(code[fit], y[fit])
    return float(knn.score(code[test], y[test]))


def probe_accuracy(code: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray) -> float:
    """Accuracy on ``test`` of a logistic-regression probe fitted on the codes of ``fit``."""
    # heavy: imported when a code is probed
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y[fit])) < 2 or not test.any():  # nothing to tell apart
        return float("nan")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(code[fit], y[fit])
    return float(probe.score(code[test], y[test]))


SILHOUETTE_SAMPLES = 10_000  # above this, a seeded sample of this size (it costs N^2)


def silhouette(code: np.ndarray, y: np.ndarray) -> float:
    """Silhouette of the true classes in the code over all samples (-1 to 1; higher: separated);
    over a seeded sample of ``SILHOUETTE_SAMPLES`` when there are more.

    ``nan`` when it is undefined: a single class, or a code that collapsed to one point.
    """
    from sklearn.metrics import silhouette_score  # heavy: imported when used

    if len(np.unique(y)) < 2 or np.ptp(code, axis=0).max() <= 1e-12:
        return float("nan")
    sample = SILHOUETTE_SAMPLES if len(y) > SILHOUETTE_SAMPLES else None
    return float(
        silhouette_score(np.asarray(code, np.float64), y, sample_size=sample, random_state=0)
    )


def code_quality(
    code: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray
) -> dict[str, float]:
    """What simple classifiers (fitted on ``fit``, scored on ``test``) and clustering by the
    true classes (all samples) make of a code."""
    return {
        "knn_accuracy": knn_accuracy(code, y, fit, test),
        "probe_accuracy": probe_accuracy(code, y, fit, test),
        "silhouette": silhouette(code, y),
    }

"""How good a code is, and how much training moved it. Pure functions of NumPy arrays.

Codes are (N, k) arrays over *all* samples in their original order. Classifiers of a code are
fitted on the samples ``fit`` (N,) marks (the labelled training samples: no label beyond those
the models saw) and scored on those ``test`` marks (the held-out samples).
"""

from __future__ import annotations

import numpy as np

from aelab.analysis.threads import one_thread


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
    """Accuracy on ``test`` of k nearest neighbours fitted on the codes of ``fit``.

    scikit-learn's ``KNeighborsClassifier`` (uniform votes, a tied vote to the smallest class),
    computed by :func:`aelab.analysis.distances.knn_votes`. Test samples whose last neighbours
    tie (to rounding) with samples of another class are asked of scikit-learn: which of them
    it takes follows its own search order, and with it its chunks of the whole test set.
    """
    if k < 1:
        raise ValueError(f"k is the number of neighbours that vote, at least 1; got {k}")
    if not fit.any() or not test.any():
        return float("nan")
    k = min(k, int(fit.sum()))
    if not np.isfinite(code[fit | test]).all():  # scikit-learn says what is wrong with it
        return float(_sklearn_knn(code[fit], y[fit], k).score(code[test], y[test]))
    from aelab.analysis import distances  # JAX: imported when a code is measured

    classes, labels = np.unique(y[fit], return_inverse=True)
    counts, ambiguous = distances.knn_votes(code[test], code[fit], labels, k, len(classes))
    predicted = classes[np.argmax(counts, axis=1)]  # the first of tied votes: smallest class
    if ambiguous.any():  # its choice among tied samples depends on every row it is asked
        predicted[ambiguous] = _sklearn_knn(code[fit], y[fit], k).predict(code[test])[ambiguous]
    return float(np.mean(predicted == y[test]))


def _sklearn_knn(code: np.ndarray, y: np.ndarray, k: int):
    from sklearn.neighbors import KNeighborsClassifier  # heavy: imported when used

    return KNeighborsClassifier(n_neighbors=k).fit(code, y)


def probe_accuracy(code: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray) -> float:
    """Accuracy on ``test`` of a logistic-regression probe fitted on the codes of ``fit``:
    scikit-learn's standard scaling and ``LogisticRegression(max_iter=1000)``, fitted with
    one BLAS thread."""
    if len(np.unique(y[fit])) < 2 or not test.any():  # nothing to tell apart
        return float("nan")
    # With more, NumPy's and SciPy's OpenBLAS thread pools fight over the cores: a probe of
    # 5,000 x 250 codes took 2-13 s on 2 cores instead of 0.1-0.4 s. And on float32 codes its
    # lbfgs stops at a different point with each thread count; one thread is one answer.
    with one_thread():
        return float(_sklearn_probe().fit(code[fit], y[fit]).score(code[test], y[test]))


def _sklearn_probe():
    # heavy: imported when a code is probed
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


SILHOUETTE_SAMPLES = 10_000  # above this, a seeded sample of this size (it costs N^2)


def silhouette(code: np.ndarray, y: np.ndarray) -> float:
    """Silhouette of the true classes in the code over all samples (-1 to 1; higher: separated);
    over a seeded sample of ``SILHOUETTE_SAMPLES`` when there are more.

    scikit-learn's ``silhouette_score`` (a sample alone in its class scores 0; the sample is
    its ``sample_size``, ``random_state=0``): itself on small codes, on large ones computed by
    :func:`aelab.analysis.distances.class_distance_sums` (to within 1e-6; ~1e-8 typically).
    ``nan`` when it is undefined: a single class (in the sample), a class per sample, or a
    code that collapsed to one point.
    """
    if len(np.unique(y)) < 2 or np.ptp(code, axis=0).max() <= 1e-12:
        return float("nan")
    from aelab.analysis import distances  # JAX: imported when a code is measured

    rows = np.arange(len(y))
    if len(y) > SILHOUETTE_SAMPLES:  # the rows silhouette_score(random_state=0) samples
        rows = np.random.RandomState(0).permutation(len(y))[:SILHOUETTE_SAMPLES]
    classes, labels = np.unique(y[rows], return_inverse=True)
    if not 2 <= len(classes) < len(rows):
        return float("nan")
    # scikit-learn itself where it is quick (its very numbers), or says what is wrong
    if len(rows) ** 2 * code.shape[1] <= distances.SMALL or not np.isfinite(code).all():
        return sklearn_silhouette(code, y)
    sums = distances.class_distance_sums(code[rows], labels, len(classes))  # (N, C)
    sizes, own = np.bincount(labels), (np.arange(len(rows)), labels)
    with np.errstate(divide="ignore", invalid="ignore"):
        within = sums[own] / (sizes - 1)[labels]  # 0 / 0 for a sample alone in its class
        between = sums / sizes
        between[own] = np.inf
        between = between.min(axis=1)
        scores = (between - within) / np.maximum(within, between)
    return float(np.mean(np.nan_to_num(scores)))  # nan: alone in its class, which scores 0


def sklearn_silhouette(code: np.ndarray, y: np.ndarray) -> float:
    """:func:`silhouette` by scikit-learn itself: the reference it equals."""
    from sklearn.metrics import silhouette_score  # heavy: imported when used

    sample = SILHOUETTE_SAMPLES if len(y) > SILHOUETTE_SAMPLES else None
    return float(
        silhouette_score(np.asarray(code, np.float64), y, sample_size=sample, random_state=0)
    )


def sklearn_knn_accuracy(
    code: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray, k: int = 5
) -> float:
    """:func:`knn_accuracy` by scikit-learn itself: the reference it equals."""
    knn = _sklearn_knn(code[fit], y[fit], min(k, int(fit.sum())))
    return float(knn.score(code[test], y[test]))


def sklearn_probe_accuracy(
    code: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray
) -> float:
    """:func:`probe_accuracy` by scikit-learn with its default BLAS threads: on float32 codes
    the same as :func:`probe_accuracy` only with one (its lbfgs rounds differently)."""
    return float(_sklearn_probe().fit(code[fit], y[fit]).score(code[test], y[test]))


def sklearn_code_quality(
    code: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray, k: int = 5
) -> dict[str, float]:
    """:func:`code_quality` by scikit-learn itself (as it was computed before issue 13): the
    reference the fast functions equal, for tests and benchmarks. Only where every number is
    defined (scikit-learn raises elsewhere)."""
    return {
        "knn_accuracy": sklearn_knn_accuracy(code, y, fit, test, k),
        "probe_accuracy": sklearn_probe_accuracy(code, y, fit, test),
        "silhouette": sklearn_silhouette(code, y),
    }


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

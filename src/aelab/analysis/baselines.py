"""scikit-learn's methods as baselines: fitted on a split's labelled samples, scored on its
held-out ones, beside aelab's models in a sweep."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.semi_supervised import LabelSpreading

from aelab.analysis.threads import one_thread


def baseline_accuracies(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    labelled: np.ndarray,
    hidden: tuple[int, ...],
    code: int,
    max_iter: int | None = None,
) -> dict[str, float]:
    """Held-out accuracy of each baseline on ``x`` (N, D): fitted on the ``labelled`` rows
    (LabelSpreading also sees the other ``train`` rows, unlabelled), scored on the rest. The
    MLP has aelab's ``hidden`` layers (or one of ``code`` units); PCA keeps ``code`` of them.
    ``max_iter`` caps the iterations of the iterative fits (``AELAB_MAX_STEPS``'s quick try)."""
    test = ~train
    n_fit = int(labelled.sum())
    hidden = tuple(hidden) or (code,)
    cap = max_iter or 10**9
    models = {
        "logistic regression": LogisticRegression(max_iter=min(1000, cap)),
        "PCA + logistic regression": make_pipeline(
            PCA(n_components=min(code, x.shape[1], n_fit)),
            LogisticRegression(max_iter=min(1000, cap)),
        ),
        "MLP": MLPClassifier(hidden, max_iter=min(500, cap), random_state=0),
        "k-nearest neighbours": KNeighborsClassifier(n_neighbors=min(5, n_fit)),
    }
    out = {}
    # one thread (BLAS and OpenMP): these fits are small, and on a busy 2-core machine the
    # same ones took 10-20x longer on two threads fighting over the cores
    with warnings.catch_warnings(), one_thread(None):
        warnings.simplefilter("ignore", ConvergenceWarning)
        # LabelSpreading divides by zero for a held-out sample with no labelled mass among its
        # neighbours; it then predicts class 0, which the score counts as it is.
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        for name, model in models.items():
            out[name] = float(model.fit(x[labelled], y[labelled]).score(x[test], y[test]))
        spreading = LabelSpreading(
            kernel="knn", n_neighbors=min(7, int(train.sum()) - 1), max_iter=min(30, cap)
        )
        partial = np.where(labelled, y, -1)[train]
        spreading.fit(x[train], partial)
        out["LabelSpreading"] = float(spreading.score(x[test], y[test]))
    return out

import numpy as np
import pytest

from aelab.analysis import metrics


@pytest.fixture
def code():
    return np.random.default_rng(0).normal(size=(100, 3))


def test_cka_is_one_for_the_same_code_up_to_rotation_scale_and_shift(code):
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    assert metrics.linear_cka(code, code) == pytest.approx(1.0)
    assert metrics.linear_cka(code, 2.5 * code @ q + 4.0) == pytest.approx(1.0)


def test_cka_is_low_for_unrelated_codes(code):
    other = np.random.default_rng(2).normal(size=code.shape)
    assert metrics.linear_cka(code, other) < 0.15


def test_cka_is_symmetric_and_undefined_for_a_constant_code(code):
    b = code[:, :2] ** 2
    assert metrics.linear_cka(code, b) == pytest.approx(metrics.linear_cka(b, code))
    assert np.isnan(metrics.linear_cka(code, np.ones_like(code)))


def test_mean_displacement():
    a = np.zeros((4, 2))
    b = np.array([[3.0, 4.0], [0, 0], [0, 1], [0, 0]])
    assert metrics.mean_displacement(a, b) == pytest.approx(1.5)


def test_knn_and_probe_on_separable_codes():
    y = np.repeat([0, 1], 20)
    code = np.column_stack([y * 10.0, np.zeros(40)]) + np.random.default_rng(0).normal(size=(40, 2))
    is_train = np.arange(40) % 2 == 0
    assert metrics.knn_accuracy(code, y, is_train, ~is_train) == 1.0
    assert metrics.probe_accuracy(code, y, is_train, ~is_train) == 1.0
    assert metrics.silhouette(code, y) > 0.7


def test_silhouette_of_a_collapsed_code_is_undefined():
    assert np.isnan(metrics.silhouette(np.ones((10, 2)), np.arange(10) % 2))


def test_accuracy_and_reconstruction():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert metrics.accuracy(logits, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert metrics.reconstruction_mse(np.zeros((2, 2)), np.ones((2, 2))) == 1.0


def test_classifiers_of_a_code_learn_from_the_fit_samples_only():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    code = np.column_stack([y * 4.0, np.zeros(60)]) + rng.normal(size=(60, 2))
    fit = np.zeros(60, bool)
    fit[[0, 1, 2, 30, 31, 32]] = True
    test = np.arange(60) >= 40
    wrong = y.copy()
    wrong[~fit] = 1 - wrong[~fit]  # labels nobody may use: must change nothing
    for score in (metrics.knn_accuracy, metrics.probe_accuracy):
        a = (
            score(code, y, fit, test)
            if score is metrics.probe_accuracy
            else score(code, y, fit, test, k=3)
        )
        yb = np.where(test, y, wrong)  # the held-out labels stay true, to score against
        b = (
            score(code, yb, fit, test)
            if score is metrics.probe_accuracy
            else score(code, yb, fit, test, k=3)
        )
        assert a == b


# --- the fast kNN, probe and silhouette give scikit-learn's numbers ------------------------


def _blobs(n: int, dims: int, classes: int, seed: int, spread: float = 1.0) -> tuple:
    """Gaussian blobs (float32, as codes are), their classes, and a half/half fit/test split."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    code = (rng.normal(size=(classes, dims)) * 2.0)[y] + spread * rng.normal(size=(n, dims))
    fit = rng.random(n) < 0.5
    return code.astype(np.float32), y, fit, ~fit


def _iris_two_features() -> tuple:
    """Iris's first two features, scaled as a run's "raw" reference has them: measured to
    0.1 cm, so full of duplicates and ties."""
    from aelab.data import load_dataset, split_dataset

    split = split_dataset(load_dataset("iris"), 0.5, 0)
    return split.x[:, :2], split.y, split.is_labelled, ~split.is_train


def _ties(dims: int) -> tuple:
    """A code on a coarse grid with duplicated rows, some duplicates of another class: many
    samples at exactly the same distance from a test sample."""
    rng = np.random.default_rng(3)
    base = rng.integers(-2, 3, size=(60, dims)).astype(np.float32)
    code = np.concatenate([base, base, base[:20]])  # every row twice, some three times
    y = rng.integers(0, 3, len(code))
    fit = rng.random(len(code)) < 0.6
    return code, y, fit, ~fit


def _shared_rows(n: int, dims: int) -> tuple:
    """Every code shared by about 12 samples, 30% of them of a random class: ties across
    classes everywhere, many more than scikit-learn's chunks of 256 rows."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 5, n)
    code = (rng.normal(size=(5, dims)) * 2)[y] + rng.normal(size=(n, dims))
    rows = rng.integers(0, n // 12, n)
    code, y = code[rows], np.where(rng.random(n) < 0.7, y[rows], y)
    fit = rng.random(n) < 0.5
    return code.astype(np.float32), y, fit, ~fit


CASES = {
    "blobs 400x8 3 classes": lambda: _blobs(400, 8, 3, 0),
    "blobs 600x40 10 classes": lambda: _blobs(600, 40, 10, 1, spread=3.0),
    "blobs 300x250 5 classes": lambda: _blobs(300, 250, 5, 2, spread=4.0),
    "2 classes 200x20": lambda: _blobs(200, 20, 2, 4, spread=3.0),
    "float64 500x30 (a PCA code)": lambda: _as_float64(_blobs(500, 30, 4, 11, spread=3.0)),
    "ties on a grid 3-D": lambda: _ties(3),
    "ties on a grid 20-D": lambda: _ties(20),
    "rows shared across classes": lambda: _shared_rows(2000, 20),
    "iris raw 2 features": _iris_two_features,
    "fit of 3 samples": lambda: _with_fit(_blobs(120, 6, 3, 5), [0, 1, 2]),
}


def _as_float64(case: tuple) -> tuple:
    return (case[0].astype(np.float64), *case[1:])


def _with_fit(case: tuple, rows: list[int]) -> tuple:
    code, y, _, _ = case
    fit = np.zeros(len(y), bool)
    fit[rows] = True
    y = y.copy()
    y[rows] = [0, 1, 2]  # every class among them: the probe is defined
    return code, y, fit, ~fit


@pytest.fixture(params=["default", "jax"])
def paths(request, monkeypatch):
    """Each input both ways: as the metrics choose, and through the JAX float32 path even
    where NumPy float64 would do it all (``SMALL = 0``)."""
    from aelab.analysis import distances

    if request.param == "jax":
        monkeypatch.setattr(distances, "SMALL", 0)
    return request.param


@pytest.mark.parametrize("case", list(CASES))
def test_code_quality_equals_scikit_learns(case, paths):
    from threadpoolctl import threadpool_limits

    code, y, fit, test = CASES[case]()
    # one BLAS thread, as probe_accuracy fits: scikit-learn's lbfgs on float32 codes stops at
    # a different point with each thread count (on small inputs there is only one anyway)
    with threadpool_limits(limits=1, user_api="blas"):
        expected = metrics.sklearn_code_quality(code, y, fit, test)
    assert metrics.code_quality(code, y, fit, test) == pytest.approx(expected, abs=1e-6, rel=0)
    for k in (1, 2, 4):  # a tie of votes goes to the smallest class, like scikit-learn's
        assert metrics.knn_accuracy(code, y, fit, test, k=k) == pytest.approx(
            metrics.sklearn_knn_accuracy(code, y, fit, test, k=k), abs=1e-12
        )


def test_knn_flags_neighbours_tied_across_classes_and_asks_scikit_learn():
    from aelab.analysis import distances

    points = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1], [5, 5]])  # all 1 from the origin
    labels = np.array([0, 1, 0, 0, 1])
    votes, ambiguous = distances.knn_votes(np.zeros((2, 2)), points, labels, 3, 2)
    assert ambiguous.all()  # 3 of the 4 tied points: 3 votes for 0, or 2 and 1
    votes, ambiguous = distances.knn_votes(np.zeros((1, 2)), points, labels, 4, 2)
    assert not ambiguous.any() and votes.tolist() == [[3, 1]]  # all 4 tied points are in
    y = np.array([0, 1, 0, 0, 1, 0])
    code = np.vstack([points, np.zeros((1, 2))])
    fit = np.arange(6) < 5
    for k in (1, 2, 3, 4):
        assert metrics.knn_accuracy(code, y, fit, ~fit, k=k) == pytest.approx(
            metrics.sklearn_knn_accuracy(code, y, fit, ~fit, k=k)
        )


def test_silhouette_equals_scikit_learns_on_its_seeded_sample_and_with_singletons(
    paths, monkeypatch
):
    code, y, _, _ = _blobs(700, 12, 6, 6, spread=2.0)
    y[:3] = [6, 7, 8]  # three samples alone in their classes: each scores 0
    monkeypatch.setattr(metrics, "SILHOUETTE_SAMPLES", 500)  # the sample above 500 samples
    sampled = metrics.silhouette(code, y)
    assert sampled == pytest.approx(metrics.sklearn_silhouette(code, y), abs=1e-6)
    assert sampled != pytest.approx(metrics.silhouette(code[:500], y[:500]), abs=1e-4)


def test_silhouette_of_duplicated_rows_equals_scikit_learns(paths):
    code, y, _, _ = _blobs(150, 30, 3, 7)
    code, y = np.concatenate([code, code, code[:40]]), np.concatenate([y, y, y[:40]])
    assert metrics.silhouette(code, y) == pytest.approx(
        metrics.sklearn_silhouette(code, y), abs=1e-6
    )


def test_undefined_numbers_are_nan():
    code, y, fit, test = _blobs(40, 3, 2, 8)
    none = np.zeros(40, bool)
    assert np.isnan(metrics.knn_accuracy(code, y, none, test))
    assert np.isnan(metrics.knn_accuracy(code, y, fit, none))
    assert np.isnan(metrics.probe_accuracy(code, np.where(fit, 0, y), fit, test))
    assert np.isnan(metrics.probe_accuracy(code, y, fit, none))
    assert np.isnan(metrics.silhouette(code, np.zeros(40, int)))  # one class
    assert np.isnan(metrics.silhouette(code, np.arange(40)))  # a class per sample


def test_knn_needs_a_neighbour():
    code, y, fit, test = _blobs(40, 3, 2, 8)
    with pytest.raises(ValueError, match="k is the number of neighbours"):
        metrics.knn_accuracy(code, y, fit, test, k=0)

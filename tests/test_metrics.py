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

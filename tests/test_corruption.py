import jax
import numpy as np
import pytest

from aelab.config import Noise, parse_noise
from aelab.errors import ConfigError
from aelab.training.corruption import corrupt

X = np.random.default_rng(0).normal(size=(2000, 5)).astype(np.float32)
ALL = np.ones(len(X), np.float32)


def test_gaussian_noise_has_the_asked_spread():
    noisy = np.asarray(corrupt(jax.random.key(0), X, Noise("gaussian", 0.3), ALL))
    assert np.std(noisy - X) == pytest.approx(0.3, rel=0.05)


def test_masking_zeroes_the_asked_share():
    noisy = np.asarray(corrupt(jax.random.key(0), X, Noise("mask", 0.25), ALL))
    changed = noisy != X
    assert changed.mean() == pytest.approx(0.25, abs=0.02)
    assert (noisy[changed] == 0).all()


def test_salt_and_pepper_uses_extremes_of_the_training_rows_only():
    rows = (np.arange(len(X)) < 1000).astype(np.float32)
    x = X.copy()
    x[1500:] = 100.0  # held-out rows with values far outside the training range
    noisy = np.asarray(corrupt(jax.random.key(0), x, Noise("saltpepper", 0.1), rows))
    changed = noisy != x
    assert changed[:1000].mean() == pytest.approx(0.1, abs=0.02)
    lo, hi = x[:1000].min(axis=0), x[:1000].max(axis=0)
    columns = np.nonzero(changed)[1]
    assert np.isin(noisy[changed], np.concatenate([lo, hi])).all()
    assert np.all((noisy[changed] == lo[columns]) | (noisy[changed] == hi[columns]))


def test_the_same_key_gives_the_same_corruption():
    a = corrupt(jax.random.key(1), X, Noise("mask", 0.5), ALL)
    b = corrupt(jax.random.key(1), X, Noise("mask", 0.5), ALL)
    c = corrupt(jax.random.key(2), X, Noise("mask", 0.5), ALL)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(
    "text, expected",
    [("none", None), ("gaussian:0.3", Noise("gaussian", 0.3)), ("mask:0", Noise("mask", 0.0))],
)
def test_parse(text, expected):
    assert parse_noise(text) == expected


@pytest.mark.parametrize(
    "text, match",
    [
        ("gaussian", r"cannot read 'gaussian'"),
        ("blur:0.3", r"cannot read 'blur:0.3'.*gaussian, mask, saltpepper"),
        ("mask:x", r"the level of 'mask:x' is not a number"),
        ("gaussian:-1", r"gaussian takes a finite standard deviation >= 0, got -1; 0 adds no"),
        ("gaussian:nan", r"gaussian takes a finite standard deviation >= 0, got nan"),
        ("mask:1", r"mask takes a probability in \[0, 1\), got 1; 0 corrupts nothing"),
        ("saltpepper:-0.5", r"saltpepper takes a probability in \[0, 1\), got -0.5"),
        (3, r"model.noise must be text"),
    ],
)
def test_parse_errors_name_the_setting(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_noise(text)

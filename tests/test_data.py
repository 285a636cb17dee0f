import numpy as np
import pytest

from aelab.data import DATASETS, load_dataset, split_dataset
from aelab.errors import ConfigError


def test_iris_split_is_stratified_75_75():
    split = split_dataset(load_dataset("iris"), 0.5, seed=0)
    assert split.x.shape == (150, 4) and split.n_train == 75
    for c in range(3):
        assert (split.y[split.is_train] == c).sum() == 25
        assert (split.y[~split.is_train] == c).sum() == 25


def test_scaling_uses_training_statistics_only():
    ds = load_dataset("iris")
    split = split_dataset(ds, 0.5, seed=0)
    train = split.x[split.is_train]
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-5)
    manual = (ds.x - ds.x[split.is_train].mean(0)) / ds.x[split.is_train].std(0)
    np.testing.assert_allclose(split.x, manual, atol=1e-5)
    assert np.abs(split.x[~split.is_train].mean(axis=0)).max() > 1e-3  # not refitted


def test_split_depends_on_seed_only():
    a, b, c = (split_dataset(load_dataset("iris"), 0.5, s) for s in (0, 0, 1))
    assert np.array_equal(a.is_train, b.is_train)
    assert not np.array_equal(a.is_train, c.is_train)


def test_test_size_as_count():
    split = split_dataset(load_dataset("wine"), 60, seed=0)
    assert (~split.is_train).sum() == 60


def test_test_size_that_leaves_a_class_out_is_refused():
    with pytest.raises(ConfigError, match=r"data.test_size=148 leaves 148 of 150"):
        split_dataset(load_dataset("iris"), 148, seed=0)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_builtin_datasets_load(name):
    ds = load_dataset(name)
    assert ds.x.ndim == 2 and len(ds.y) == len(ds.x)
    assert len(ds.feature_names) == ds.x.shape[1]
    assert set(np.unique(ds.y)) == set(range(ds.n_classes))


def test_constant_columns_do_not_divide_by_zero():
    split = split_dataset(load_dataset("digits"), 0.5, seed=0)
    assert np.isfinite(split.x).all()

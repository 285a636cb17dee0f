import subprocess
import sys

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


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_each_declared_shape_is_what_loading_gives(name):
    builtin, ds = DATASETS[name], load_dataset(name)
    assert ds.name == name
    declared = (builtin.samples, builtin.features, builtin.classes, builtin.image_shape)
    assert (len(ds.y), ds.x.shape[1], ds.n_classes, ds.image_shape) == declared


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
@pytest.mark.parametrize("shipped_file", [True, False])
def test_a_table_read_from_scikit_learns_file_is_its_loaders(name, shipped_file, monkeypatch):
    import sklearn.datasets  # only to compare with its loader

    if not shipped_file:  # the file is not there: read through scikit-learn's loader
        monkeypatch.setattr("aelab.data.datasets._sklearn_file", lambda name: None)
    ds = load_dataset(name)
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    assert ds.x.dtype == np.float64 and ds.y.dtype == np.int32
    assert np.array_equal(ds.x, bunch.data) and np.array_equal(ds.y, bunch.target)
    assert ds.feature_names == tuple(map(str, bunch.feature_names))
    assert ds.class_names == tuple(map(str, bunch.target_names))
    assert ds.image_shape == () and ds.test_mask is None


def test_loading_iris_imports_no_scikit_learn():
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from aelab.data import load_dataset; "
         "load_dataset('iris'); print('sklearn' in sys.modules, 'pandas' in sys.modules)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["False", "False"]


def test_constant_columns_do_not_divide_by_zero():
    split = split_dataset(load_dataset("digits"), 0.5, seed=0)
    assert np.isfinite(split.x).all()


@pytest.mark.parametrize("case", range(60))
def test_the_split_holds_out_the_rows_scikit_learn_holds_out(case):
    """aelab draws the held-out rows itself (importing scikit-learn costs a short run a
    second) with the same random numbers as ``train_test_split(stratify=y)``: tied
    remainders, uneven classes, counts and fractions."""
    from sklearn.model_selection import train_test_split  # the reference

    from aelab.data.split import stratified_test_rows

    rng = np.random.default_rng(case)
    k = int(rng.integers(2, 7))
    counts = rng.integers(2, 12, size=k) if case % 2 else np.full(k, int(rng.integers(2, 9)))
    y = rng.permutation(np.repeat(np.arange(k), counts))
    n = len(y)
    n_test = int(rng.integers(k, n - k + 1))
    _, expected = train_test_split(np.arange(n), test_size=n_test, stratify=y, random_state=case)
    np.testing.assert_array_equal(np.sort(stratified_test_rows(y, n_test, case)), np.sort(expected))

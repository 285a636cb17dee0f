"""Datasets, stratified splits and scaling fitted on the training part only.

Every sample keeps its place: a :class:`Split` holds all samples in their original order with a
boolean ``is_train`` mask, so codes, metrics and figures can always speak of "every sample".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aelab.errors import ConfigError, DataError


@dataclass(frozen=True)
class Dataset:
    """A labelled table: ``x`` (N, D) float, ``y`` (N,) int in ``[0, n_classes)``.

    ``image_shape`` is (height, width) when each row is an image, ``()`` for a table.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...] = ()

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class Split:
    """All samples, standardised with the training part's statistics, and the masks.

    ``is_labelled`` marks the training samples whose labels training may use: all of them,
    unless a label count was asked for (semi-supervised training).
    """

    dataset: Dataset
    x: np.ndarray  # (N, D) float32, scaled
    is_train: np.ndarray  # (N,) bool
    mean: np.ndarray  # (D,) training mean
    scale: np.ndarray  # (D,) training standard deviation (1 where it is 0)
    is_labelled: np.ndarray  # (N,) bool, a subset of is_train

    @property
    def y(self) -> np.ndarray:
        return self.dataset.y

    @property
    def n_train(self) -> int:
        return int(self.is_train.sum())


def _sklearn(loader_name: str) -> Callable[[], Dataset]:
    def load() -> Dataset:
        import sklearn.datasets

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


DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "iris": (_sklearn("iris"), "150 flowers, 4 measurements, 3 species (scikit-learn)"),
    "wine": (_sklearn("wine"), "178 wines, 13 chemical measurements, 3 cultivars (scikit-learn)"),
    "breast_cancer": (
        _sklearn("breast_cancer"),
        "569 tumours, 30 features, malignant or benign (scikit-learn)",
    ),
    "digits": (
        _sklearn("digits"),
        "1,797 handwritten digits, 8x8 pixels, 10 classes (scikit-learn)",
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


def split_dataset(
    dataset: Dataset, test_size: float | int, seed: int, labels: int | None = None
) -> Split:
    """Stratified train/held-out split; standardise with the training part's statistics.

    ``labels``: keep the labels of this many training samples per class (chosen with
    ``seed``); the other training samples become unlabelled.
    """
    from sklearn.model_selection import train_test_split

    n = len(dataset.y)
    n_test = int(np.ceil(test_size * n)) if isinstance(test_size, float) else int(test_size)
    counts = np.bincount(dataset.y, minlength=dataset.n_classes)
    if (counts < 2).any():
        raise DataError(
            f"dataset {dataset.name!r}: class {dataset.class_names[int(np.argmin(counts))]!r} "
            "has fewer than 2 samples; a stratified split needs 2 per class"
        )
    k = dataset.n_classes
    if not k <= n_test <= n - k:
        raise ConfigError(
            f"data.test_size={test_size!r} leaves {n_test} of {n} samples held out; both parts "
            f"need at least one sample of each of the {k} classes, so use a count between {k} "
            f"and {n - k}, or a fraction such as 0.5"
        )
    idx = np.arange(n)
    _, test_idx = train_test_split(idx, test_size=n_test, stratify=dataset.y, random_state=seed)
    is_train = np.ones(n, dtype=bool)
    is_train[test_idx] = False
    mean = dataset.x[is_train].mean(axis=0)
    scale = dataset.x[is_train].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)  # constant columns (digits' border pixels)
    x = ((dataset.x - mean) / scale).astype(np.float32)
    return Split(dataset, x, is_train, mean, scale, _labelled(dataset, is_train, labels, seed))


def _labelled(dataset: Dataset, is_train: np.ndarray, labels: int | None, seed: int) -> np.ndarray:
    if labels is None:
        return is_train.copy()
    rng = np.random.default_rng(seed)
    keep = np.zeros_like(is_train)
    for c, name in enumerate(dataset.class_names):
        pool = np.flatnonzero(is_train & (dataset.y == c))
        if len(pool) < labels:
            raise ConfigError(
                f"data.labels={labels} needs {labels} training samples of each class; class "
                f"{name!r} has {len(pool)}; ask for fewer labels or hold out fewer samples"
            )
        keep[rng.choice(pool, size=labels, replace=False)] = True
    return keep

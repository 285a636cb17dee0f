"""Stratified splits, labelled masks, and scaling fitted on the training part only.

Every sample keeps its place: a :class:`Split` holds all samples in their original order with a
boolean ``is_train`` mask, so codes, metrics and figures can always speak of "every sample".
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np

from aelab.data.datasets import CHUNK_ROWS, Dataset
from aelab.data.encoding import Encoding, encode
from aelab.errors import ConfigError, DataError

_CHUNK_BYTES = 32 * 2**20  # float64 working rows of bytes being scaled (images)


@dataclass(frozen=True)
class Split:
    """All samples, standardised with the training part's statistics, and the masks.

    ``is_labelled`` marks the training samples whose labels training may use: all of them,
    unless a label count was asked for (semi-supervised training). ``encoding``: how a
    table's categorical columns and missing values became ``x``'s features (before scaling),
    ``None`` when nothing needed it.
    """

    dataset: Dataset
    x: np.ndarray  # (N, D) float32, scaled
    is_train: np.ndarray  # (N,) bool
    mean: np.ndarray  # (D,) shift: training mean (standard) or minimum (minmax)
    scale: np.ndarray  # (D,) training standard deviation or range (1 where it is 0)
    is_labelled: np.ndarray  # (N,) bool, a subset of is_train
    encoding: Encoding | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of ``x``'s features (``colour=red`` for a category)."""
        return self.dataset.feature_names if self.encoding is None else self.encoding.feature_names

    @property
    def y(self) -> np.ndarray:
        return self.dataset.y

    @property
    def n_train(self) -> int:
        return int(self.is_train.sum())

    def info(self) -> dict:
        """What a model trained on this split needs to take raw data, as JSON-ready values:
        ``feature_names``, ``class_names``, and the scaling (raw inputs ``x`` become
        ``(x - scaler_mean) / scaler_scale``); for images, ``image_shape``. For a table
        that was encoded, also :meth:`Encoding.info`: its columns (``raw_features``), which
        become the features after missing values are filled (``impute_values``) and each
        categorical column is one-hot encoded with its ``categories``."""
        info = {
            "feature_names": list(self.feature_names),
            "class_names": list(self.dataset.class_names),
            "scaler_mean": self.mean.tolist(),
            "scaler_scale": self.scale.tolist(),
        }
        if self.dataset.image_shape:  # an image folder to predict is read in this shape
            info["image_shape"] = list(self.dataset.image_shape)
        return info if self.encoding is None else {**info, **self.encoding.info()}


def split_dataset(
    dataset: Dataset,
    test_size: float | int,
    seed: int,
    labels: int | None = None,
    scaling: str = "standard",
    impute: str | None = None,
) -> Split:
    """Stratified train/held-out split (or the dataset's own); encode and scale with the
    training part.

    ``labels``: keep the labels of this many training samples per class (chosen with
    ``seed``); the other training samples become unlabelled. ``scaling``: ``standard`` (zero
    mean, unit variance), ``minmax`` (to [0, 1]) or ``auto`` (minmax for images). A table's
    missing values are filled (``impute``: ``mean`` or ``median``) and its categorical
    columns one-hot encoded before scaling (:func:`aelab.data.encoding.encode`).
    """
    if dataset.test_mask is not None:
        is_train = ~dataset.test_mask
        for c, name in enumerate(dataset.class_names):
            if not (is_train & (dataset.y == c)).any():
                raise DataError(
                    f"{dataset.name}: class {name!r} has no training sample; the training "
                    "part needs every class"
                )
    else:
        is_train = _random_split(dataset, test_size, seed)
    if scaling == "auto":  # a signal (one axis) is standardised as a table is
        scaling = "minmax" if len(dataset.image_shape) >= 2 else "standard"
    encoding = None
    if isinstance(dataset.x, np.memmap):  # from disk (never categorical, nothing missing)
        shift, scale = _chunked_statistics(dataset.x, is_train, scaling)
        x = _scaled_on_disk(dataset.x, shift, scale)  # a chunk at a time, onto disk
    elif dataset.x.dtype.kind in "iu" and not dataset.categories and impute is None:
        # bytes (images): statistics and the float32 inputs a chunk at a time, so that no
        # float64 copy of every pixel is made (50,000 CIFAR images: 1.2 GB)
        rows = max(1, _CHUNK_BYTES // (8 * dataset.x.shape[1]))
        shift, scale = _chunked_statistics(dataset.x, is_train, scaling, rows)
        x, work = np.empty(dataset.x.shape, np.float32), np.empty((rows, dataset.x.shape[1]))
        for start in range(0, len(x), rows):
            block = dataset.x[start : start + rows]
            out = work[: len(block)]  # (x - shift) / scale in float64, as for any data
            np.subtract(block, shift, out=out)
            np.divide(out, scale, out=out)
            x[start : start + rows] = out
    else:
        raw, encoding = encode(dataset, is_train, impute)  # (N, D')
        train = raw[is_train]
        if scaling == "minmax":
            shift, scale = train.min(axis=0), np.ptp(train, axis=0)
        else:
            shift, scale = train.mean(axis=0), train.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)  # constant columns (digits' border pixels)
        x = ((raw - shift) / scale).astype(np.float32)
    labelled = _labelled(dataset, is_train, labels, seed)
    return Split(dataset, x, is_train, shift, scale, labelled, encoding)


def _chunked_statistics(
    x: np.ndarray, is_train: np.ndarray, scaling: str, rows: int = CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """The training rows' shift and scale, reading ``x`` ``rows`` rows at a time (means and
    variances combined chunk by chunk as Chan et al.'s parallel algorithm does)."""
    count, mean, m2 = 0, np.zeros(x.shape[1]), np.zeros(x.shape[1])
    low, high = np.full(x.shape[1], np.inf), np.full(x.shape[1], -np.inf)
    for start in range(0, len(x), rows):
        block = np.asarray(x[start : start + rows][is_train[start : start + rows]])
        if len(block) == 0:
            continue
        block = block.astype(np.float64)
        if scaling == "minmax":
            low, high = np.minimum(low, block.min(axis=0)), np.maximum(high, block.max(axis=0))
            continue
        n, block_mean = len(block), block.mean(axis=0)
        delta = block_mean - mean
        total = count + n
        mean = mean + delta * n / total
        m2 = m2 + ((block - block_mean) ** 2).sum(axis=0) + delta**2 * count * n / total
        count = total
    shift, scale = (low, high - low) if scaling == "minmax" else (mean, np.sqrt(m2 / count))
    return shift, np.where(scale > 0, scale, 1.0)


def _scaled_on_disk(x: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(x - shift) / scale`` as float32 in a memory-mapped scratch file (in ``TMPDIR``),
    written a chunk at a time. The file's name is removed at once: the mapping keeps its data
    until the array is gone, and nothing is left behind whatever happens."""
    handle, name = tempfile.mkstemp(prefix="aelab-scaled-", suffix=".npy")
    os.close(handle)
    try:
        out = np.lib.format.open_memmap(name, mode="w+", dtype=np.float32, shape=x.shape)
        for start in range(0, len(x), CHUNK_ROWS):
            block = np.asarray(x[start : start + CHUNK_ROWS], np.float64)
            out[start : start + CHUNK_ROWS] = (block - shift) / scale
        out.flush()
    finally:
        os.unlink(name)
    return out


def _random_split(dataset: Dataset, test_size: float | int, seed: int) -> np.ndarray:
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
    is_train = np.ones(n, dtype=bool)
    is_train[stratified_test_rows(dataset.y, n_test, seed)] = False
    return is_train


def stratified_test_rows(y: np.ndarray, n_test: int, seed: int) -> np.ndarray:
    """The held-out rows of scikit-learn's ``train_test_split(..., test_size=n_test,
    stratify=y, random_state=seed)``, drawn as it draws them (``StratifiedShuffleSplit``, the
    same random numbers in the same order), without importing scikit-learn (a second of a
    short run). Every class of ``y`` (N,) has at least 2 samples."""
    classes, y_index, counts = np.unique(y, return_inverse=True, return_counts=True)
    by_class = np.split(np.argsort(y_index, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    n_train = len(y) - n_test
    train_counts = _approximate_mode(counts, n_train, rng)
    test_counts = _approximate_mode(counts - train_counts, n_test, rng)
    test = []
    for rows, count, n_tr, n_te in zip(by_class, counts, train_counts, test_counts, strict=True):
        drawn = rows.take(rng.permutation(count), mode="clip")
        test.extend(drawn[n_tr : n_tr + n_te])
    return np.asarray(test, dtype=np.intp)


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's ``utils.extmath._approximate_mode``: each class's share of ``n_draws``
    rounded down, the rest given to the largest remainders, ties broken with ``rng``."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add = min(len(tied), need)
            floored[rng.choice(tied, size=add, replace=False)] += 1
            need -= add
            if need == 0:
                break
    return floored.astype(int)


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

"""The user's own data files: CSV/TSV tables, NPZ arrays, MNIST IDX pairs, image folders
(:mod:`aelab.data.images`) and CIFAR-10's binary batches (:mod:`aelab.data.cifar`).

Every loader returns a :class:`~aelab.data.Dataset` or raises a one-line
:class:`~aelab.errors.DataError` that names the file and, where it applies, the row and column,
and says how to fix it. Nothing here writes anything.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from aelab.data.cifar import is_cifar_folder, read_cifar, refuse_pickled
from aelab.data.columns import read_table_dataset
from aelab.data.datasets import CHUNK_ROWS, DATASETS, Dataset, load_dataset
from aelab.data.images import read_image_folder
from aelab.data.tables import file_error as _fail
from aelab.errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def looks_like_file(name: str) -> bool:
    """Whether a ``--dataset`` value names a file or a folder rather than a built-in
    dataset."""
    lower = name.lower().removesuffix(".gz")
    suffixes = (*TABLE_SUFFIXES, ".npz", ".npy", "-ubyte", ".idx", ".bin")
    return "/" in name or lower.endswith(suffixes) or Path(name).is_dir()


def load_file(
    path: str | Path,
    *,
    label_column: str | None = None,
    drop_columns: tuple[str, ...] = (),
    drop_missing: bool = False,
    categorical: str | tuple[str, ...] = "auto",
    impute: str | None = None,
    image_size: tuple[int, int] | None = None,
    colour: bool | None = None,
) -> tuple[Dataset, int]:
    """Load a data file or folder; return the dataset and how many rows were dropped for
    missing values.

    The first options are a table's (:func:`aelab.data.columns.read_table_dataset`); other
    files have no columns to choose, and no missing values. ``image_size`` and ``colour``
    are an image folder's (:func:`aelab.data.images.read_image_folder`); other data keeps
    its own size (``image_size`` may only repeat it)."""
    path = Path(path)
    if path.is_dir() and not is_cifar_folder(path):
        refuse_pickled(path)
        return read_image_folder(path, image_size, colour), 0
    if path.is_dir():
        dataset, dropped = read_cifar(path), 0
    elif not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist; check the path")
    else:
        dataset, dropped = _read_file(
            path, label_column, drop_columns, drop_missing, categorical, impute
        )
    if image_size is not None and tuple(image_size) != dataset.image_shape[:2]:
        shape = "x".join(map(str, dataset.image_shape)) or f"{dataset.x.shape[1]} features"
        raise DataError(
            f"{path}: --image-size resizes the images of an image folder; this data keeps its "
            f"own size ({shape}): leave --image-size out"
        )
    return dataset, dropped


def _read_file(path, label_column, drop_columns, drop_missing, categorical, impute):
    """A data file (not a folder): the dataset, and the rows dropped for missing values."""
    lower = path.name.lower().removesuffix(".gz")
    if lower.endswith(".bin"):
        return read_cifar(path), 0
    if lower.endswith(".npz"):
        return _npz(path), 0
    if path.name.lower().endswith(".npy"):
        return _npy(path), 0
    if lower.endswith(("-ubyte", ".idx")):
        return _idx_pair(path), 0
    refuse_pickled(path)
    return read_table_dataset(
        path, label_column, tuple(drop_columns), drop_missing, categorical, impute
    )


def _npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = {k.lower(): k for k in npz.files}
            if "x" not in keys or "y" not in keys:
                raise _fail(path, f"needs arrays 'X' and 'y'; it has {sorted(npz.files)}")
            x, y = npz[keys["x"]], npz[keys["y"]]
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise _fail(path, f"is not a readable NPZ file ({exc})") from None
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise _fail(
            path, f"X must be a real numeric array of samples x features, got {x.dtype} {x.shape}"
        )
    if len(x) == 0 or x[0].size == 0:
        raise _fail(path, f"X has no samples or no features (shape {x.shape})")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise _fail(path, "y holds labels that are not whole numbers (or NaN); use class ids")
    if y.ndim != 1 or len(y) != len(x):
        raise _fail(
            path, f"y must have one label per sample: X has {len(x)}, y has shape {y.shape}"
        )
    image_shape = tuple(x.shape[1:]) if x.ndim == 3 else ()
    x = x.reshape(len(x), -1).astype(np.float64)
    classes, codes = np.unique(y.astype(str) if y.dtype.kind in "OUS" else y, return_inverse=True)
    names = tuple(f"x{i}" for i in range(x.shape[1]))
    return _dataset(path, x, codes, names, tuple(str(c) for c in classes), image_shape)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (raw or .gz); its header's shape must match its size."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(path, f"cannot be read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise _fail(path, "is not an IDX file (its first bytes are not an IDX header)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise _fail(path, "has a truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a huge header cannot wrap
    if len(raw) - header != expected:
        raise _fail(
            path,
            f"header says {'x'.join(map(str, shape))} values ({expected} bytes) but the file "
            f"holds {len(raw) - header} bytes; it is truncated or not this format",
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def _idx_pair(path: Path) -> Dataset:
    name = path.name
    if "labels" in name:
        raise _fail(path, "is a labels file; give the images file (…images-idx3-ubyte)")
    labels = path.with_name(name.replace("images", "labels").replace("idx3", "idx1"))
    if labels == path or not labels.is_file():
        raise _fail(path, f"needs its labels file beside it, named {labels.name!r}")
    images, y = read_idx(path), read_idx(labels)
    if images.ndim != 3 or y.ndim != 1 or len(images) != len(y) or len(y) == 0:
        raise _fail(
            path,
            f"images {images.shape} and labels {y.shape} do not pair up; expected "
            "(N, height, width) and (N,)",
        )
    classes, codes = np.unique(y, return_inverse=True)
    x = images.reshape(len(images), -1).astype(np.float64)
    names = tuple(f"pixel{i}" for i in range(x.shape[1]))
    return _dataset(path, x, codes, names, tuple(str(c) for c in classes), images.shape[1:])


def npy_labels_path(path: Path) -> Path:
    """Where the labels of ``path`` (a ``.npy`` of features) are: ``y.npy`` beside ``X.npy``,
    ``NAME.labels.npy`` beside any other ``NAME.npy``."""
    stem = path.name[: -len(".npy")]
    return path.with_name("y.npy" if stem in ("X", "x") else f"{stem}.labels.npy")


def _npy(path: Path) -> Dataset:
    """Features from a ``.npy`` file, memory-mapped: nothing is read until it is used, so
    the data may be larger than memory; labels from :func:`npy_labels_path`."""
    labels = npy_labels_path(path)
    if not labels.is_file():
        raise _fail(path, f"needs its labels beside it, in {labels.name!r} (one class id a sample)")
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
        y = np.load(labels, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise _fail(path, f"is not a readable .npy pair with {labels.name} ({exc})") from None
    if x.ndim < 2 or x.dtype.kind not in "biuf":
        raise _fail(
            path, f"must be a real numeric array of samples x features, got {x.dtype} {x.shape}"
        )
    if len(x) == 0 or x[0].size == 0:
        raise _fail(path, f"has no samples or no features (shape {x.shape})")
    if y.ndim != 1 or len(y) != len(x):
        raise _fail(
            path,
            f"{labels.name} must hold one label per sample: {len(x)} samples, labels {y.shape}",
        )
    if y.dtype.kind not in "biu":
        raise _fail(path, f"{labels.name} must hold integer class ids, got {y.dtype}")
    if not x.flags.c_contiguous:  # reshaping it would copy the whole file into memory
        raise _fail(path, "is stored in Fortran order; save it in C order (np.ascontiguousarray)")
    image_shape = tuple(int(s) for s in x.shape[1:]) if x.ndim == 3 else ()
    x = x.reshape(len(x), -1)  # a view of the same mapping
    for start in range(0, len(x), CHUNK_ROWS):  # one pass, a chunk in memory at a time
        block = x[start : start + CHUNK_ROWS]
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            row, col = np.argwhere(~np.isfinite(block))[0]
            raise _fail(path, f"sample {start + row + 1}, feature {col} is not a finite number")
    classes, codes = np.unique(y, return_inverse=True)
    return Dataset(
        name=path.name, x=x, y=codes.astype(np.int32),
        feature_names=tuple(f"x{i}" for i in range(x.shape[1])),
        class_names=tuple(str(c) for c in classes), image_shape=image_shape,
    )  # fmt: skip


def _dataset(path, x, y, features, classes, image_shape=()) -> Dataset:
    if not np.isfinite(x).all():
        row, col = np.argwhere(~np.isfinite(x))[0]
        raise _fail(path, f"sample {row + 1}, feature {features[col]!r} is not a finite number")
    return Dataset(
        name=path.name, x=x, y=np.asarray(y, np.int32), feature_names=features,
        class_names=classes, image_shape=tuple(int(s) for s in image_shape),
    )  # fmt: skip


def load_data(
    source: str,
    *,
    test_file: str | None = None,
    label_column: str | None = None,
    drop_columns: tuple[str, ...] = (),
    drop_missing: bool = False,
    categorical: str | tuple[str, ...] = "auto",
    impute: str | None = None,
    image_size: tuple[int, int] | None = None,
) -> tuple[Dataset, int]:
    """The dataset ``source`` names (a built-in name, a file or a folder), with ``test_file``
    as the held-out part; also the number of rows dropped for missing values. The other
    arguments are :func:`load_file`'s (``DataConfig`` holds all of them:
    ``load_data(**config.loading)``).

    ``test_file`` is read as the training file was: the same label column, and the same
    columns categorical (their categories the union of both files'); a test image folder
    in the training images' size (``image_size``) and mode (greyscale or colour)."""
    options = {
        "label_column": label_column,
        "drop_columns": tuple(drop_columns),
        "drop_missing": drop_missing,
        "categorical": categorical if isinstance(categorical, str) else tuple(categorical),
        "impute": impute,
        "image_size": None if image_size is None else tuple(image_size),
    }
    if source in DATASETS:
        dataset, dropped = load_dataset(source), 0
        if image_size is not None and tuple(image_size) != dataset.image_shape[:2]:
            raise DataError(
                f"{source}: --image-size resizes the images of an image folder; a built-in "
                "dataset keeps its own size: leave --image-size out"
            )
    else:
        dataset, dropped = load_file(source, **options)
        if dataset.n_classes < 2:
            raise DataError(
                f"{dataset.name}: has fewer than two classes ({list(dataset.class_names)}); a "
                "classifier needs two or more"
            )
    if test_file is None:
        return dataset, dropped
    if dataset.test_mask is not None:
        raise DataError(
            f"{dataset.name}: has its own held-out part (a CIFAR-10 folder's test_batch.bin, "
            "a built-in split); leave --test-file out, or give one data batch file as --dataset"
        )
    if dataset.label_column is not None:  # a table: read the other one the same way
        options.update(label_column=dataset.label_column, categorical=tuple(dataset.categories))
    if len(dataset.image_shape) >= 2:  # images: the training images' mode
        options.update(colour=len(dataset.image_shape) == 3)
    test, more = load_file(test_file, **options)
    if dataset.image_shape and test.image_shape != dataset.image_shape:
        shown = ("x".join(map(str, s)) for s in (test.image_shape, dataset.image_shape))
        raise DataError(
            f"{Path(test_file).name}: its images are {next(shown)} but the training images "
            f"are {next(shown)}; give both one size (--image-size resizes image folders)"
        )
    return _with_test_part(dataset, test, Path(test_file).name), dropped + more


def _with_test_part(dataset: Dataset, test: Dataset, test_name: str) -> Dataset:
    """``dataset`` followed by ``test``, its held-out part: the classes and the categories of
    both, each sample's class and category indices into them."""
    if test.feature_names != dataset.feature_names:
        raise DataError(
            f"{test_name}: its features {list(test.feature_names)[:6]} are "
            f"not those of the training data {list(dataset.feature_names)[:6]}"
        )
    unknown = sorted(set(test.class_names) - set(dataset.class_names))
    if unknown:
        raise DataError(f"{test_name}: classes {unknown} never occur in the training data")
    names = np.concatenate(
        [np.array(dataset.class_names)[dataset.y], np.array(test.class_names)[test.y]]
    )
    classes, y = np.unique(names, return_inverse=True)
    x = np.concatenate([dataset.x, test.x])
    categories = {}
    for name, own in dataset.categories.items():
        both = tuple(sorted(set(own) | set(test.categories[name])))
        k = dataset.feature_names.index(name)
        for rows, found in ((slice(None, len(dataset.y)), own),
                            (slice(len(dataset.y), None), test.categories[name])):  # fmt: skip
            codes = x[rows, k]
            known = ~np.isnan(codes)
            codes[known] = np.searchsorted(both, np.array(found))[codes[known].astype(int)]
        categories[name] = both
    return dataclasses.replace(
        dataset, x=x, y=y.astype(np.int32), class_names=tuple(str(c) for c in classes),
        test_mask=np.arange(len(y)) >= len(dataset.y), categories=categories,
    )  # fmt: skip

"""The user's own data files: CSV/TSV tables, NPZ arrays, MNIST IDX pairs.

Every loader returns a :class:`~aelab.data.Dataset` or raises a one-line
:class:`~aelab.errors.DataError` that names the file and, where it applies, the row and column,
and says how to fix it. Nothing here writes anything.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np

from aelab.data.datasets import CHUNK_ROWS, DATASETS, Dataset, load_dataset
from aelab.errors import DataError

LABEL_NAMES = ("label", "labels", "class", "target", "y")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def looks_like_file(name: str) -> bool:
    """Whether a ``--dataset`` value names a file rather than a built-in dataset."""
    lower = name.lower().removesuffix(".gz")
    return "/" in name or lower.endswith((*TABLE_SUFFIXES, ".npz", ".npy", "-ubyte", ".idx"))


def load_file(
    path: str | Path,
    *,
    label_column: str | None = None,
    drop_columns: tuple[str, ...] = (),
    drop_missing: bool = False,
) -> tuple[Dataset, int]:
    """Load a data file; return the dataset and how many rows were dropped for missing values."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist; check the path")
    lower = path.name.lower().removesuffix(".gz")
    if lower.endswith(".npz"):
        return _npz(path), 0
    if path.name.lower().endswith(".npy"):
        return _npy(path), 0
    if lower.endswith(("-ubyte", ".idx")):
        return _idx_pair(path), 0
    return _table(path, label_column, drop_columns, drop_missing)


def _fail(path: Path, message: str) -> DataError:
    return DataError(f"{path.name}: {message}")


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(path, f"cannot be read ({exc})") from None
    except UnicodeDecodeError:
        raise _fail(path, "is not UTF-8 text; save it as UTF-8 CSV") from None


def _table(
    path: Path, label_column: str | None, drop_columns: tuple[str, ...], drop_missing: bool
) -> tuple[Dataset, int]:
    import pandas as pd  # heavy: imported when a table is read

    frame, has_header = read_table(path)
    for name in drop_columns:
        if name not in frame.columns:
            raise _fail(path, f"--drop-columns: no column {name!r}; columns: {_list(frame)}")
    frame = frame.drop(columns=list(drop_columns))
    label = _label_column(path, frame, label_column)

    dropped = 0
    missing = frame.isna().to_numpy()
    if missing.any():
        if not drop_missing:
            row, col = np.argwhere(missing)[0]
            raise _fail(
                path,
                f"row {row + 2 if has_header else row + 1}, column {frame.columns[col]!r} is "
                f"missing ({int(missing.any(axis=1).sum())} rows have missing values); fill them "
                "in or pass --drop-missing",
            )
        keep = ~missing.any(axis=1)
        dropped = int((~keep).sum())
        frame = frame[keep]
        if frame.empty:
            raise _fail(path, f"every row has a missing value ({dropped} rows); none is left")

    features = [c for c in frame.columns if c != label]
    if not features:
        raise _fail(path, f"has no feature columns besides the label column {label!r}")
    for name in features:
        values = pd.to_numeric(frame[name], errors="coerce")
        if values.isna().any():
            bad = frame[name][values.isna()].iloc[0]
            raise _fail(
                path,
                f"column {name!r} is not numeric (it holds {bad!r}); drop it with "
                f"--drop-columns {name} or choose it as --label-column",
            )
        frame[name] = values
    x = frame[features].to_numpy(np.float64)
    classes, y = np.unique(frame[label].astype(str).to_numpy(), return_inverse=True)
    if _all_integers(classes):  # numeric labels sort as numbers, not as text
        order = np.argsort(classes.astype(float), kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        classes, y = classes[order], rank[y]
    return _dataset(path, x, y, tuple(features), tuple(str(c) for c in classes)), dropped


def read_table(path: Path):
    """The table as a DataFrame of text column names, and whether it had a header row."""
    import pandas as pd  # heavy: imported when a table is read

    text = _read_text(path)
    if not text.strip():
        raise _fail(path, "is empty; it needs a header row and one row per sample")
    sample = text[:65536]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t| ")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    has_header = _has_header(sample, delimiter)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=0 if has_header else None,
            skipinitialspace=True,
        )  # fmt: skip
    except (pd.errors.ParserError, ValueError) as exc:
        raise _fail(path, f"is not a readable table ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise _fail(path, "has a header but no rows")
    return frame, has_header


def _has_header(sample: str, delimiter: str) -> bool:
    """Whether the first row names the columns. The sniffer's guess, overruled when the first
    row's last field occurs nowhere else in its column: a class name repeats, a header does
    not (this catches numeric column names such as wavelengths, which fool the sniffer)."""
    try:
        if csv.Sniffer().has_header(sample):
            return True
    except csv.Error:
        return True
    rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
    if len(rows) < 3:
        return False
    first = rows[0][-1].strip()
    try:
        float(first)
        return False  # a number in the label's place: data
    except ValueError:
        pass
    return all(r[-1].strip() != first for r in rows[1:-1])  # the last row may be cut off


def _all_integers(values: np.ndarray) -> bool:
    try:
        numbers = values.astype(float)
    except ValueError:
        return False
    return bool(np.all(numbers == np.round(numbers)))


def _list(frame) -> str:
    names = list(frame.columns)
    return ", ".join(names[:12]) + (f", … ({len(names)} in all)" if len(names) > 12 else "")


def _label_column(path: Path, frame, label_column: str | None) -> str:
    if label_column is not None:
        if label_column not in frame.columns:
            raise _fail(
                path, f"--label-column: no column {label_column!r}; columns: {_list(frame)}"
            )
        return label_column
    by_name = {name.lower(): name for name in frame.columns}
    for wanted in LABEL_NAMES:  # in this order: "y" is a feature name too, so it comes last
        if wanted in by_name:
            return by_name[wanted]
    return frame.columns[-1]  # the usual place of the class


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
) -> tuple[Dataset, int]:
    """The dataset ``source`` names (a built-in name or a file), with ``test_file`` as the
    held-out part; also the number of rows dropped for missing values. The other arguments
    are :func:`load_file`'s (``DataConfig`` holds all of them: ``load_data(**config.loading)``)."""
    options = {
        "label_column": label_column,
        "drop_columns": tuple(drop_columns),
        "drop_missing": drop_missing,
    }
    if source in DATASETS:
        dataset, dropped = load_dataset(source), 0
    else:
        dataset, dropped = load_file(source, **options)
        if dataset.n_classes < 2:
            raise DataError(
                f"{dataset.name}: has fewer than two classes ({list(dataset.class_names)}); a "
                "classifier needs two or more"
            )
    if test_file is None:
        return dataset, dropped
    test, more = load_file(test_file, **options)
    if test.feature_names != dataset.feature_names:
        raise DataError(
            f"{Path(test_file).name}: its features {list(test.feature_names)[:6]} are "
            f"not those of the training data {list(dataset.feature_names)[:6]}"
        )
    names = np.concatenate(
        [np.array(dataset.class_names)[dataset.y], np.array(test.class_names)[test.y]]
    )
    classes, y = np.unique(names, return_inverse=True)
    unknown = sorted(set(test.class_names) - set(dataset.class_names))
    if unknown:
        raise DataError(
            f"{Path(test_file).name}: classes {unknown} never occur in the training data"
        )
    test_mask = np.arange(len(y)) >= len(dataset.y)
    merged = Dataset(
        name=dataset.name, x=np.concatenate([dataset.x, test.x]), y=y.astype(np.int32),
        feature_names=dataset.feature_names, class_names=tuple(str(c) for c in classes),
        image_shape=dataset.image_shape, test_mask=test_mask,
    )  # fmt: skip
    return merged, dropped + more

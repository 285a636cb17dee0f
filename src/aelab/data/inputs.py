"""Samples in the data's own units made into what a trained model takes, and data files read
to be predicted.

A model's checkpoint records how its run's data became the model's inputs
(:meth:`aelab.data.Split.info`): the features, by name and in order, and the scaling.
:func:`model_inputs` is the one path from raw samples (an array, or a table whose columns are
matched by name) to the model's inputs; every problem is one :class:`~aelab.errors.DataError`
line naming the samples, the feature and the fix. A table's own encoding (categorical columns,
filled-in values), which its run records, is applied in :func:`raw_features`, the only place
that turns columns into features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aelab.data.columns import LABEL_NAMES
from aelab.data.datasets import DATASETS, load_dataset
from aelab.data.files import load_file, npy_labels_path, read_idx
from aelab.data.tables import read_table
from aelab.errors import DataError


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def _is_frame(x: Any) -> bool:
    """Whether ``x`` is a pandas DataFrame (told without importing pandas)."""
    return hasattr(x, "columns") and hasattr(x, "iloc")


def model_inputs(x: Any, info: dict[str, Any], source: str = "X") -> np.ndarray:
    """The inputs (N, D) float32 of a model whose checkpoint says ``info``, made of samples
    ``x`` in the data's own units, scaled as the run scaled its data; ``source`` names ``x``
    in messages."""
    features = raw_features(x, info, source)
    mean = np.asarray(info["scaler_mean"], np.float64)
    scale = np.asarray(info["scaler_scale"], np.float64)
    return ((features - mean) / scale).astype(np.float32)  # as split_dataset scales


def raw_features(x: Any, info: dict[str, Any], source: str = "X") -> np.ndarray:
    """The features (N, D) float64 of samples ``x``, in the order the model takes them.

    ``x``: a pandas DataFrame, whose columns are matched by name (others are ignored), or an
    array (N, D) of the features in order ((N, height, width) images are flattened). A table
    that its run encoded (:class:`aelab.data.Encoding`) is encoded the same way: its missing
    values filled with the training part's values, each categorical column one-hot with the
    training part's categories (a category training never saw: all 0).
    """
    names = [str(n) for n in info["feature_names"]]
    if "raw_features" in info:
        values = _encoded(x, info, source)
    else:
        values = _columns(x, names, source) if _is_frame(x) else _array(x, names, source)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{source}: sample {row + 1}, feature {names[col]!r} is not a finite number "
            f"({values[row, col]}); fill it in or leave the sample out"
        )
    return values


def input_columns(info: dict[str, Any]) -> list[str]:
    """The columns samples give a model whose checkpoint says ``info``: its run's table's
    columns (before categorical columns became one feature per category), else its
    features."""
    return [str(n) for n in info.get("raw_features", info["feature_names"])]


def _encoded(x: Any, info: dict[str, Any], source: str) -> np.ndarray:
    """The features of samples of a table that its run encoded (see :func:`raw_features`)."""
    columns = input_columns(info)
    categories = {str(k): [str(c) for c in v] for k, v in info.get("categories", {}).items()}
    fill = info.get("impute_values", {})
    if not _is_frame(x):
        if categories:
            raise DataError(
                f"{source}: this run's table has text columns ({_names(list(categories))}); "
                f"pass a table (a pandas DataFrame) with its columns {_names(columns)}"
            )
        x = _array(x, columns, source)  # (N, D) float64, a copy
        for j, name in enumerate(columns):
            x[np.isnan(x[:, j]), j] = fill.get(name, np.nan)
        return x
    missing = [c for c in columns if c not in {str(n) for n in x.columns}]
    if missing:
        raise DataError(
            f"{source}: has no column {_names(missing)}; this run's model takes the "
            f"columns {_names(columns)}"
        )
    numeric = [c for c in columns if c not in categories]
    values = _columns(x, numeric, source) if numeric else np.empty((len(x), 0))  # (N, numeric)
    for j, name in enumerate(numeric):
        values[np.isnan(values[:, j]), j] = fill.get(name, np.nan)
    at = {name: j for j, name in enumerate(numeric)}
    blocks = [  # a column each, or a category each of a categorical column
        _one_hot(x, name, categories[name], fill.get(name), source)
        if name in categories
        else values[:, at[name] : at[name] + 1]
        for name in columns
    ]
    return np.concatenate(blocks, axis=1)


def _one_hot(frame, name: str, categories: list[str], fill, source: str) -> np.ndarray:
    """(N, C): column ``name`` of ``frame`` against its training ``categories``."""
    if len(frame) == 0:
        raise DataError(f"{source}: has no samples (no rows)")
    column = frame.set_axis([str(c) for c in frame.columns], axis=1)[name]
    if column.ndim != 1:
        raise DataError(f"{source}: has two columns named {name!r}; rename one")
    absent = column.isna().to_numpy()
    if absent.any() and fill is None:
        raise DataError(
            f"{source}: sample {int(np.argmax(absent)) + 1}, column {name!r} is missing; this "
            "run filled nothing in (it ran without --impute): fill it in or leave it out"
        )
    values = np.array(column.astype(str).to_numpy(), dtype=str)  # a copy: the user's stays
    values[absent] = str(fill)
    return (values[:, None] == np.asarray(categories)[None, :]).astype(np.float64)


def _columns(frame, names: list[str], source: str) -> np.ndarray:
    import pandas as pd  # heavy: a DataFrame was given, so pandas is loaded already

    columns = [str(c) for c in frame.columns]
    missing = [n for n in names if n not in columns]
    if missing:
        raise DataError(
            f"{source}: has no column {_names(missing)}; this run's model takes the "
            f"columns {_names(names)}"
        )
    if len(frame) == 0:
        raise DataError(f"{source}: has no samples (no rows)")
    frame = frame.set_axis(columns, axis=1)
    out = np.empty((len(frame), len(names)))
    for j, name in enumerate(names):
        column = frame[name]
        if isinstance(column, pd.DataFrame):
            raise DataError(f"{source}: has two columns named {name!r}; rename one")
        values = pd.to_numeric(column, errors="coerce")
        wrong = values.isna() & column.notna()
        if wrong.any():
            raise DataError(
                f"{source}: column {name!r} is not numeric (it holds "
                f"{column[wrong].iloc[0]!r}); this run's model takes numbers there"
            )
        out[:, j] = values.to_numpy(np.float64, na_value=np.nan)
    return out


def _array(x: Any, names: list[str], source: str) -> np.ndarray:
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise DataError(f"{source}: is not an array of samples x features ({exc})") from None
    if x.dtype.kind not in "biuf" or x.ndim < 2:
        raise DataError(
            f"{source}: must be a real numeric array of samples x features, got {x.dtype} of "
            f"shape {x.shape}; one sample is x.reshape(1, -1)"
        )
    if len(x) == 0:
        raise DataError(f"{source}: has no samples (shape {x.shape})")
    x = x.reshape(len(x), -1)
    if x.shape[1] != len(names):
        raise DataError(
            f"{source}: has {x.shape[1]} features; this run's model takes {len(names)} "
            f"({_names(names, 4)}), in this order"
        )
    return x.astype(np.float64)


@dataclass(frozen=True)
class Inputs:
    """A data file read to be predicted: its samples and, when it has them, their labels.

    Attributes:
        name: the file's name, or the built-in dataset's.
        samples: a table's DataFrame (columns by name) or an array (N, D) of features.
        labels: (N,) the class name of every sample, or ``None`` when the data has no labels
            that all name the model's classes.
    """

    name: str
    samples: Any
    labels: np.ndarray | None


def read_inputs(
    source: str | Path,
    classes: list[str],
    features: list[str] = (),
    text_columns: tuple[str, ...] = (),
    image_shape: tuple[int, ...] = (),
) -> Inputs:
    """The data ``source`` names (a built-in dataset or a file, read as ``aelab run`` reads
    it), to be predicted by a model of ``classes`` that takes ``features``. Labels are
    optional: a table's label column is the first column that is not one of ``features``
    and holds only names of ``classes`` (columns named like a label first); an NPZ file's
    ``y``; a ``.npy`` or IDX file's labels file beside it. A table's ``text_columns`` (its
    run's categorical ones) are read as the text written. An image folder is read in the
    model's ``image_shape`` (height, width[, 3]): its images resized to it, in its mode;
    its class folders are the labels."""
    if str(source) in DATASETS:
        import pandas as pd  # heavy: imported when a built-in dataset is predicted

        ds = load_dataset(str(source))
        frame = pd.DataFrame(ds.x, columns=list(ds.feature_names))
        return Inputs(ds.name, frame, _known(np.asarray(ds.class_names)[ds.y], classes))
    path = Path(source)
    if path.is_dir() or path.name.lower().endswith(".bin"):  # image folder, CIFAR-10 batches
        shape = tuple(image_shape)
        size, colour = (shape[:2], len(shape) == 3) if len(shape) >= 2 else (None, None)
        ds, _ = load_file(path, image_size=size, colour=colour)
        return Inputs(ds.name, ds.x, _known(np.asarray(ds.class_names)[ds.y], classes))
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist; check the path")
    lower = path.name.lower().removesuffix(".gz")
    if not lower.endswith((".npz", ".npy", "-ubyte", ".idx")):  # a table, as load_file reads
        frame, _ = read_table(path, text_columns)
        return Inputs(path.name, frame, _table_labels(frame, classes, features))
    if _has_labels(path, lower):
        ds, _ = load_file(path)
        return Inputs(path.name, ds.x, _known(np.asarray(ds.class_names)[ds.y], classes))
    return Inputs(path.name, _features_only(path, lower), None)


def _known(labels: np.ndarray, classes: list[str]) -> np.ndarray | None:
    labels = labels.astype(str)
    return labels if np.isin(labels, classes).all() else None


def _table_labels(frame, classes: list[str], features: list[str]) -> np.ndarray | None:
    def rank(name: str) -> int:  # columns named like a label first, the others in order
        return LABEL_NAMES.index(name.lower()) if name.lower() in LABEL_NAMES else len(LABEL_NAMES)

    others = [str(c) for c in frame.columns if str(c) not in features]
    by_name = sorted(others, key=rank)  # a stable sort
    for name in by_name:
        column = frame[name]
        if column.ndim != 1 or column.isna().any():
            continue
        values = column.to_numpy()
        if values.dtype.kind == "f" and np.all(values == np.round(values)):
            values = values.astype(np.int64)  # 1.0 names class "1"
        found = _known(values.astype(str), classes)
        if found is not None:
            return found
    return None


def _has_labels(path: Path, lower: str) -> bool:
    """Whether an NPZ, NPY or IDX file comes with labels (then ``load_file`` reads it)."""
    if lower.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as npz:
                return "y" in {k.lower() for k in npz.files}
        except (OSError, ValueError, EOFError):
            return True  # load_file names what is wrong
    if lower.endswith(".npy"):
        return npy_labels_path(path).is_file()
    return "labels" in path.name or _idx_labels(path).is_file()


def _idx_labels(path: Path) -> Path:
    return path.with_name(path.name.replace("images", "labels").replace("idx3", "idx1"))


def _features_only(path: Path, lower: str) -> np.ndarray:
    """The features of an NPZ (``X``), NPY or IDX images file without labels."""
    if not lower.endswith((".npz", ".npy")):
        x = read_idx(path)
    else:
        try:
            if lower.endswith(".npy"):
                x = np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                with np.load(path, allow_pickle=False) as npz:
                    arrays = {k.lower(): npz[k] for k in npz.files if k.lower() == "x"}
                    found = sorted(npz.files)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{path.name}: is not a readable array file ({exc})") from None
        if lower.endswith(".npz"):
            if "x" not in arrays:
                raise DataError(f"{path.name}: needs an array 'X'; it has {found}")
            x = arrays["x"]
    if x.ndim < 2 or x.dtype.kind not in "biuf" or len(x) == 0 or x[0].size == 0:
        raise DataError(
            f"{path.name}: must be a real numeric array of samples x features, got {x.dtype} "
            f"{x.shape}"
        )
    return np.asarray(x).reshape(len(x), -1)

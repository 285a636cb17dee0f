"""A CSV/TSV table as a :class:`Dataset`: its label column, its missing values, and what each
feature column is: numbers, categories (one-hot encoded later, by the split, with the training
part's categories) or unusable, every unusable column named in one line.

Text columns are categorical under ``--categorical auto`` when they hold at most
``MAX_CATEGORIES`` different values and mostly not numbers (a column of numbers with a stray
``x`` is a typo to fix, not categories); ``none`` refuses text; a list of columns makes those
categorical (numbers too: as written, ``01`` and ``1`` apart) and refuses other text.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from aelab.data.datasets import Dataset
from aelab.data.tables import file_error, read_table
from aelab.errors import DataWarning

LABEL_NAMES = ("label", "labels", "class", "target", "y")
MAX_CATEGORIES = 50  # different values of a text column that --categorical auto encodes
CATEGORICAL_MODES = ("auto", "none")
SHOWN_PROBLEMS = 20  # unusable columns an error lists by name

log = logging.getLogger(__name__)


def read_table_dataset(
    path: Path,
    label_column: str | None = None,
    drop_columns: tuple[str, ...] = (),
    drop_missing: bool = False,
    categorical: str | tuple[str, ...] = "auto",
    impute: str | None = None,
) -> tuple[Dataset, int]:
    """The table at ``path`` and the number of rows dropped (``drop_missing``) for a missing
    value. With ``impute``, missing feature values stay NaN for the split to fill; a missing
    label is never filled: it is an error, or its row dropped with ``drop_missing``."""
    listed = () if isinstance(categorical, str) else tuple(categorical)
    frame, has_header = read_table(path, text_columns=listed)
    names = list(frame.columns)
    _check_named_columns(path, names, "--drop-columns", drop_columns)
    _check_named_columns(path, names, "--categorical", listed)
    drop = set(drop_columns)
    kept = [name for name in names if name not in drop]
    label, chosen = choose_label(path, kept, label_column)
    if label in listed:
        raise file_error(
            path, f"--categorical lists the label column {label!r}; leave it out (classes "
            "need no encoding) or choose another --label-column",
        )  # fmt: skip
    features = [name for name in kept if name != label]
    if not features:
        raise file_error(path, f"has no feature columns besides the label column {label!r}")
    at = {name: j for j, name in enumerate(names)}
    x, missing, text = _numbers(frame, [at[name] for name in features])
    labels = frame.iloc[:, at[label]]
    keep = _rows_kept(
        path, has_header, features, label, at, missing, labels.isna().to_numpy(), drop_missing,
        impute,
    )  # fmt: skip
    if not keep.all():  # (a copy of every value: only when some row goes)
        x, missing = x[keep], missing[keep]
        text = {k: values[keep] for k, values in text.items()}
    categories = _categorical(path, features, x, missing, text, categorical)
    if np.isinf(x).any():
        row, col = np.argwhere(np.isinf(x))[0]
        raise file_error(
            path, f"sample {row + 1}, feature {features[col]!r} is not a finite number"
        )
    classes, y = _classes(labels.astype(str).to_numpy()[keep])
    if chosen != "--label-column":
        _tell_label(path, label, chosen, labels.to_numpy()[keep], labels.dtype.kind in "biuf")
    dataset = Dataset(
        name=path.name, x=x, y=y, feature_names=tuple(features), class_names=classes,
        categories=categories, label_column=label, label_chosen=chosen,
    )  # fmt: skip
    return dataset, int((~keep).sum())


def _list(names: list[str]) -> str:
    """The first column names, for a message (one line whatever they hold)."""
    shown = ", ".join(n if n.isprintable() else repr(n) for n in names[:12])
    return shown + (f", … ({len(names)} in all)" if len(names) > 12 else "")


def _check_named_columns(path: Path, names: list[str], flag: str, wanted: tuple[str, ...]) -> None:
    """Every column ``flag`` names must exist."""
    known = set(names)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise file_error(path, f"{flag}: no column {listed}; columns: {_list(names)}")


def choose_label(path: Path, names: list[str], label_column: str | None) -> tuple[str, str]:
    """The label column, and how it was chosen: ``--label-column``, else the first of
    ``LABEL_NAMES`` (any case), else the last column."""
    if label_column is not None:
        if label_column not in names:
            raise file_error(
                path, f"--label-column: no column {label_column!r}; columns: {_list(names)}"
            )
        return label_column, "--label-column"
    by_name = {name.lower(): name for name in names}
    for wanted in LABEL_NAMES:  # in this order: "y" is a feature name too, so it comes last
        if wanted in by_name:
            return by_name[wanted], "named like a label"
    return names[-1], "the last column"  # the usual place of the class


def _numbers(frame, columns: list[int]) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """The table's ``columns`` as numbers (N, D), NaN where a value is missing or not a
    number; which values are missing (N, D); the values of the columns pandas read as text.

    Column by column with plain numpy: a DataFrame of 100,000 columns holds as many blocks,
    and selecting or converting columns through it took seconds, and a pandas call for each
    column minutes."""
    import pandas as pd  # heavy: imported when a table is read

    place = dict(zip(columns, range(len(columns)), strict=True))  # frame column -> x column
    x = np.empty((len(frame), len(columns)), np.float64)  # (N, D)
    text = {}
    for j, (_, column) in enumerate(frame.items()):
        k = place.get(j)
        if k is None:
            continue
        if column.dtype.kind in "biuf":
            x[:, k] = column.to_numpy(np.float64)
        else:
            x[:, k] = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
            text[k] = column.to_numpy(object)  # str, NaN where missing
    missing = np.isnan(x)
    for k, values in text.items():
        missing[:, k] = pd.isna(values)
    return x, missing, text


def _rows_kept(
    path, has_header, features, label, at, missing, no_label, drop_missing, impute
) -> np.ndarray:
    """Which rows are kept (N,): every one, or those without a missing value with
    ``drop_missing`` (with ``impute``: those without a missing label). Otherwise a missing
    value is an error naming its row and column."""
    rows = no_label | (missing.any(axis=1) if impute is None else False)
    if not rows.any():
        return ~rows
    if not drop_missing:
        row = int(np.argmax(rows))
        line = row + 2 if has_header else row + 1
        if no_label[row]:
            raise file_error(
                path, f"row {line} has no label (column {label!r} is missing; "
                f"{int(no_label.sum())} rows have none); fill them in or pass --drop-missing "
                "to drop those rows",
            )  # fmt: skip
        gaps = [features[k] for k in np.flatnonzero(missing[row])]
        raise file_error(
            path, f"row {line}, column {min(gaps, key=at.__getitem__)!r} is missing "
            f"({int(rows.sum())} rows have missing values); fill them in, pass --impute mean "
            "or --impute median to fill them from the training part, or --drop-missing to drop "
            "those rows",
        )  # fmt: skip
    if rows.all():
        raise file_error(path, f"every row has a missing value ({len(rows)} rows); none is left")
    return ~rows


def _categorical(path, features, x, missing, text, mode) -> dict[str, tuple[str, ...]]:
    """Turn the text columns that are categorical into category indices in ``x`` (in place)
    and return their categories; refuse the other text columns, all in one line."""
    listed = () if isinstance(mode, str) else tuple(mode)
    problems, categories = [], {}
    for k, values in text.items():
        name, present = features[k], ~missing[:, k]
        numbers = present & ~np.isnan(x[:, k])
        if name not in listed and numbers.sum() == present.sum():
            continue  # numbers after all (" 1", "1e3 ")
        values = values[present].astype(str)
        if name not in listed and (mode != "auto" or 2 * numbers.sum() >= present.sum()):
            bad = str(values[~numbers[present]][0])
            problems.append((name, f"is not numeric (it holds {bad!r})"))
            continue
        found, codes = np.unique(values, return_inverse=True)
        if name not in listed and len(found) > MAX_CATEGORIES:
            problems.append((name, f"is text of {len(found)} different values (--categorical "
                                   f"auto one-hot encodes at most {MAX_CATEGORIES})"))  # fmt: skip
            continue
        x[:, k] = np.nan
        x[present, k] = codes
        categories[name] = tuple(str(v) for v in found)
    if problems:
        raise _unusable(path, problems)
    return {name: categories[name] for name in features if name in categories}


def _unusable(path: Path, problems: list[tuple[str, str]]):
    """One line that names every unusable column (the first ``SHOWN_PROBLEMS`` by what is
    wrong) and the ways out."""
    shown = "; ".join(f"column {name!r} {why}" for name, why in problems[:SHOWN_PROBLEMS])
    if len(problems) > SHOWN_PROBLEMS:
        shown += f"; and {len(problems) - SHOWN_PROBLEMS} more"
    names = _as_flag([name for name, _ in problems])
    if len(problems) == 1:
        return file_error(
            path, f"{shown}; drop it with --drop-columns {names}, one-hot encode it with "
            f"--categorical {names}, or choose it as --label-column",
        )  # fmt: skip
    return file_error(
        path, f"{len(problems)} columns cannot be used: {shown}; drop them with --drop-columns "
        f"{names}, one-hot encode them with --categorical {names}, or choose one as "
        "--label-column",
    )  # fmt: skip


def _as_flag(names: list[str]) -> str:
    """``names`` as a flag's value: ``a,b``; quoted when a name holds a comma or a character
    that does not print (the message stays one line)."""
    joined = ",".join(names)
    return joined if joined.isprintable() and all("," not in n for n in names) else repr(joined)


def _classes(labels: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """The class names, sorted (as numbers when every one is a whole number), and each
    sample's class index."""
    classes, y = np.unique(labels, return_inverse=True)
    if _all_integers(classes):  # numeric labels sort as numbers, not as text
        order = np.argsort(classes.astype(float), kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        classes, y = classes[order], rank[y]
    return tuple(str(c) for c in classes), y.astype(np.int32)


def _all_integers(values: np.ndarray) -> bool:
    try:
        numbers = values.astype(float)
    except ValueError:
        return False
    return bool(np.all(numbers == np.round(numbers)))


def _tell_label(path: Path, label: str, chosen: str, values: np.ndarray, numeric: bool) -> None:
    """Say which column was taken as the label and why (``aelab run`` prints it); warn when
    its values look like an id, a year or a measurement rather than classes."""
    log.info("%s: label column %r (%s)", path.name, label, chosen)
    if not numeric:
        return
    values = values.astype(np.float64)
    distinct = len(np.unique(values))
    if len(values) > 2 and distinct == len(values):
        looks = "an id: every row has its own value"
    elif np.all(values == np.round(values)) and np.all((values >= 1800) & (values <= 2100)):
        looks = "a year"
    elif distinct > MAX_CATEGORIES:
        looks = f"a measurement, not classes: it holds {distinct} different numbers"
    else:
        return
    warnings.warn(
        f"{path.name}: the label column {label!r} ({chosen}) looks like {looks}; if the "
        "classes are in another column, name it with --label-column",
        DataWarning,
        stacklevel=2,
    )

"""A table's columns made into the model's inputs, fitted on the training part only: missing
values filled (``--impute``), categorical columns one-hot encoded.

A categorical column becomes one feature per category the training part holds, named
``column=value``; a held-out sample whose value training never saw has all of them 0.
Missing numbers are filled with the training part's mean or median, missing categories with
its most frequent one (scikit-learn's ``SimpleImputer``, imported only when asked).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aelab.data.datasets import Dataset
from aelab.errors import DataError

IMPUTE = ("mean", "median")


@dataclass(frozen=True)
class Encoding:
    """What :func:`encode` did, fitted on the training part.

    Attributes:
        columns: the table's feature columns, in order.
        feature_names: the inputs made of them (``colour=red`` for a category).
        categories: each categorical column's training categories, one feature each.
        impute: ``mean``, ``median`` or ``None``.
        fill: the value that fills each column's missing values (a category for a
            categorical column); empty without ``impute``.
        imputed: how many values of each column were filled (every sample).
        unseen: how many samples of each categorical column hold a category training never
            saw (all its features 0).
    """

    columns: tuple[str, ...]
    feature_names: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    impute: str | None
    fill: dict[str, float | str]
    imputed: dict[str, int]
    unseen: dict[str, int]

    def info(self) -> dict:
        """What taking raw data needs, as JSON-ready values: the table's columns, the
        categories of each categorical one, and the values that fill missing ones."""
        out: dict = {
            "raw_features": list(self.columns),
            "categories": {name: list(c) for name, c in self.categories.items()},
        }
        if self.impute is not None:
            out.update(impute=self.impute, impute_values=dict(self.fill))
        return out

    def summary(self) -> dict:
        """What was done, for ``metrics.json``'s ``data`` table."""
        out: dict = {}
        if self.categories:
            out["categorical"] = {name: list(c) for name, c in self.categories.items()}
            out["unseen_categories"] = dict(self.unseen)
        if self.impute is not None:
            out.update(impute=self.impute, imputed=dict(self.imputed))
        return out


def encode(
    dataset: Dataset, is_train: np.ndarray, impute: str | None = None
) -> tuple[np.ndarray, Encoding | None]:
    """The inputs (N, D') of ``dataset``: its missing values filled (``impute``) and its
    categorical columns one-hot encoded, both fitted on the ``is_train`` samples. Without
    either, ``dataset.x`` itself and ``None``."""
    if not dataset.categories and impute is None:
        return dataset.x, None
    x = np.array(dataset.x, np.float64)  # (N, D), filled in place
    names = dataset.feature_names
    at = [names.index(name) for name in dataset.categories]  # categorical columns of x
    missing = np.isnan(x)
    fill: dict[str, float | str] = {}
    if impute is not None:
        values = _fill_values(dataset, x[is_train], at, impute)  # (D,)
        rows, cols = np.nonzero(missing)
        x[rows, cols] = values[cols]
        fill = {
            name: dataset.categories[name][int(v)] if name in dataset.categories else float(v)
            for name, v in zip(names, values, strict=True)
        }
    elif missing.any():  # the loader lets missing values through only to be imputed
        raise DataError(f"{dataset.name}: has missing values; pass --impute or --drop-missing")
    blocks, features, categories, unseen, start = [], [], {}, {}, 0
    for k in at:
        name, codes = names[k], x[:, k]
        known = np.unique(codes[is_train])  # (C,) training categories' indices, sorted
        blocks += [x[:, start:k], (codes[:, None] == known[None, :]).astype(np.float64)]
        categories[name] = tuple(dataset.categories[name][int(c)] for c in known)
        features += [*names[start:k], *(f"{name}={c}" for c in categories[name])]
        unseen[name] = int((~np.isin(codes, known)).sum())
        start = k + 1
    blocks.append(x[:, start:])
    features += names[start:]
    counts = missing.sum(axis=0)
    encoding = Encoding(
        columns=tuple(names), feature_names=tuple(features), categories=categories,
        impute=impute, fill=fill,
        imputed={names[k]: int(counts[k]) for k in np.flatnonzero(counts)},
        unseen={name: n for name, n in unseen.items() if n},
    )  # fmt: skip
    return (np.concatenate(blocks, axis=1) if at else x), encoding


def _fill_values(dataset: Dataset, train: np.ndarray, at: list[int], impute: str) -> np.ndarray:
    """The value that fills each column (D,): the training part's mean or median of a numeric
    column, its most frequent category (index) of a categorical one."""
    from sklearn.impute import SimpleImputer  # heavy: imported when imputing is asked for

    empty = [dataset.feature_names[k] for k in np.flatnonzero(np.isnan(train).all(axis=0))]
    if empty:
        listed = ",".join(empty[:20])
        raise DataError(
            f"{dataset.name}: --impute {impute} cannot fill column(s) "
            f"{', '.join(map(repr, empty[:20]))}: the training part holds no value of them; "
            f"drop them with --drop-columns {listed if listed.isprintable() else repr(listed)}"
        )
    categorical = np.zeros(train.shape[1], bool)
    categorical[at] = True
    values = np.empty(train.shape[1])
    for columns, strategy in ((~categorical, impute), (categorical, "most_frequent")):
        if columns.any():
            imputer = SimpleImputer(strategy=strategy).fit(train[:, columns])
            values[columns] = imputer.statistics_
    return values

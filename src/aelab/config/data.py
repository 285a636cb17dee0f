"""Frozen, validated settings of a run's data: which dataset or file, how it is split, which
of its samples keep their labels, and how a table's columns become features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aelab.checks import choices, require_choice, require_int
from aelab.data import CATEGORICAL_MODES, DATASETS, IMPUTE, MAX_CATEGORIES, looks_like_file
from aelab.errors import ConfigError

SCALINGS = ("auto", "standard", "minmax")
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class DataConfig:
    """Which data, and how it is split into a training and a held-out part.

    Attributes:
        dataset: a built-in dataset name (``aelab.data.DATASETS``) or the path of a CSV/TSV,
            NPZ (``X``, ``y``) or MNIST IDX images file.
        test_size: held-out share, a fraction in (0, 1) or a sample count.
        split_seed: seed of the stratified split; ``None`` uses the run's ``seed``.
        labels: keep the labels of this many training samples per class, the rest of the
            training part unlabelled (semi-supervised); ``None`` keeps every label.
        test_file: a file of the same kind as ``dataset`` that is the held-out part (instead
            of a split).
        label_column: the label column of a table (default: one named label, class, target
            or y, else the last).
        drop_columns: table columns to leave out.
        drop_missing: drop table rows with missing values instead of refusing them (with
            ``impute``: the rows whose label is missing; labels are never filled).
        categorical: which text columns of a table are one-hot encoded, with the training
            part's categories: ``auto`` (those of at most 50 different values), ``none``
            (text is an error), or a list of column names.
        impute: fill a table's missing feature values with the training part's ``mean`` or
            ``median`` (the most frequent category for categorical columns); ``None``
            refuses them (or ``drop_missing`` drops their rows).
        scaling: ``standard``, ``minmax`` (to [0, 1]) or ``auto`` (minmax for images,
            standard for tables).
        image_size: (height, width) every image of an image folder is resized to; ``None``
            requires the images to have one size.
    """

    dataset: str = "iris"
    test_size: float | int = 0.5
    split_seed: int | None = None
    labels: int | None = None
    test_file: str | None = None
    label_column: str | None = None
    drop_columns: tuple[str, ...] = ()
    drop_missing: bool = False
    categorical: str | tuple[str, ...] = "auto"
    impute: str | None = None
    scaling: str = "auto"
    image_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not (
            self.dataset in DATASETS or looks_like_file(self.dataset)
        ):
            raise ConfigError(
                f"data.dataset: unknown dataset {self.dataset!r}; choose one of "
                f"{choices(DATASETS)}, or give the path of a .csv, .tsv, .npz, .npy, IDX or "
                "CIFAR-10 .bin file, or of an image folder (my_images/)"
            )
        for name in ("test_file", "label_column"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"data.{name} must be text, got {value!r}")
        drop = self.drop_columns
        if isinstance(drop, list):
            drop = tuple(drop)
            object.__setattr__(self, "drop_columns", drop)
        if not isinstance(drop, tuple) or not all(isinstance(c, str) for c in drop):
            raise ConfigError(f"data.drop_columns must be a list of column names, got {drop!r}")
        if not isinstance(self.drop_missing, bool):
            raise ConfigError(f"data.drop_missing must be true or false, got {self.drop_missing!r}")
        self._check_categorical()
        self._check_image_size()
        if self.impute is not None:
            require_choice("data.impute", self.impute, IMPUTE, "imputation")
        require_choice("data.scaling", self.scaling, SCALINGS, "scaling")
        t = self.test_size
        if isinstance(t, bool) or not isinstance(t, int | float):
            raise ConfigError(f"data.test_size must be a number, got {t!r}")
        if isinstance(t, float) and not 0.0 < t < 1.0:
            raise ConfigError(
                f"data.test_size must be a fraction between 0 and 1 (exclusive) or a sample "
                f"count, got {t!r}; the original experiment uses 0.5"
            )
        if isinstance(t, int) and t < 1:
            raise ConfigError(f"data.test_size must be a positive sample count, got {t!r}")
        if self.split_seed is not None:
            require_int(
                "data.split_seed", self.split_seed, 0, "or leave it unset", maximum=MAX_SEED
            )
        if self.labels is not None:
            require_int("data.labels", self.labels, 1, "labelled samples per class")

    def _check_categorical(self) -> None:
        value = self.categorical
        if isinstance(value, list):
            value = tuple(value)
            object.__setattr__(self, "categorical", value)
        if isinstance(value, str) and value in CATEGORICAL_MODES:
            return
        if (
            not isinstance(value, tuple)
            or not value
            or not all(isinstance(c, str) and c for c in value)
        ):
            raise ConfigError(
                f"data.categorical must be 'auto' (text columns of at most {MAX_CATEGORIES} "
                f"values), 'none', or a list of column names, got {value!r}"
            )

    def _check_image_size(self) -> None:
        value = self.image_size
        if value is None:
            return
        if isinstance(value, list):
            value = tuple(value)
            object.__setattr__(self, "image_size", value)
        if not (
            isinstance(value, tuple)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
        ):
            raise ConfigError(
                f"data.image_size must be [height, width] in pixels, such as [32, 32], got "
                f"{value!r}; leave it unset to keep the images' own size"
            )

    @property
    def loading(self) -> dict[str, Any]:
        """What :func:`aelab.data.load_data` reads: ``load_data(**config.data.loading)``."""
        return {
            "source": self.dataset,
            "test_file": self.test_file,
            "label_column": self.label_column,
            "drop_columns": tuple(self.drop_columns),
            "drop_missing": self.drop_missing,
            "categorical": self.categorical,
            "impute": self.impute,
            "image_size": self.image_size,
        }

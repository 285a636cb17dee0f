"""The one reader of run and sweep folders: every file is checked as it is read.

A damaged, truncated or foreign file gives one line that names the file and what is wrong
(:class:`~aelab.errors.RunFolderError`, or the config's and checkpoint's own errors), never a
traceback; what passes the checks is what figures, the report, the animation, ``aelab
generate`` and resuming may rely on: arrays of the right kinds and shapes, finite codes,
known strategies, metrics that are numbers.
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aelab.config import (
    OUTER,
    STRATEGIES,
    RunConfig,
    SweepConfig,
    load_config,
    load_sweep_config,
)
from aelab.errors import RunFolderError
from aelab.models import AbstractModel, Params
from aelab.outputs.checkpoint import load_checkpoint
from aelab.outputs.style import shown_rows
from aelab.training.plan import PRETRAINED
from aelab.training.program import HISTORY_FIELDS

# What a damaged archive or array raises while it is read.
_UNREADABLE = (
    OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, TypeError,
    RuntimeError,
)  # fmt: skip


def damaged(path: Path, problem: str) -> RunFolderError:
    """The one-line error of a damaged file (what the file holds is quoted on one line)."""
    problem = problem.replace("\r", "\\r").replace("\n", "\\n")
    if len(problem) > 300:
        problem = problem[:300] + "…"
    return RunFolderError(f"{path}: {problem}; rerun to write it again, or restore the file")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without pickle; any damage is one line."""
    if not path.is_file():
        raise RunFolderError(f"{path} is missing; the folder is incomplete")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except _UNREADABLE as exc:
        raise damaged(path, f"is not a readable .npz archive ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


class _Check:
    """Checks of one file's arrays, each failure one line naming the file and the array."""

    def __init__(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        self.path, self.arrays = path, arrays

    def get(self, name: str, kinds: str, ndim: int | None = None) -> np.ndarray:
        """Array ``name``: present, of a dtype kind in ``kinds`` (``"b"``, ``"iu"``, ``"f"``,
        ``"U"``), with ``ndim`` axes; numbers finite."""
        if name not in self.arrays:
            raise damaged(self.path, f"has no array {name!r}")
        a = self.arrays[name]
        if a.dtype.kind not in kinds or (ndim is not None and a.ndim != ndim):
            raise damaged(
                self.path, f"array {name!r} is {a.dtype} of shape {a.shape}, which is not what "
                "aelab writes there",
            )  # fmt: skip
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise damaged(self.path, f"array {name!r} holds numbers that are not finite")
        return a

    def shape(self, name: str, a: np.ndarray, expected: tuple) -> None:
        """``a``'s shape must be ``expected`` (``None``: any size on that axis)."""
        if len(a.shape) != len(expected) or any(
            e is not None and s != e for s, e in zip(a.shape, expected, strict=True)
        ):
            raise damaged(self.path, f"array {name!r} has shape {a.shape}, expected {expected}")


def _latents(path: Path) -> dict[str, np.ndarray]:
    """``latents.npz``, checked whole (see the module's docstring)."""
    arrays = read_npz(path)
    c = _Check(path, arrays)
    label = c.get("label", "iu", 1)
    n = len(label)
    classes = c.get("class_names", "U", 1)
    features = c.get("feature_names", "U", 1)
    d = len(features)
    if n == 0 or len(classes) < 2 or d == 0 or label.min() < 0 or label.max() >= len(classes):
        raise damaged(path, f"its labels do not fit its {len(classes)} class names")
    for name in ("index", "is_train", "is_labelled", "split"):
        c.shape(name, c.get(name, "U" if name == "split" else "biu", 1), (n,))
    strategies = [str(s) for s in c.get("strategies", "U", 1)]
    if not set(strategies) <= set(STRATEGIES) or len(set(strategies)) != len(strategies):
        raise damaged(path, f"its strategies {strategies} are not aelab's")
    image = c.get("image_shape", "iu", 1)
    if len(image) and ((image < 1).any() or int(np.prod(image)) != d):
        raise damaged(path, f"its image shape {image.tolist()} does not hold its {d} features")
    for name in ("scaler_mean", "scaler_scale"):
        c.shape(name, c.get(name, "f", 1), (d,))
    x = c.get("x", "f", 2)
    if "x_rows" in arrays:  # a run on data from disk keeps only the rows its report shows
        rows = c.get("x_rows", "iu", 1)
        c.shape("x", x, (len(rows), d))
        if not np.array_equal(rows, shown_rows(n)):
            raise damaged(path, "array 'x_rows' is not the samples the report shows")
    else:
        c.shape("x", x, (n, d))
    if "x_rows" in arrays or "x_first2" in arrays:  # every sample's first two features
        c.shape("x_first2", c.get("x_first2", "f", 2), (n, min(2, d)))
    # the pretrained stage, when the run pretrained (a strategy started from it, or asked)
    stages = [(PRETRAINED, "pretrain")] if f"code/{PRETRAINED}" in arrays else []
    stages += [(s, "finetune") for s in strategies]
    k = c.get(f"code/{stages[0][0]}", "f", 2).shape[1]
    if k == 0 or c.get("code/pca", "f", 2).shape[1] == 0:
        raise damaged(path, "its codes have no unit")
    c.shape("code/pca", arrays["code/pca"], (n, None))
    steps = {p: c.get(f"snapshot_steps/{p}", "iu", 1) for p in dict(stages).values()}
    for stage, phase in stages:
        c.shape(f"code/{stage}", c.get(f"code/{stage}", "f", 2), (n, k))
        snapshots = c.get(f"snapshots/{stage}", "f", 3)
        c.shape(f"snapshots/{stage}", snapshots, (len(steps[phase]), n, k))
        if not len(snapshots):
            raise damaged(path, f"array 'snapshots/{stage}' holds no snapshot")
    if "recon_rows" in arrays:  # image data: a few held-out inputs and their reconstructions
        rows = c.get("recon_rows", "iu", 1)
        if len(rows) == 0 or rows.min() < 0 or rows.max() >= n or len(image) < 2:
            raise damaged(path, "array 'recon_rows' does not name samples of its images")
        for name in ("recon_inputs", *(f"recon/{s}" for s, _ in stages)):
            c.shape(name, c.get(name, "f", 2), (len(rows), d))
    return arrays


def _number_tree(path: Path, value: Any, where: str) -> None:
    """Every leaf of a metrics dict is a number, ``null``, text, a list of text or a list of
    numbers (a layer's each)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            _number_tree(path, sub, f"{where}.{key}")
    elif isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            for i, v in enumerate(value):
                if isinstance(v, list | dict | str):
                    raise damaged(path, f"{where} is not a list of names or of numbers")
                _number_tree(path, v, f"{where}[{i}]")
    elif not (value is None or isinstance(value, str | int | float)) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise damaged(path, f"{where} is {value!r}, not a number")


_NUMBER = (int, float, type(None))  # a metric: a number, or null where it is undefined
# What figures, tables and pages read of metrics.json: table -> key -> type.
_METRICS = {
    "data": {"dataset": str, "n_train": int, "n_test": int, "n_features": int},
    "references.raw": {"knn_accuracy": _NUMBER, "silhouette": _NUMBER},
    "references.pca": {"knn_accuracy": _NUMBER, "silhouette": _NUMBER},
}
_PRETRAINED = {"test_reconstruction_mse": _NUMBER, "knn_accuracy": _NUMBER}
_STRATEGY = {"test_accuracy": _NUMBER, "test_reconstruction_mse": _NUMBER}
_TO_PRETRAINED = {"cka_to_pretrained": _NUMBER}  # a strategy's, when the run pretrained
_OPTIONAL_COUNTS = ("n_labelled", "n_unlabelled")


def _table(path: Path, metrics: dict, where: str) -> dict:
    table = metrics
    for key in where.split("."):
        table = table.get(key) if isinstance(table, dict) else None
    if not isinstance(table, dict):
        raise damaged(path, f"has no {where!r} table")
    return table


def _typed(path: Path, table: dict, where: str, keys: dict) -> None:
    for key, kind in keys.items():
        value = table.get(key, "missing")
        if isinstance(value, bool) or not isinstance(value, kind):
            raise damaged(path, f"{where}.{key} is {value!r}, not what aelab writes there")


def _metrics(path: Path, strategies: list[str], pretrained: bool) -> dict:
    if not path.is_file():
        raise RunFolderError(f"{path} is missing; the folder is incomplete")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise damaged(path, f"is not JSON ({_first_line(exc)})") from None
    if not isinstance(metrics, dict):
        raise damaged(path, "is not a JSON object of metrics")
    _number_tree(path, metrics, "metrics")
    tables = {**_METRICS, PRETRAINED: _PRETRAINED} if pretrained else _METRICS
    for where, keys in tables.items():
        _typed(path, _table(path, metrics, where), where, keys)
    data = metrics["data"]  # the counts of a semi-supervised run come together
    counts = _OPTIONAL_COUNTS if any(k in data for k in _OPTIONAL_COUNTS) else ()
    _typed(path, data, "data", dict.fromkeys(counts, int))
    found = _table(path, metrics, "strategies")
    if list(found) != strategies:
        raise damaged(path, f"its strategies {list(found)} are not the run's {strategies}")
    keys = {**_STRATEGY, **_TO_PRETRAINED} if pretrained else _STRATEGY
    for name in strategies:
        _typed(path, _table(path, found, name), f"strategies.{name}", keys)
    return metrics


@dataclass(frozen=True)
class RunFolder:
    """A finished run folder, checked: its config, metrics and latents (``latents.npz``'s
    arrays by name); :meth:`history` and :meth:`checkpoint` read the rest when asked."""

    path: Path
    config: RunConfig
    metrics: dict
    latents: dict[str, np.ndarray]

    @property
    def strategies(self) -> list[str]:
        return [str(s) for s in self.latents["strategies"]]

    @property
    def pretrained(self) -> bool:
        """Whether the run pretrained (it has the ``"pretrained"`` stage)."""
        return f"code/{PRETRAINED}" in self.latents

    @property
    def stages(self) -> list[str]:
        """``"pretrained"`` (when the run pretrained) and each strategy: the stages with a
        code and a checkpoint."""
        return [PRETRAINED, *self.strategies] if self.pretrained else self.strategies

    @property
    def reference_stage(self) -> str:
        """The stage whose code sets a figure's frame: the pretrained one, else the first."""
        return self.stages[0]

    def history(self) -> dict[str, np.ndarray]:
        """Every stage's losses at every step, (steps, 4) by stage; ``{}`` without the file."""
        path = self.path / "history.npz"
        if not path.is_file():
            return {}
        arrays = read_npz(path)
        c = _Check(path, arrays)
        if [str(f) for f in c.get("fields", "U", 1)] != list(HISTORY_FIELDS):
            raise damaged(path, f"its fields are not {list(HISTORY_FIELDS)}")
        out = {}
        for stage in self.stages:
            losses = arrays.get(stage)
            if losses is None or losses.dtype.kind != "f" or losses.ndim != 2 or (
                losses.shape[1] != len(HISTORY_FIELDS)
            ):  # fmt: skip
                raise damaged(path, f"has no (steps, 4) losses of stage {stage!r}")
            out[stage] = losses  # non-finite losses are drawn as gaps
        return out

    def checkpoint(self, stage: str) -> tuple[AbstractModel, Params]:
        """The model and parameters of ``stage`` (checked by the checkpoint's own reader)."""
        return load_checkpoint(self.path / "checkpoints" / f"{stage}.npz")

    def has_checkpoint(self, stage: str) -> bool:
        return (self.path / "checkpoints" / f"{stage}.npz").is_file()


def is_run(path: str | Path) -> bool:
    """Whether ``path`` looks like a run folder (it has ``latents.npz``)."""
    return (Path(path) / "latents.npz").is_file()


def read_run(path: str | Path) -> RunFolder:
    """Read and check the run folder ``path``; every problem is one line naming its file."""
    path = Path(path)
    if not is_run(path):
        raise RunFolderError(f"{str(path)!r} is not an aelab run folder (no latents.npz)")
    config = load_config(path / "config.toml")
    latents = _latents(path / "latents.npz")
    strategies = [str(s) for s in latents["strategies"]]
    if list(config.strategies) != strategies:
        raise damaged(
            path / "config.toml", f"its strategies {list(config.strategies)} are not the "
            f"run's {strategies}",
        )  # fmt: skip
    pretrained = f"code/{PRETRAINED}" in latents
    if config.pretrains and not pretrained:
        raise damaged(path / "latents.npz", f"has no array 'code/{PRETRAINED}'")
    metrics = _metrics(path / "metrics.json", strategies, pretrained)
    return RunFolder(path, config, metrics, latents)


SWEEP_COLUMNS = ("seed", "labels", "kind", "strategy", "recon_weight", "test_accuracy")
SUMMARY_COLUMNS = ("kind", "strategy", "labels", "n_seeds", "test_accuracy_mean")


def read_table(path: Path, columns: tuple[str, ...]):
    """A CSV table of a sweep folder (settings as written: ``none`` stays text, empty cells
    are missing), with ``columns``; every problem is one line."""
    import pandas as pd  # heavy: imported when a sweep's table is read

    if not path.is_file():
        raise RunFolderError(f"{path} is missing; the sweep folder is incomplete")
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise damaged(path, f"is not a readable CSV table ({_first_line(exc)})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise damaged(path, f"has no column {missing[0]!r}")
    numeric = [c for c in frame.columns if c.endswith(("accuracy", "_mse", "drift", "_mean",
                                                       "_sd", "_low", "_high"))]  # fmt: skip
    for column in ("seed", "n_seeds", *numeric):
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.isna().ne(frame[column].isna()).any():
                raise damaged(path, f"column {column!r} holds values that are not numbers")
            frame[column] = values
    for column in ("seed", "n_seeds", "kind", "strategy"):  # never empty
        if column in frame.columns and frame[column].isna().any():
            raise damaged(path, f"column {column!r} has empty cells")
    if not frame["kind"].isin(["aelab", "baseline"]).all():
        raise damaged(path, "column 'kind' holds values other than aelab and baseline")
    return frame


@dataclass(frozen=True)
class SweepFolder:
    """A sweep folder, checked: its config and rows; ``summary`` once it is finished."""

    path: Path
    config: SweepConfig
    results: Any  # pandas.DataFrame, or an empty one before the first slice
    summary: Any  # pandas.DataFrame, or None


def is_sweep(path: str | Path) -> bool:
    """Whether ``path`` looks like a sweep folder (it has ``sweep.toml``)."""
    return (Path(path) / "sweep.toml").is_file()


def read_sweep(path: str | Path, finished: bool = False) -> SweepFolder:
    """Read and check the sweep folder ``path``; ``finished``: it must have its summary."""
    import pandas as pd  # heavy: imported when a sweep is read

    path = Path(path)
    if not is_sweep(path):
        raise RunFolderError(f"{str(path)!r} is not a sweep folder (no sweep.toml); check the path")
    config = load_sweep_config(path / "sweep.toml")
    results = pd.DataFrame()
    if (path / "results.csv").is_file():  # with a column for each setting the grid varies
        outer = tuple(name[:-1] for name in OUTER if getattr(config, name))
        results = read_table(path / "results.csv", (*SWEEP_COLUMNS, *outer))
    summary = None
    if finished or (path / "summary.csv").is_file():
        summary = read_table(path / "summary.csv", SUMMARY_COLUMNS)
    return SweepFolder(path, config, results, summary)

"""What ``aelab run`` and ``aelab sweep`` share: their options (the model families' own come
from the family registry), the progress bar, and what they say about the data. None of it
imports JAX, so that ``--help`` is quick; the devices and hosts to train on are in
:mod:`aelab.cli.devices`."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aelab.cli import parsing
from aelab.config import STRATEGIES, DataConfig
from aelab.data import DATASETS
from aelab.errors import ConfigError, DataWarning
from aelab.models import DEFAULT_FAMILY, FAMILIES

_PHASES = {"pretrain": "pretraining (reconstruction)", "finetune": "fine-tuning strategies"}

STRATEGY_HELP = (
    "\b\nStrategies:\n"
    + "\n".join(f"  {name:<15} {s.summary}" for name, s in STRATEGIES.items())
    + "\n\n\b\nModel families (--model):\n"
    + "\n".join(f"  {name:<15} {f.summary}" for name, f in FAMILIES.items())
)


class RichProgress:
    """A progress bar per training phase, on stderr so stdout keeps the results.

    The bar starts with the first step reported, so errors found before training print alone.
    """

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("{task.description:<30}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self._tasks:
            self._bar.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self._tasks:
            self._bar.start()
        if phase not in self._tasks:
            self._tasks[phase] = self._bar.add_task(_PHASES.get(phase, phase), total=total)
        self._bar.update(self._tasks[phase], completed=done)


class _Echo(logging.Handler):
    """A library note on stderr, as ``aelab: <note>``."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"aelab: {record.getMessage()}", err=True)


@contextlib.contextmanager
def data_messages(quiet: bool) -> Iterator[None]:
    """What the library says about the data while a command runs, on stderr: its notes
    (which column of a table is the label, and why) unless ``quiet``, and always its
    :class:`DataWarning` s, as ``aelab: warning: <message>``."""
    library = logging.getLogger("aelab")
    handler, level = _Echo(), library.level
    if not quiet:
        library.addHandler(handler)
        library.setLevel(logging.INFO)
    with warnings.catch_warnings():  # restores warnings.showwarning on the way out
        warnings.simplefilter("always", DataWarning)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, DataWarning):
                click.echo(f"aelab: warning: {message}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        try:
            yield
        finally:
            library.removeHandler(handler)
            library.setLevel(level)


def options(*decorators: Callable) -> Callable:
    """Apply click options in the order they are listed (as --help shows them)."""

    def decorate(f):
        for option in reversed(decorators):
            f = option(f)
        return f

    return decorate


def family_settings() -> list[tuple[str, dataclasses.Field]]:
    """Every family's own settings: ``(family name, field)``, once each (a setting that
    several families share, such as ``beta``, comes with the first of them)."""
    out: dict[str, tuple[str, dataclasses.Field]] = {}
    for n, family in FAMILIES.items():
        for f in dataclasses.fields(family.settings):
            out.setdefault(f.name, (n, f))
    return list(out.values())


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def family_options(sweep: bool = False) -> list[Callable]:
    """``--model`` and every family's own settings. In a sweep, the setting that weighs a
    family's penalty takes a list, whose values are models of one program (``betas``)."""
    out = [
        click.option(
            "--model", "family", type=click.Choice(list(FAMILIES)),
            help=f"Model family, one of {', '.join(FAMILIES)} (see below) [{DEFAULT_FAMILY}].",
        )
    ]  # fmt: skip
    for family, field in family_settings():
        if sweep and field.name == FAMILIES[family].penalty_weight:
            help_text = field.metadata.get("help", "") + " A list such as 0.5,1,4 sweeps it."
            out.append(click.option(_flag(field.name), field.name, help=help_text))
        else:
            default = field.default
            kind = type(default) if isinstance(default, int | float) else str
            out.append(
                click.option(_flag(field.name), field.name, type=kind,
                             help=field.metadata.get("help"))
            )  # fmt: skip
    return out


def family_overrides(settings: dict, sweep: bool = False) -> dict:
    """Config overrides from the family options (in a sweep, all but the penalty weights)."""
    return {
        f"model.{field.name}": settings.pop(field.name)
        for family, field in family_settings()
        if not (sweep and field.name == FAMILIES[family].penalty_weight)
    }


DATA_OPTIONS = (
    click.option(
        "--dataset",
        help=f"One of {', '.join(DATASETS)}, a CSV/TSV, NPZ, NPY, IDX or CIFAR-10 .bin file, "
        "or a folder of one image folder per class [iris].",
    ),
    click.option(
        "--test-file", help="A file (or image folder) like --dataset's that is the held-out part."
    ),
    click.option(
        "--image-size",
        metavar="HxW",
        help="Resize every image of an image folder to height x width (32x32, or 32) [off: "
        "the images must have one size].",
    ),
    click.option("--label-column", help="Label column of a table [label/class/target/y, or last]."),
    click.option("--drop-columns", help="Comma-separated table columns to leave out."),
    click.option(
        "--drop-missing",
        is_flag=True,
        default=None,
        help="Drop rows with missing values (with --impute: rows without a label).",
    ),
    click.option(
        "--impute",
        type=click.Choice(["mean", "median"]),
        help="Fill missing numbers with the training part's mean or median, missing "
        "categories with its most frequent one [off: missing values are an error].",
    ),
    click.option(
        "--categorical",
        metavar="auto|none|COL,COL",
        help="Text columns one-hot encoded (training part's categories): auto (those of at "
        "most 50 values), none, or these columns [auto].",
    ),
    click.option(
        "--scaling",
        type=click.Choice(["auto", "standard", "minmax"]),
        help="standard, [0, 1] minmax, or auto: minmax for images [auto].",
    ),  # fmt: skip
    click.option("--strategies", help=f"Comma-separated subset of {','.join(STRATEGIES)} [all]."),
)
MODEL_OPTIONS = (
    click.option("--hidden", help="Hidden layer widths, e.g. 64,32; 'none' for none [none]."),
    click.option("--activation", help="Activation of the hidden layers [sigmoid]."),
    click.option("--code-activation", help="Activation of the code layer [sigmoid]."),
    click.option(
        "--dropout", type=float, help="Dropout of hidden and code units while training [0]."
    ),
    click.option(
        "--batch-norm/--no-batch-norm",
        default=None,
        help="Batch norm of hidden and code layers [off].",
    ),  # fmt: skip
)
TRAIN_OPTIONS = (
    click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "gpu"]),
        default="auto",
        help="Where to train: auto (a GPU when JAX sees one), cpu or gpu [auto].",
    ),  # fmt: skip
    click.option(
        "--devices",
        type=int,
        help="How many devices of that kind to train on, data-parallel [all JAX sees].",
    ),  # fmt: skip
    click.option("--pretrain-steps", type=int, help="Pretraining steps [5000]."),
    click.option("--finetune-steps", type=int, help="Fine-tuning steps [10000]."),
    click.option(
        "--batch-size",
        type=int,
        help="Samples in each step's minibatch (and as many labelled ones) [all: full batch].",
    ),  # fmt: skip
    click.option(
        "--sampling",
        type=click.Choice(["epochs", "draws"]),
        help="Minibatches: shuffled epochs, or draws with replacement [epochs].",
    ),  # fmt: skip
    click.option(
        "--lr-decay",
        type=float,
        help="Share of each phase's last steps over which the learning rate falls linearly "
        "to 0, e.g. 0.5 [0: constant].",
    ),  # fmt: skip
    click.option(
        "--snapshot-every", type=int, help="Keep every sample's code every N steps [100]."
    ),
    click.option("--test-size", help="Held-out share (0.5) or sample count (75) [0.5]."),
    click.option("--split-seed", type=int, help="Seed of the split alone [the run's --seed]."),
)


def shared_overrides(s: dict) -> dict:
    """Config overrides from the options both commands take (unset ones are None)."""
    return {
        "strategies": parsing.names(s["strategies"]),
        "data.dataset": s["dataset"],
        "data.test_file": s["test_file"],
        "data.label_column": s["label_column"],
        "data.drop_columns": parsing.names(s["drop_columns"]),
        "data.drop_missing": s["drop_missing"],
        "data.impute": s["impute"],
        "data.categorical": parsing.categorical(s["categorical"]),
        "data.scaling": s["scaling"],
        "data.image_size": parsing.image_size(s["image_size"]),
        "data.test_size": parsing.size("--test-size", s["test_size"]),
        "data.split_seed": s["split_seed"],
        "model.hidden": parsing.int_list("--hidden", s["hidden"]),
        "model.activation": s["activation"],
        "model.code_activation": s["code_activation"],
        "model.family": s["family"],
        "model.dropout": s["dropout"],
        "model.batch_norm": s["batch_norm"],
        "train.pretrain_steps": s["pretrain_steps"],
        "train.finetune_steps": s["finetune_steps"],
        "train.batch_size": s["batch_size"],
        "train.sampling": s["sampling"],
        "train.snapshot_every": s["snapshot_every"],
        "train.lr_decay": s["lr_decay"],
    }


def check_config_files(config: Path, data: DataConfig, s: dict) -> None:
    """The data files that the config file ``config`` names (and no flag replaces) exist;
    else one line that says where a relative path in a config file leads."""
    for key in ("dataset", "test_file"):
        value = getattr(data, key)
        if s[key] is not None or value is None or value in DATASETS or Path(value).exists():
            continue
        flag = "--" + key.replace("_", "-")
        raise ConfigError(
            f"{config}: data.{key} names {value!r}, which does not exist (a relative path in a "
            f"config file is relative to the file's folder); correct it there, or give {flag}"
        )

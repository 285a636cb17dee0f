"""Frozen, validated settings of a run, with TOML in and out.

A run is fully described by one :class:`RunConfig`; its defaults reproduce the original Iris
experiment. ``config.toml`` in every run folder is :func:`dump_config` of the resolved config,
and :func:`load_config` of that file reproduces the run, from any working folder: a relative
path of a data file in a config file is relative to the file's own folder (in a config in
memory, as on the command line, it is relative to the working folder).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from aelab.checks import choices, require_bool, require_choice, require_int, require_number
from aelab.config.data import MAX_SEED, DataConfig
from aelab.config.model import ModelConfig
from aelab.config.strategies import DEFAULT_STRATEGIES, STRATEGIES
from aelab.data import DATASETS, looks_like_file
from aelab.errors import ConfigError
from aelab.models import FAMILIES

PRETRAINING = ("end-to-end", "greedy")
SAMPLINGS = ("epochs", "draws")
MAX_LEARNING_RATE = 1e6  # beyond this, float32 arithmetic overflows before anything is learned
MAX_STEPS_VARIABLE = "AELAB_MAX_STEPS"


def max_steps() -> int | None:
    """The cap on every phase's steps that ``AELAB_MAX_STEPS`` sets (``None``: unset), for
    quick tries of long examples; a value that is not an integer >= 1 is a ConfigError."""
    value = os.environ.get(MAX_STEPS_VARIABLE, "").strip()
    if not value:
        return None
    try:
        cap = int(value)
    except ValueError:
        cap = 0
    if cap < 1:
        raise ConfigError(
            f"{MAX_STEPS_VARIABLE} must be an integer >= 1 (the most steps of any phase), "
            f"got {value!r}; unset it to train the steps the settings say"
        )
    return cap


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by all strategies.

    Attributes:
        learning_rate: Adam step size, for pretraining and fine-tuning.
        pretrain_steps: steps on the reconstruction error.
        finetune_steps: steps of each strategy's fine-tuning. Both are capped at
            ``AELAB_MAX_STEPS`` when that environment variable is set (:func:`max_steps`).
        recon_weight: lambda in ``cross-entropy + lambda * reconstruction error``.
        snapshot_every: keep every sample's code every this many steps.
        pretraining: ``end-to-end`` trains the whole autoencoder at once; ``greedy`` trains
            each layer as an autoencoder of the previous layer's code, ``pretrain_steps``
            steps a layer (stacked autoencoders, Bengio et al. 2007).
        batch_size: ``None`` (the default, as in the original experiment) trains on every
            training sample at every step; a number trains each step on that many samples
            drawn at random, plus as many labelled ones when only some are labelled.
        sampling: how minibatches pick their training samples: ``epochs`` (the default)
            goes through a fresh permutation of them every epoch; ``draws`` draws every
            minibatch with replacement. Unused without ``batch_size``.
        pretrained_reference: pretrain even when no strategy starts from the pretrained
            autoencoder (``supervised``, ``joint``), to show its code as a reference stage;
            otherwise a run pretrains only for the strategies that need it.
        lr_decay: the share of each phase's last steps over which the learning rate falls
            linearly to zero, as in the ladder network's paper (0.5: constant for the first
            half, then down to zero); 0, the default, keeps it constant.
    """

    learning_rate: float = 0.01
    pretrain_steps: int = 5000
    finetune_steps: int = 10000
    recon_weight: float = 1.0
    snapshot_every: int = 100
    pretraining: str = "end-to-end"
    batch_size: int | None = None
    sampling: str = "epochs"
    pretrained_reference: bool = False
    lr_decay: float = 0.0

    def __post_init__(self) -> None:
        lr = require_number("train.learning_rate", self.learning_rate)
        if not 0 < lr <= MAX_LEARNING_RATE:
            raise ConfigError(
                f"train.learning_rate must be > 0 and at most {MAX_LEARNING_RATE:g}, got "
                f"{self.learning_rate!r}; try 0.01"
            )
        object.__setattr__(self, "learning_rate", lr)
        require_int("train.pretrain_steps", self.pretrain_steps, 1, "try 5000")
        require_int("train.finetune_steps", self.finetune_steps, 1, "try 10000")
        lam = require_number("train.recon_weight", self.recon_weight)
        if lam < 0:
            raise ConfigError(
                f"train.recon_weight must be >= 0, got {self.recon_weight!r}; "
                "0 turns the reconstruction term off, 1 is the default"
            )
        object.__setattr__(self, "recon_weight", lam)
        require_int("train.snapshot_every", self.snapshot_every, 1, "try 100")
        require_choice("train.pretraining", self.pretraining, PRETRAINING, "pretraining")
        require_choice("train.sampling", self.sampling, SAMPLINGS, "sampling")
        if self.batch_size is not None:
            require_int(
                "train.batch_size", self.batch_size, 1, "or leave it unset for full batches"
            )
        require_bool("train.pretrained_reference", self.pretrained_reference)
        decay = require_number("train.lr_decay", self.lr_decay)
        if not 0 <= decay <= 1:
            raise ConfigError(
                f"train.lr_decay must be between 0 and 1 (the share of each phase's last steps "
                f"over which the learning rate falls to zero), got {self.lr_decay!r}; try 0.5"
            )
        object.__setattr__(self, "lr_decay", decay)
        cap = max_steps()  # the one place a cap applies: every run, sweep and estimator
        if cap is not None:  # is made of a TrainConfig, and config.toml says what was trained
            object.__setattr__(self, "pretrain_steps", min(self.pretrain_steps, cap))
            object.__setattr__(self, "finetune_steps", min(self.finetune_steps, cap))


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers.

    Attributes:
        seed: seed of the weights' initialisation (and of the split unless
            ``data.split_seed`` is set).
        strategies: strategies trained side by side (:data:`aelab.config.STRATEGIES`).
    """

    seed: int = 0
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        require_int("run.seed", self.seed, 0, "seeds run from 0 to 2**32 - 1", maximum=MAX_SEED)
        strategies = self.strategies
        if isinstance(strategies, str):
            strategies = (strategies,)
        if not isinstance(strategies, list | tuple):
            raise ConfigError(
                f"strategies must be a list of strategy names, got {strategies!r}; "
                f"choose from {choices(STRATEGIES)}"
            )
        strategies = tuple(strategies)
        object.__setattr__(self, "strategies", strategies)
        if not strategies:
            raise ConfigError(
                f"strategies must name at least one strategy; choose from {choices(STRATEGIES)}"
            )
        for name in strategies:
            require_choice("run.strategies", name, STRATEGIES, "strategy")
        if self.train.pretraining == "greedy" and not self.model.spec.greedy:
            greedy = [name for name, family in FAMILIES.items() if family.greedy]
            raise ConfigError(
                f"train.pretraining = greedy works with model.family = {' or '.join(greedy)}, "
                f"not {self.model.family!r}; use end-to-end pretraining"
            )
        if self.train.pretraining == "greedy" and self.model.batch_norm:
            raise ConfigError(
                "train.pretraining = greedy does not support model.batch_norm yet; use "
                "end-to-end pretraining or turn batch norm off"
            )
        if len(set(strategies)) != len(strategies):
            raise ConfigError(f"strategies: each strategy may appear once, got {list(strategies)}")

    @property
    def pretrains(self) -> bool:
        """Whether a run of this config pretrains: for a strategy that starts from the
        pretrained autoencoder, or for the reference stage ``train.pretrained_reference``."""
        return self.train.pretrained_reference or any(
            STRATEGIES[name].from_pretrained for name in self.strategies
        )

    @property
    def split_seed(self) -> int:
        """The seed of the train/held-out split: ``data.split_seed``, else ``seed``."""
        return self.seed if self.data.split_seed is None else self.data.split_seed

    def to_dict(self) -> dict[str, Any]:
        """A TOML-ready dict (unset optional values are left out)."""
        out = {
            "seed": self.seed,
            "strategies": list(self.strategies),
            "data": dataclasses.asdict(self.data),
            "model": self.model.own_keys(),
            "train": dataclasses.asdict(self.train),
        }
        out["model"]["hidden"] = list(self.model.hidden)
        out["data"]["drop_columns"] = list(self.data.drop_columns)
        if isinstance(self.data.categorical, tuple):
            out["data"]["categorical"] = list(self.data.categorical)
        return _drop_none(out)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str | None = None) -> RunConfig:
        """Build a config from nested dicts, naming unknown keys and wrong sections.

        ``source`` (a file name) starts every error message when given.
        """
        try:
            return cls._from_dict(raw)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}" if source else str(exc)) from None
        except (TypeError, ValueError) as exc:  # a value of a shape no validator expected
            raise ConfigError(f"{source or 'config'}: {exc}") from None

    @classmethod
    def _from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
        top = {f.name for f in dataclasses.fields(cls)} - set(sections)
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key in sections:
                if not isinstance(value, dict):
                    raise ConfigError(f"[{key}] must be a table of settings")
                kwargs[key] = _build(sections[key], value, key)
            elif key in top:
                kwargs[key] = value
            else:
                raise ConfigError(
                    f"unknown setting {key!r}; top-level keys are {choices(top)} and the "
                    f"tables are [{'], ['.join(sections)}]"
                )
        return cls(**kwargs)


def _build(cls, values: dict[str, Any], section: str):
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown setting {key!r} in [{section}]; known: {choices(known)}")
    return cls(**values)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


def with_overrides(
    config: RunConfig, overrides: dict[str, Any], none_unsets: bool = False
) -> RunConfig:
    """Return ``config`` with dotted keys (``"train.recon_weight"``) replaced.

    ``None`` values are ignored, so unset command-line flags keep the config's values; with
    ``none_unsets``, they unset the setting instead (``data.labels = None``: every label).
    """
    merged = config.to_dict()
    for dotted, value in overrides.items():
        if value is None and not none_unsets:
            continue
        *path, last = dotted.split(".")
        target = merged
        for part in path:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return RunConfig.from_dict(merged)


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict; a missing, unreadable or malformed file is a one-line
    :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist; check the path") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text; save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


DATA_PATHS = ("dataset", "test_file")  # the settings of [data] that name files


def _data_paths(raw: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """``raw`` (a config's TOML form) with each relative data file path ``p`` made
    ``change(p)``; built-in dataset names, absolute paths and values that are no path stay."""
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    data = dict(data)
    for key in DATA_PATHS:
        value = data.get(key)
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            continue
        if key == "dataset" and (value in DATASETS or not looks_like_file(value)):
            continue
        data[key] = change(value)
    return {**raw, "data": data}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A config file's TOML form (:func:`read_toml`), each relative data file path in it
    (relative to the file's folder) joined to the file's folder as ``path`` names it: the
    result is relative to the working folder when ``path`` is, else absolute."""
    folder = Path(path).parent
    return _data_paths(read_toml(path), lambda p: os.path.normpath(folder / p))


def config_text(raw: dict[str, Any], folder: str | Path | None = None) -> str:
    """A config's TOML form as the text of a file in ``folder``: each relative data file path
    (relative to the working folder) made relative to ``folder``, as
    :func:`read_config_file` reads it; an absolute path stays absolute."""

    def relative(path: str) -> str:
        try:
            return os.path.relpath(path, folder)
        except ValueError:  # on another drive (Windows): no relative path leads there
            return os.path.abspath(path)

    return tomli_w.dumps(raw if folder is None else _data_paths(raw, relative))


def load_config(path: str | Path) -> RunConfig:
    """Read a TOML config file; every problem is a one-line :class:`ConfigError`. A relative
    data file path in it is relative to the file's folder."""
    return RunConfig.from_dict(read_config_file(path), source=str(path))


def dump_config(config: RunConfig, folder: str | Path | None = None) -> str:
    """The config as TOML text; ``folder``: the folder of the file it is written to, which
    relative data file paths are made relative to (so that :func:`load_config` reads the
    same files from any working folder)."""
    return config_text(config.to_dict(), folder)

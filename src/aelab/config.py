"""Frozen, validated settings for every part of a run, with TOML in and out.

A run is fully described by one :class:`RunConfig`; its defaults reproduce the original Iris
experiment. ``config.toml`` in every run folder is :func:`save_config` of the resolved config,
and :func:`load_config` of that file reproduces the run.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from aelab.corruption import parse_noise
from aelab.data import DATASETS
from aelab.datafiles import looks_like_file
from aelab.errors import ConfigError
from aelab.models.activations import ACTIVATIONS
from aelab.models.ladder import ladder_weights
from aelab.strategies import DEFAULT_STRATEGIES, STRATEGIES


def _choices(values) -> str:
    return ", ".join(sorted(values))


PRETRAINING = ("end-to-end", "greedy")
SAMPLINGS = ("epochs", "draws")
SCALINGS = ("auto", "standard", "minmax")
FAMILIES = ("ae", "vae", "ladder")
MAX_SEED = 2**32 - 1
MAX_LEARNING_RATE = 1e6  # beyond this, float32 arithmetic overflows before anything is learned


def _require_int(
    section: str, name: str, value: Any, minimum: int, hint: str, maximum: int | None = None
) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{section}.{name} must be an integer >= {minimum}, got {value!r}; {hint}"
        )
    if maximum is not None and value > maximum:
        raise ConfigError(f"{section}.{name} must be at most {maximum}, got {value!r}; {hint}")


def _require_choice(section: str, name: str, value: Any, choices, what: str) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"{section}.{name}: unknown {what} {value!r}; choose one of {_choices(choices)}"
        )


def _require_number(section: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{section}.{name} must be a finite number, got {value!r}")
    return float(value)


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
        drop_missing: drop table rows with missing values instead of refusing them.
        scaling: ``standard``, ``minmax`` (to [0, 1]) or ``auto`` (minmax for images,
            standard for tables).
    """

    dataset: str = "iris"
    test_size: float | int = 0.5
    split_seed: int | None = None
    labels: int | None = None
    test_file: str | None = None
    label_column: str | None = None
    drop_columns: tuple[str, ...] = ()
    drop_missing: bool = False
    scaling: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not (
            self.dataset in DATASETS or looks_like_file(self.dataset)
        ):
            raise ConfigError(
                f"data.dataset: unknown dataset {self.dataset!r}; choose one of "
                f"{_choices(DATASETS)}, or give the path of a .csv, .tsv, .npz or IDX file"
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
        _require_choice("data", "scaling", self.scaling, SCALINGS, "scaling")
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
            _require_int(
                "data", "split_seed", self.split_seed, 0, "or leave it unset", maximum=MAX_SEED
            )
        if self.labels is not None:
            _require_int("data", "labels", self.labels, 1, "labelled samples per class")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the autoencoder: ``input -> hidden... -> code -> hidden reversed -> input``.

    Attributes:
        hidden: widths of the encoder's hidden layers (the decoder mirrors them); ``()`` gives
            the original shallow autoencoder.
        code: size of the code layer.
        activation: activation of the hidden layers.
        code_activation: activation of the code layer (sigmoid in the original).
        noise: input corruption while training, ``kind:level`` (``gaussian:0.3``,
            ``mask:0.25``, ``saltpepper:0.1``) or ``none``: a denoising autoencoder.
        dropout: probability of dropping each hidden unit and code unit while training.
        batch_norm: normalise every hidden layer and the code layer (the hidden layers of a
            VAE) with the training samples' statistics; running statistics at evaluation.
        family: ``ae`` (an autoencoder), ``vae`` (a variational autoencoder) or ``ladder``
            (a ladder network).
        beta: weight of the VAE's KL term (1: the ELBO).
        ladder_noise: standard deviation of the ladder's Gaussian noise at every layer.
        ladder_weights: weights of the ladder's denoising costs, input first: ``default``
            (1 for the input, 0.1 elsewhere), ``gamma`` (the top only) or numbers ``"1,0.1,..."``.
    """

    hidden: tuple[int, ...] = ()
    code: int = 2
    activation: str = "sigmoid"
    code_activation: str = "sigmoid"
    noise: str = "none"
    dropout: float = 0.0
    batch_norm: bool = False
    family: str = "ae"
    beta: float = 1.0
    ladder_noise: float = 0.3
    ladder_weights: str = "default"

    def __post_init__(self) -> None:
        hidden = self.hidden
        if isinstance(hidden, list):
            hidden = tuple(hidden)
            object.__setattr__(self, "hidden", hidden)
        if not isinstance(hidden, tuple):
            raise ConfigError(f"model.hidden must be a list of layer widths, got {hidden!r}")
        for width in hidden:
            _require_int("model", "hidden", width, 1, "each hidden layer needs >= 1 unit")
        _require_int("model", "code", self.code, 1, "the original experiment uses 2")
        for name in ("activation", "code_activation"):
            _require_choice("model", name, getattr(self, name), ACTIVATIONS, "activation")
        # One spelling per noise ("None", " none", "gaussian:.3" -> "none", "gaussian:0.3"),
        # so that equal settings compare equal (sweeps, resumed sweeps).
        noise = parse_noise(self.noise)
        object.__setattr__(
            self, "noise", "none" if noise is None else f"{noise.kind}:{noise.level:g}"
        )
        p = _require_number("model", "dropout", self.dropout)
        if not 0 <= p < 1:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout!r}; try 0.1")
        object.__setattr__(self, "dropout", p)
        if not isinstance(self.batch_norm, bool):
            raise ConfigError(f"model.batch_norm must be true or false, got {self.batch_norm!r}")
        _require_choice("model", "family", self.family, FAMILIES, "model family")
        beta = _require_number("model", "beta", self.beta)
        if beta < 0:
            raise ConfigError(f"model.beta must be >= 0, got {self.beta!r}; 1 is the VAE's ELBO")
        object.__setattr__(self, "beta", beta)
        sigma = _require_number("model", "ladder_noise", self.ladder_noise)
        if sigma < 0:
            raise ConfigError(f"model.ladder_noise must be >= 0, got {self.ladder_noise!r}")
        object.__setattr__(self, "ladder_noise", sigma)
        levels = len(self.hidden) + 3  # input, hidden layers, code, classes
        try:
            ladder_weights(self.ladder_weights, levels)
        except (ValueError, TypeError, AttributeError):
            raise ConfigError(
                f"model.ladder_weights: cannot use {self.ladder_weights!r}; give default, paper, "
                f"gamma or {levels} comma-separated weights >= 0 (input first, classes last)"
            ) from None
        if self.family == "ladder" and (parse_noise(self.noise) or self.dropout):
            raise ConfigError(
                "model.family = ladder adds its own Gaussian noise at every layer; set "
                "model.ladder_noise instead of model.noise, and leave model.dropout at 0"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by all strategies.

    Attributes:
        learning_rate: Adam step size, for pretraining and fine-tuning.
        pretrain_steps: steps on the reconstruction error.
        finetune_steps: steps of each strategy's fine-tuning.
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
    """

    learning_rate: float = 0.01
    pretrain_steps: int = 5000
    finetune_steps: int = 10000
    recon_weight: float = 1.0
    snapshot_every: int = 100
    pretraining: str = "end-to-end"
    batch_size: int | None = None
    sampling: str = "epochs"

    def __post_init__(self) -> None:
        lr = _require_number("train", "learning_rate", self.learning_rate)
        if not 0 < lr <= MAX_LEARNING_RATE:
            raise ConfigError(
                f"train.learning_rate must be > 0 and at most {MAX_LEARNING_RATE:g}, got "
                f"{self.learning_rate!r}; try 0.01"
            )
        object.__setattr__(self, "learning_rate", lr)
        _require_int("train", "pretrain_steps", self.pretrain_steps, 1, "try 5000")
        _require_int("train", "finetune_steps", self.finetune_steps, 1, "try 10000")
        lam = _require_number("train", "recon_weight", self.recon_weight)
        if lam < 0:
            raise ConfigError(
                f"train.recon_weight must be >= 0, got {self.recon_weight!r}; "
                "0 turns the reconstruction term off, 1 is the default"
            )
        object.__setattr__(self, "recon_weight", lam)
        _require_int("train", "snapshot_every", self.snapshot_every, 1, "try 100")
        _require_choice("train", "pretraining", self.pretraining, PRETRAINING, "pretraining")
        _require_choice("train", "sampling", self.sampling, SAMPLINGS, "sampling")
        if self.batch_size is not None:
            _require_int(
                "train", "batch_size", self.batch_size, 1, "or leave it unset for full batches"
            )


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers.

    Attributes:
        seed: seed of the weights' initialisation (and of the split unless
            ``data.split_seed`` is set).
        strategies: strategies trained side by side (``aelab.strategies.STRATEGIES``).
    """

    seed: int = 0
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        _require_int("run", "seed", self.seed, 0, "seeds run from 0 to 2**32 - 1", maximum=MAX_SEED)
        strategies = self.strategies
        if isinstance(strategies, str):
            strategies = (strategies,)
        if not isinstance(strategies, list | tuple):
            raise ConfigError(
                f"strategies must be a list of strategy names, got {strategies!r}; "
                f"choose from {_choices(STRATEGIES)}"
            )
        strategies = tuple(strategies)
        object.__setattr__(self, "strategies", strategies)
        if not strategies:
            raise ConfigError(
                f"strategies must name at least one strategy; choose from {_choices(STRATEGIES)}"
            )
        for name in strategies:
            _require_choice("run", "strategies", name, STRATEGIES, "strategy")
        if self.train.pretraining == "greedy" and self.model.family != "ae":
            raise ConfigError(
                f"train.pretraining = greedy works with model.family = ae, not "
                f"{self.model.family!r}; use end-to-end pretraining"
            )
        if self.train.pretraining == "greedy" and self.model.batch_norm:
            raise ConfigError(
                "train.pretraining = greedy does not support model.batch_norm yet; use "
                "end-to-end pretraining or turn batch norm off"
            )
        if len(set(strategies)) != len(strategies):
            raise ConfigError(f"strategies: each strategy may appear once, got {list(strategies)}")

    @property
    def split_seed(self) -> int:
        """The seed of the train/held-out split: ``data.split_seed``, else ``seed``."""
        return self.seed if self.data.split_seed is None else self.data.split_seed

    def to_dict(self) -> dict[str, Any]:
        """A TOML-ready dict (unset optional values are left out)."""
        out = dataclasses.asdict(self)
        out["strategies"] = list(self.strategies)
        out["model"]["hidden"] = list(self.model.hidden)
        out["data"]["drop_columns"] = list(self.data.drop_columns)
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
                    f"unknown setting {key!r}; top-level keys are {_choices(top)} and the "
                    f"tables are [{'], ['.join(sections)}]"
                )
        return cls(**kwargs)


def _build(cls, values: dict[str, Any], section: str):
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown setting {key!r} in [{section}]; known: {_choices(known)}")
    return cls(**values)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


def with_overrides(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Return ``config`` with dotted keys (``"train.recon_weight"``) replaced.

    ``None`` values are ignored, so unset command-line flags keep the config's values.
    """
    merged = config.to_dict()
    for dotted, value in overrides.items():
        if value is None:
            continue
        *path, last = dotted.split(".")
        target = merged
        for part in path:
            target = target.setdefault(part, {})
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


def load_config(path: str | Path) -> RunConfig:
    """Read a TOML config file; every problem is a one-line :class:`ConfigError`."""
    return RunConfig.from_dict(read_toml(path), source=str(path))


def dump_config(config: RunConfig) -> str:
    """The config as TOML text."""
    return tomli_w.dumps(config.to_dict())

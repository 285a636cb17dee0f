"""What a model family is: its declaration (:class:`Family`), its settings and its interface.

A family lives in one file of this package, ``models/<name>.py``, which defines

- the model: a frozen dataclass of shapes and activations implementing :class:`AbstractModel`,
  whose methods are pure functions of a parameter pytree;
- its own settings: a frozen dataclass deriving from :class:`AbstractSettings` (``[model]``
  keys of a config and ``--flags`` of the command line, with their checks and messages);
- ``FAMILY = Family(...)``: its name, how to build the model, and what it can do.

The registry (:data:`aelab.models.FAMILIES`) finds every module of the package that defines
``FAMILY``; nothing outside this package names a family.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from aelab.models.lazy import jax

Params = dict[str, Any]
# (code, reconstruction, logits, penalty) of a training pass, and batch norm's new statistics;
# a string, so that declaring it imports no JAX (see aelab.models.lazy)
Forward: TypeAlias = "tuple[tuple[jax.Array, jax.Array, jax.Array, jax.Array], Params | None]"


@dataclass(frozen=True)
class Layout:
    """The network settings every family shares, with the sizes the data gives."""

    # the settings a config holds (the sizes come from the data)
    SHARED: ClassVar[tuple[str, ...]] = (
        "hidden", "code", "activation", "code_activation", "dropout", "batch_norm"
    )  # fmt: skip

    n_inputs: int
    n_classes: int
    hidden: tuple[int, ...] = ()
    code: int = 2
    activation: str = "sigmoid"
    code_activation: str = "sigmoid"
    dropout: float = 0.0
    batch_norm: bool = False
    # the data's shape of one sample: (length,) of a signal, (height, width) of a greyscale
    # image, (height, width, channels) of a colour one, () of a table (n_inputs features);
    # the convolutional families need one, the dense ones ignore it
    input_shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class AbstractSettings:
    """A family's own settings. Each field is a ``[model]`` key of a config and a ``--flag``
    of the command line (its name with ``-`` for ``_``); ``metadata["help"]`` is its help.

    ``__post_init__`` checks each value on its own (messages name ``model.<field>``);
    :meth:`check` checks it against the shared settings of a model config."""

    def check(self, config: Any) -> None:
        """Refuse combinations with the shared settings (``config`` is a ``ModelConfig``)."""

    def describe(self) -> list[str]:
        """Short phrases for figures, such as ``"β = 1"``."""
        return []


@dataclass(frozen=True)
class NoSettings(AbstractSettings):
    """A family with no settings of its own."""


class AbstractModel(abc.ABC):
    """The interface every family's model implements.

    Parameters are plain pytrees, so a batch of models is the same tree with leading axes
    (``jax.vmap``). A ``key`` puts a pass in training mode (noise, dropout); without one it is
    deterministic and batch norm uses its running statistics.
    """

    n_inputs: int
    n_classes: int
    code: int

    @property
    @abc.abstractmethod
    def uses_randomness(self) -> bool:
        """Whether a training pass draws random numbers."""

    @abc.abstractmethod
    def init(self, key: jax.Array) -> Params:
        """Random parameters."""

    @abc.abstractmethod
    def encode(self, params: Params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The code (N, code) of inputs ``x`` (N, D)."""

    @abc.abstractmethod
    def logits(self, params: Params, z: jax.Array) -> jax.Array:
        """Class scores (N, n_classes) of codes ``z``."""

    @abc.abstractmethod
    def apply(
        self, params: Params, x: jax.Array, key: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(code, reconstruction, logits)`` of inputs ``x``."""

    @abc.abstractmethod
    def train_forward(
        self, params: Params, x: jax.Array, key: jax.Array, rows: jax.Array | None = None
    ) -> Forward:
        """The training pass: ``(code, reconstruction, logits, penalty)`` and batch norm's
        statistics after it. ``penalty`` (N,) is the family's own loss term of each sample,
        added to its reconstruction error; ``rows`` (N,) marks the samples whose statistics
        the pass may learn from (the training samples)."""

    @abc.abstractmethod
    def with_head_of(self, params: Params, source: Params) -> Params:
        """``params`` with the classifier head of ``source`` (fine-tuning's fresh head)."""

    @abc.abstractmethod
    def hidden_layers(self, params: Params, x: jax.Array) -> list[jax.Array]:
        """The encoder's activations of inputs ``x`` (N, D) in evaluation mode, one (N, width)
        array a layer from the input up, the input excluded and the code last (it equals
        :meth:`encode`): what ``aelab compare`` measures layer by layer."""

    def decode(self, params: Params, z: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The reconstruction of codes ``z``; only for families with ``decodes=True``."""
        raise NotImplementedError(f"{type(self).__name__} cannot decode a code alone")

    def architecture(self) -> dict[str, Any] | None:
        """The evaluation-mode network as data, for ``aelab export``: ``encoder``,
        ``decoder`` and ``head``, each a list of dense layers (see
        :meth:`aelab.models.autoencoder.Autoencoder.architecture`) whose parameters are named
        as a checkpoint names them (``encoder.0.w``); ``None`` for a family that is not such a
        stack of layers."""
        return None

    def measures(self, params: Params, x: jax.Array) -> dict[str, jax.Array]:
        """The family's own numbers of every sample (N,) in evaluation mode; a run reports
        the held-out mean of each as ``test_<name>``."""
        return {}


@dataclass(frozen=True)
class Family:
    """A model family's declaration: what it is called, how it is built, what it can do.

    Attributes:
        name: the ``--model`` and ``model.family`` value.
        title: what figures call it ("autoencoder").
        summary: one line for the help and the README.
        model: the model class (checkpoints rebuild it from its fields).
        build: the model for a :class:`Layout` and the family's settings; by default the
            model class called with both as keywords (their fields are its fields).
        settings: the family's own settings.
        decodes: it decodes a code alone (``aelab generate``, ``inverse_transform``).
        prior: codes can be drawn from a prior N(0, I) (``generate --mode prior``).
        greedy: it can be pretrained greedily, layer by layer: its model then also has
            ``layers()``, the one-layer models of its own family from the input up (as
            :class:`~aelab.models.autoencoder.Autoencoder` has), and its parameters' layout.
        penalty: what its own loss term is ("" for none), for help texts.
        penalty_weight: the setting that weighs that term, which sweeps can vary per model
            (the family's penalty is then computed with weight 1 and scaled per model).
        default: it is the family of a config that names none (one family is).
    """

    name: str
    title: str
    summary: str
    model: type[AbstractModel]
    settings: type[AbstractSettings] = NoSettings
    build: Callable[[Layout, Any], AbstractModel] | None = None
    decodes: bool = True
    prior: bool = False
    greedy: bool = False
    penalty: str = ""
    penalty_weight: str | None = None
    default: bool = False

    def make(self, layout: Layout, settings: AbstractSettings) -> AbstractModel:
        """The family's model for ``layout`` and ``settings``."""
        if self.build is not None:
            return self.build(layout, settings)
        return self.model(**dataclasses.asdict(layout), **dataclasses.asdict(settings))

"""aelab inside scikit-learn: a classifier and a transformer with the usual methods.

:class:`AutoencoderClassifier` trains one strategy (pretraining included when the strategy
starts from it) and predicts with the softmax head; ``transform`` gives the code.
:class:`AutoencoderTransformer` pretrains an autoencoder: ``transform`` encodes,
``inverse_transform`` decodes. Both are plans of the same trainer as ``aelab run``, with its
settings and its checks.

Their parameters are the settings of ``aelab run`` of their names, read from the config
classes (so a model family's own settings are parameters too), plus ``scaling`` and
``random_state``. As in scikit-learn's semi-supervised estimators, a numeric label of ``-1``
marks an unlabelled sample: the cross-entropy never sees it, the reconstruction term (and
pretraining) does.

>>> from sklearn.datasets import load_iris
>>> from aelab import AutoencoderClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = AutoencoderClassifier(strategy="finetune-recon").fit(X, y)
>>> clf.transform(X).shape
(150, 2)
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.cache import enable_compilation_cache
from aelab.checks import choices
from aelab.config import STRATEGIES, ModelConfig, RunConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.models import FAMILIES
from aelab.training.inference import apply_batched
from aelab.training.plan import SeedData, check_batch_size, make_plan, train_plan
from aelab.training.trees import stack, unstack

SCALINGS = ("standard", "minmax", "none")
# Settings of aelab run that are not the estimators' (a run's snapshots and reference stage;
# fine-tuning's for the transformer, which only pretrains).
_NOT_PARAMETERS = {"snapshot_every", "pretrained_reference"}
_FINE_TUNING = ("finetune_steps", "recon_weight")


def _parameters(*, fine_tuning: bool) -> list[inspect.Parameter]:
    """The estimators' parameters: every model setting, the training settings, the
    estimator's own; keyword-only, with the config's defaults."""
    fields = [*dataclasses.fields(ModelConfig), *dataclasses.fields(TrainConfig)]
    skip = _NOT_PARAMETERS | (set() if fine_tuning else set(_FINE_TUNING))
    own = [("scaling", "standard"), ("random_state", None)]
    return [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in [*((f.name, f.default) for f in fields if f.name not in skip), *own]
    ]


def _init(parameters: list[inspect.Parameter]) -> Callable:
    """An ``__init__`` that stores its arguments, with ``parameters`` as its signature (what
    scikit-learn's ``get_params`` reads)."""
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *parameters]
    )

    def __init__(self, *args, **kwargs) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


class _AutoencoderBase(BaseEstimator):
    """What both estimators share: their settings as configs, scaling, seeds, inference."""

    def _config(self, strategies: tuple[str, ...], n_samples: int) -> RunConfig:
        """The settings as a run config, checked by the same rules as ``aelab run``'s."""
        model = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(ModelConfig)}
        if isinstance(model["hidden"], list | tuple | np.ndarray):
            model["hidden"] = tuple(_plain(h) for h in model["hidden"])
        train = {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(TrainConfig)
            if hasattr(self, f.name) and f.name not in _NOT_PARAMETERS
        }
        config = RunConfig(
            seed=self._seed(),
            strategies=strategies,
            model=ModelConfig(**model),
            train=TrainConfig(**train),
        )
        check_batch_size(config.train.batch_size, n_samples)
        t = config.train  # one chunk: an estimator keeps no snapshots between
        chunk = max(t.pretrain_steps, t.finetune_steps)
        return dataclasses.replace(config, train=dataclasses.replace(t, snapshot_every=chunk))

    def _seed(self) -> int:
        """``random_state`` as a seed: ``None`` is 0, so that fits are reproducible."""
        state = self.random_state
        if state is None:
            return 0
        if isinstance(state, np.random.RandomState):
            return int(state.randint(0, 2**31 - 1))
        if isinstance(state, bool) or not isinstance(state, int | np.integer) or state < 0:
            raise ConfigError(
                f"random_state must be None, an integer >= 0 or a RandomState, got {state!r}"
            )
        return int(state) % 2**32

    def _fit_scaling(self, X: np.ndarray) -> np.ndarray:
        if self.scaling not in SCALINGS:
            raise ConfigError(
                f"scaling: unknown scaling {self.scaling!r}; choose one of {', '.join(SCALINGS)}"
            )
        if self.scaling == "standard":
            shift, scale = X.mean(axis=0), X.std(axis=0)
        elif self.scaling == "minmax":
            shift, scale = X.min(axis=0), np.ptp(X, axis=0)
        else:
            shift, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        self.shift_ = shift
        self.scale_ = np.where(scale > 0, scale, 1.0)  # constant columns stay constant
        return self._scaled(X)

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.shift_) / self.scale_).astype(np.float32)

    def _train(self, config: RunConfig, x, labels, labelled, n_classes: int, finetune: bool):
        """Train the plan of ``config`` (one strategy, or pretraining alone) on all of ``x``;
        compiled programs go to (and come from) the compilation cache (:mod:`aelab.cache`)."""
        enable_compilation_cache()
        pretrain = "needed" if finetune else "only"
        the_plan = make_plan(config, x.shape[1], n_classes, pretrain=pretrain)
        the_plan = dataclasses.replace(the_plan, snapshots=False, lr_setting="learning_rate")
        data = SeedData(x, labels, np.ones(len(x), bool), {config.data.labels: labelled})
        trained = train_plan(the_plan, [data])
        phase = trained.finetune if finetune else trained.pretrain
        self.model_ = the_plan.model
        self.params_ = unstack(unstack(phase.params, 0), 0)
        self.loss_curve_ = phase.history[0, 0, :, 0].astype(np.float64)

    def _apply(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        codes, recons, logits = apply_batched(self.model_, stack([self.params_]), self._scaled(X))
        return codes[0], recons[0], logits[0]

    def transform(self, X) -> np.ndarray:
        """The code (n_samples, code) of every sample of ``X``."""
        return self._apply(X)[0].astype(np.float64)


class AutoencoderClassifier(ClassifierMixin, TransformerMixin, _AutoencoderBase):
    """A classifier trained by one of aelab's strategies; its code is ``transform``'s output.

    Parameters are those of ``aelab run`` (see the README), plus:

    - ``strategy``: ``supervised``, ``finetune``, ``finetune-recon`` (the default) or
      ``joint``; pretraining runs only for the two that start from it.
    - ``scaling``: ``standard`` (default), ``minmax`` or ``none``, fitted on ``fit``'s ``X``.
    - ``random_state``: seed of the weights, noise and minibatches; ``None`` means 0, so that
      two fits give the same model.

    ``fit(X, y)``: a label of ``-1`` marks an unlabelled sample (semi-supervised training); in
    labels that are strings or objects, ``-1`` or ``"-1"`` does.
    Fitted attributes: ``classes_``, ``n_features_in_``, ``model_``, ``params_`` (the trained
    parameters), ``loss_curve_`` (fine-tuning loss at every step), ``n_labelled_``.
    """

    __init__ = _init(
        [
            inspect.Parameter(
                "strategy", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="finetune-recon"
            ),
            *_parameters(fine_tuning=True),
        ]
    )

    def fit(self, X, y) -> AutoencoderClassifier:
        """Train on ``X`` (n_samples, n_features) and labels ``y``; ``-1`` is unlabelled."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        labelled = _labelled(y)
        if labelled.any():
            check_classification_targets(y[labelled])
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy: unknown strategy {self.strategy!r}; choose one of "
                f"{', '.join(STRATEGIES)}"
            )
        classes = np.unique(y[labelled])
        if len(classes) < 2:
            hint = (
                " (-1 marks an unlabelled sample; if -1 is one of your classes, relabel y)"
                if (~labelled).any()
                else ""
            )
            raise ValueError(
                f"{type(self).__name__} needs labelled samples of at least two classes; got "
                f"{len(classes)} class(es): {classes.tolist()}{hint}"
            )
        config = self._config((self.strategy,), len(X))
        x = self._fit_scaling(X)
        codes = np.where(labelled, np.searchsorted(classes, np.where(labelled, y, classes[0])), 0)
        self._train(config, x, codes.astype(np.int32), labelled, len(classes), finetune=True)
        self.classes_ = classes
        self.n_labelled_ = int(labelled.sum())
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes) of the softmax head, columns as in
        ``classes_``."""
        logits = self._apply(X)[2].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of every sample."""
        logits = self._apply(X)[2]
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class AutoencoderTransformer(TransformerMixin, _AutoencoderBase):
    """An autoencoder as a transformer: ``transform`` encodes, ``inverse_transform`` decodes.

    ``fit(X)`` pretrains an autoencoder of a family that decodes a code alone (not a ladder)
    for ``pretrain_steps`` steps; labels are ignored. Parameters are those of
    :class:`AutoencoderClassifier` that concern pretraining. Fitted attributes:
    ``n_features_in_``, ``model_``, ``params_``, ``loss_curve_`` (reconstruction loss at
    every step).
    """

    __init__ = _init(_parameters(fine_tuning=False))

    def fit(self, X, y=None) -> AutoencoderTransformer:
        """Train the autoencoder on ``X`` (n_samples, n_features)."""
        X = validate_data(self, X, dtype=np.float64)
        family = FAMILIES.get(self.family) if isinstance(self.family, str) else None
        if family is not None and not family.decodes:
            decoders = choices(name for name, f in FAMILIES.items() if f.decodes)
            raise ConfigError(
                f"family: a {family.title} cannot decode a code alone, so it is not a "
                f"transformer; use family {decoders}, or AutoencoderClassifier"
            )
        config = self._config(("finetune",), len(X))  # a strategy it will not train
        x = self._fit_scaling(X)
        ones = np.ones(len(x), bool)
        self._train(config, x, np.zeros(len(x), np.int32), ones, 1, finetune=False)
        return self

    def inverse_transform(self, X) -> np.ndarray:
        """Decode codes ``X`` (n_samples, code) back into the data's own units."""
        check_is_fitted(self, "params_")
        codes = check_array(X, dtype=np.float64)
        if codes.shape[1] != self.model_.code:
            raise ValueError(
                f"inverse_transform expects codes of {self.model_.code} units, got {codes.shape[1]}"
            )
        x_hat = np.asarray(self.model_.decode(self.params_, jnp.asarray(codes, jnp.float32)))
        return x_hat.astype(np.float64) * self.scale_ + self.shift_


def _labelled(y: np.ndarray) -> np.ndarray:
    """Which samples are labelled: all but those marked ``-1`` (the number, or in an array
    of strings or objects the number or the string ``"-1"``)."""
    if y.dtype.kind in "iuf":
        return y != -1
    if y.dtype.kind == "U":
        return y != "-1"
    if y.dtype.kind == "O":
        marked = [(not isinstance(v, str | bool | np.bool_) and v == -1) or v == "-1" for v in y]
        return ~np.asarray(marked, bool)
    return np.ones(len(y), bool)


def _plain(value):
    """NumPy scalars (from ``np.arange`` grids, scipy distributions) as Python numbers."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


__all__ = ["AutoencoderClassifier", "AutoencoderTransformer"]

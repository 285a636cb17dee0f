"""aelab inside scikit-learn: a classifier and a transformer with the usual methods.

:class:`AutoencoderClassifier` trains one strategy (pretraining included when the strategy
starts from it) and predicts with the softmax head; ``transform`` gives the code.
:class:`AutoencoderTransformer` pretrains an autoencoder: ``transform`` encodes,
``inverse_transform`` decodes. Both train the same compiled programs as ``aelab run``.

As in scikit-learn's semi-supervised estimators, a numeric label of ``-1`` marks an unlabelled
sample:
the cross-entropy never sees it, the reconstruction term (and pretraining) does.

>>> from sklearn.datasets import load_iris
>>> from aelab import AutoencoderClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = AutoencoderClassifier(strategy="finetune-recon").fit(X, y)
>>> clf.transform(X).shape
(150, 2)
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.config import ModelConfig, TrainConfig
from aelab.corruption import parse_noise
from aelab.errors import ConfigError, TrainingError
from aelab.experiment import require_finite, train_strategies
from aelab.models import build_model
from aelab.strategies import STRATEGIES
from aelab.train import Batch, PhaseDiverged, apply_batched, stack, train_phase, unstack

SCALINGS = ("standard", "minmax", "none")


class _AutoencoderBase(BaseEstimator):
    """Settings shared by both estimators; each maps to the ``aelab run`` flag of its name."""

    def __init__(
        self,
        *,
        family: str = "ae",
        hidden: tuple[int, ...] = (),
        code: int = 2,
        activation: str = "sigmoid",
        code_activation: str = "sigmoid",
        noise: str = "none",
        dropout: float = 0.0,
        batch_norm: bool = False,
        beta: float = 1.0,
        ladder_noise: float = 0.3,
        ladder_weights: str = "default",
        learning_rate: float = 0.01,
        pretrain_steps: int = 5000,
        batch_size: int | None = None,
        scaling: str = "standard",
        random_state: int | None = None,
    ) -> None:
        self.family = family
        self.hidden = hidden
        self.code = code
        self.activation = activation
        self.code_activation = code_activation
        self.noise = noise
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.beta = beta
        self.ladder_noise = ladder_noise
        self.ladder_weights = ladder_weights
        self.learning_rate = learning_rate
        self.pretrain_steps = pretrain_steps
        self.batch_size = batch_size
        self.scaling = scaling
        self.random_state = random_state

    # -- shared pieces -------------------------------------------------------------------

    def _model_config(self) -> ModelConfig:
        hidden = self.hidden
        if isinstance(hidden, list | tuple | np.ndarray):
            hidden = tuple(_plain(h) for h in hidden)
        return ModelConfig(
            hidden=hidden,
            code=_plain(self.code),
            activation=self.activation,
            code_activation=self.code_activation,
            noise=self.noise,
            dropout=_plain(self.dropout),
            batch_norm=_plain(self.batch_norm),
            family=self.family,
            beta=_plain(self.beta),
            ladder_noise=_plain(self.ladder_noise),
            ladder_weights=self.ladder_weights,
        )

    def _train_config(self, n_samples: int, **extra) -> TrainConfig:
        """The optimisation settings, checked by the same rules as ``aelab run``'s."""
        steps = {k: _plain(v) for k, v in extra.items()}
        config = TrainConfig(
            learning_rate=_plain(self.learning_rate),
            pretrain_steps=_plain(self.pretrain_steps),
            batch_size=_plain(self.batch_size),
            **steps,
        )
        longest = max(config.pretrain_steps, config.finetune_steps)
        size = config.batch_size
        if size is not None and size >= n_samples:
            warnings.warn(
                f"batch_size={size} is not smaller than the {n_samples} samples; training "
                "full-batch",
                stacklevel=3,
            )
            size = None
        return dataclasses.replace(config, snapshot_every=longest, batch_size=size)

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

    ``fit(X, y)``: ``y == -1`` marks unlabelled samples (semi-supervised training).
    Fitted attributes: ``classes_``, ``n_features_in_``, ``model_``, ``params_`` (the trained
    parameters), ``loss_curve_`` (fine-tuning loss at every step), ``n_labelled_``.
    """

    def __init__(
        self,
        strategy: str = "finetune-recon",
        *,
        family: str = "ae",
        hidden: tuple[int, ...] = (),
        code: int = 2,
        activation: str = "sigmoid",
        code_activation: str = "sigmoid",
        noise: str = "none",
        dropout: float = 0.0,
        batch_norm: bool = False,
        beta: float = 1.0,
        ladder_noise: float = 0.3,
        ladder_weights: str = "default",
        recon_weight: float = 1.0,
        learning_rate: float = 0.01,
        pretrain_steps: int = 5000,
        finetune_steps: int = 10000,
        batch_size: int | None = None,
        scaling: str = "standard",
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            family=family, hidden=hidden, code=code, activation=activation,
            code_activation=code_activation, noise=noise, dropout=dropout,
            batch_norm=batch_norm, beta=beta, ladder_noise=ladder_noise,
            ladder_weights=ladder_weights, learning_rate=learning_rate,
            pretrain_steps=pretrain_steps, batch_size=batch_size, scaling=scaling,
            random_state=random_state,
        )  # fmt: skip
        self.strategy = strategy
        self.recon_weight = recon_weight
        self.finetune_steps = finetune_steps

    def fit(self, X, y) -> AutoencoderClassifier:
        """Train on ``X`` (n_samples, n_features) and labels ``y``; ``-1`` is unlabelled."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy: unknown strategy {self.strategy!r}; choose one of "
                f"{', '.join(STRATEGIES)}"
            )
        labelled = y != -1 if y.dtype.kind in "iuf" else np.ones(len(y), bool)
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
        model_config = self._model_config()
        spec = STRATEGIES[self.strategy]
        train = self._train_config(
            len(X), finetune_steps=self.finetune_steps, recon_weight=self.recon_weight
        )
        x = self._fit_scaling(X)
        codes = np.where(labelled, np.searchsorted(classes, np.where(labelled, y, classes[0])), 0)
        model = build_model(model_config, X.shape[1], len(classes))
        batch = Batch.from_split(x, codes, np.ones(len(x), bool), labelled)
        trained = train_strategies(
            model,
            batch,
            train,
            (self.strategy,),
            seed=self._seed(),
            noise=parse_noise(model_config.noise),
            pretrain=spec.from_pretrained,
        )
        self.classes_ = classes
        self.model_ = model
        self.params_ = unstack(trained.finetune.params, 0)
        self.loss_curve_ = trained.finetune.history[0, :, 0].astype(np.float64)
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

    ``fit(X)`` pretrains an autoencoder (``family`` ``ae`` or ``vae``; a ladder cannot decode
    a code alone) for ``pretrain_steps`` steps; labels are ignored. Parameters are those of
    :class:`AutoencoderClassifier` that concern the autoencoder. Fitted attributes:
    ``n_features_in_``, ``model_``, ``params_``, ``loss_curve_`` (reconstruction loss at
    every step).
    """

    def fit(self, X, y=None) -> AutoencoderTransformer:
        """Train the autoencoder on ``X`` (n_samples, n_features)."""
        import jax

        X = validate_data(self, X, dtype=np.float64)
        model_config = self._model_config()
        if model_config.family == "ladder":
            raise ConfigError(
                "family: a ladder network cannot decode a code alone, so it is not a "
                "transformer; use family='ae' or 'vae', or AutoencoderClassifier"
            )
        train = self._train_config(len(X))
        x = self._fit_scaling(X)
        model = build_model(model_config, X.shape[1], 1)
        root = jax.random.key(self._seed())
        ones = np.ones(len(x), bool)
        try:
            result = train_phase(
                model,
                stack([jax.tree.map(np.asarray, model.init(root))]),
                Batch.from_split(x, np.zeros(len(x), np.int32), ones, ones),
                ce_weight=np.zeros(1),
                recon_weight=np.ones(1),
                learning_rate=train.learning_rate,
                steps=train.pretrain_steps,
                snapshot_every=train.pretrain_steps,
                key=jax.random.fold_in(root, 1),
                noise=parse_noise(model_config.noise),
                batch_size=train.batch_size,
            )
        except PhaseDiverged:
            raise TrainingError(
                "training diverged: the reconstruction stopped being a finite number; lower "
                f"learning_rate (now {train.learning_rate:g})"
            ) from None
        require_finite(result, "pretraining", ("the autoencoder",), train.learning_rate)
        self.model_ = model
        self.params_ = unstack(result.params, 0)
        self.loss_curve_ = result.history[0, :, 0].astype(np.float64)
        return self

    def inverse_transform(self, X) -> np.ndarray:
        """Decode codes ``X`` (n_samples, code) back into the data's own units."""
        import jax.numpy as jnp

        check_is_fitted(self, "params_")
        codes = check_array(X, dtype=np.float64)
        if codes.shape[1] != self.model_.code:
            raise ValueError(
                f"inverse_transform expects codes of {self.model_.code} units, got {codes.shape[1]}"
            )
        x_hat = np.asarray(self.model_.decode(self.params_, jnp.asarray(codes, jnp.float32)))
        return x_hat.astype(np.float64) * self.scale_ + self.shift_


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

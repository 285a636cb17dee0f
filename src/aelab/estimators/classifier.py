"""AutoencoderClassifier: one of aelab's strategies as a scikit-learn classifier."""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from aelab.config import STRATEGIES
from aelab.errors import ConfigError
from aelab.estimators.base import AutoencoderBase, make_init, parameters
from aelab.training.inference import apply_batched
from aelab.training.trees import stack


class AutoencoderClassifier(ClassifierMixin, TransformerMixin, AutoencoderBase):
    """A classifier trained by one of aelab's strategies; its code is ``transform``'s output.

    Parameters are those of ``aelab run`` (see the README), plus:

    - ``strategy``: ``supervised``, ``finetune``, ``finetune-recon`` (the default) or
      ``joint``; pretraining runs only for the two that start from it.
    - ``scaling``: ``standard`` (default), ``minmax`` or ``none``, fitted on ``fit``'s ``X``.
    - ``random_state``: seed of the weights, noise, minibatches and the early-stopping split;
      ``None`` means 0, so that two fits give the same model.
    - ``verbose``: when true, a line per phase to stderr (steps, last loss, seconds).
    - ``warm_start``: when true, ``fit`` on a fitted estimator continues its model for
      ``finetune_steps`` more steps (no pretraining, a fresh Adam, the first fit's scaling);
      the model's settings, the features and the classes must be the same.
    - ``early_stopping`` (default False), ``validation_fraction`` (0.1), ``n_iter_no_change``
      (10), ``tol`` (1e-4), as ``MLPClassifier``'s: a stratified ``validation_fraction`` of
      the labelled samples is held out of training; fine-tuning runs in 50 chunks, the
      held-out accuracy is checked after each, training stops once it has not beaten the best
      by ``tol`` for more than ``n_iter_no_change`` checks, and the best model is kept.
    - ``image_shape``: the shape of each row of ``X`` as an image or signal, ``(height,
      width)``, ``(height, width, channels)`` or ``(length,)``, which the convolutional
      families (``family="conv-ae"``, ``"conv-vae"``, ``"conv-ladder"``) need; ``None`` (the
      default) for a table.

    ``fit(X, y)``: a label of ``-1`` marks an unlabelled sample (semi-supervised training); in
    labels that are strings or objects, ``-1`` or ``"-1"`` does.
    Fitted attributes: ``classes_``, ``n_features_in_``, ``model_``, ``params_`` (the trained
    parameters), ``loss_curve_`` (fine-tuning loss at every step), ``n_iter_`` (fine-tuning
    steps trained), ``n_labelled_`` (labelled samples trained on), ``validation_scores_``
    and ``best_validation_score_`` (with early stopping; else ``None``).
    """

    __init__ = make_init(
        [
            inspect.Parameter(
                "strategy", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="finetune-recon"
            ),
            *parameters(fine_tuning=True),
        ]
    )

    def fit(self, X, y) -> AutoencoderClassifier:
        """Train on ``X`` (n_samples, n_features) and labels ``y``; ``-1`` is unlabelled."""
        warm = self._warm()
        X, y = validate_data(self, X, y, dtype=np.float64, reset=not warm)
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy: unknown strategy {self.strategy!r}; choose one of "
                f"{', '.join(STRATEGIES)}"
            )
        labelled, classes = self._targets(y)
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start=True continues the fitted model, whose classes are "
                f"{self.classes_.tolist()}, but y has {classes.tolist()}; fit labels of the "
                "same classes, or set warm_start=False"
            )
        config = self._config((self.strategy,), "finetune_steps")
        x = self._scaled(X) if warm else self._fit_scaling(X)
        codes = np.where(labelled, np.searchsorted(classes, np.where(labelled, y, classes[0])), 0)
        codes = codes.astype(np.int32)
        train, held = self._hold_out(config.seed, labelled, codes)
        self._train(
            config, x[train], codes[train], labelled[train], len(classes), finetune=True,
            held=None if held is None else (x[held], codes[held]),
        )  # fmt: skip
        self.classes_ = classes
        self.n_labelled_ = int(labelled[train].sum())
        return self

    @staticmethod
    def _validation_score(model, params, x: np.ndarray, codes: np.ndarray) -> float:
        """Early stopping's score: the accuracy on the held-out samples."""
        logits = apply_batched(model, stack([params]), x)[2][0]
        return float(np.mean(np.argmax(logits, axis=1) == codes))

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which samples are labelled, and the classes of their labels (two at least)."""
        labelled = _labelled(y)
        if labelled.any():
            check_classification_targets(y[labelled])
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
        return labelled, classes

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

"""AutoencoderTransformer: a pretrained autoencoder as a scikit-learn transformer."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.checks import choices
from aelab.errors import ConfigError
from aelab.estimators.base import AutoencoderBase, make_init, parameters
from aelab.models import FAMILIES
from aelab.training.inference import apply_batched
from aelab.training.trees import stack


class AutoencoderTransformer(TransformerMixin, AutoencoderBase):
    """An autoencoder as a transformer: ``transform`` encodes, ``inverse_transform`` decodes.

    ``fit(X)`` pretrains an autoencoder of a family that decodes a code alone (not a ladder)
    for ``pretrain_steps`` steps; labels are ignored. Parameters are those of
    :class:`AutoencoderClassifier` that concern pretraining: ``warm_start`` continues the
    fitted autoencoder for ``pretrain_steps`` more steps; with ``early_stopping``, a random
    ``validation_fraction`` of the samples is held out and the score checked is minus their
    mean squared reconstruction error (in the scaled units), so that higher is better (greedy
    pretraining is checked only at its end). Fitted attributes: ``n_features_in_``,
    ``model_``, ``params_``, ``loss_curve_`` (reconstruction loss at every step), ``n_iter_``,
    ``validation_scores_`` and ``best_validation_score_``.
    """

    __init__ = make_init(parameters(fine_tuning=False))

    def fit(self, X, y=None) -> AutoencoderTransformer:
        """Train the autoencoder on ``X`` (n_samples, n_features)."""
        warm = self._warm()
        X = validate_data(self, X, dtype=np.float64, reset=not warm)
        family = FAMILIES.get(self.family) if isinstance(self.family, str) else None
        if family is not None and not family.decodes:
            decoders = choices(name for name, f in FAMILIES.items() if f.decodes)
            raise ConfigError(
                f"family: a {family.title} cannot decode a code alone, so it is not a "
                f"transformer; use family {decoders}, or AutoencoderClassifier"
            )
        config = self._config(("finetune",), "pretrain_steps")  # a strategy it won't train
        x = self._scaled(X) if warm else self._fit_scaling(X)
        train, held = self._hold_out(config.seed, np.ones(len(x), bool))
        x, ones = x[train], np.ones(len(train), bool)
        held = None if held is None else (self._scaled(X[held]), None)
        self._train(config, x, np.zeros(len(x), np.int32), ones, 1, finetune=False, held=held)
        return self

    @staticmethod
    def _validation_score(model, params, x: np.ndarray, _) -> float:
        """Early stopping's score: minus the mean squared reconstruction error of the
        held-out samples (in the scaled units), so that higher is better."""
        recons = apply_batched(model, stack([params]), x)[1][0]
        return -float(np.mean((recons - x) ** 2))

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

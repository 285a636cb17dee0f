"""Model families. Each is a frozen description plus pure functions of a parameter pytree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aelab.models.autoencoder import Autoencoder, Params
from aelab.models.ladder import LadderNetwork, ladder_weights
from aelab.models.vae import VariationalAutoencoder

if TYPE_CHECKING:
    from aelab.config import ModelConfig

FAMILIES: dict[str, type] = {
    "ae": Autoencoder,
    "vae": VariationalAutoencoder,
    "ladder": LadderNetwork,
}
Model = Autoencoder | LadderNetwork


def family_of(model: Model) -> str:
    """The family name (``"ae"``, ``"vae"``) of a model."""
    return next(name for name, cls in FAMILIES.items() if type(model) is cls)


def build_model(config: ModelConfig, n_inputs: int, n_classes: int) -> Model:
    """The model ``config`` describes, for ``n_inputs`` features and ``n_classes`` classes."""
    if config.family == "ladder":
        return LadderNetwork(
            n_inputs=n_inputs,
            n_classes=n_classes,
            hidden=tuple(config.hidden),
            code=config.code,
            activation=config.activation,
            code_activation=config.code_activation,
            noise_std=config.ladder_noise,
            weights=ladder_weights(config.ladder_weights, len(config.hidden) + 3),
        )
    common = {
        "n_inputs": n_inputs,
        "n_classes": n_classes,
        "hidden": tuple(config.hidden),
        "code": config.code,
        "activation": config.activation,
        "code_activation": config.code_activation,
        "dropout": config.dropout,
        "batch_norm": config.batch_norm,
    }
    if config.family == "vae":
        return VariationalAutoencoder(**common, beta=config.beta)
    return Autoencoder(**common)


__all__ = [
    "FAMILIES",
    "Autoencoder",
    "LadderNetwork",
    "Model",
    "Params",
    "VariationalAutoencoder",
    "build_model",
    "family_of",
]

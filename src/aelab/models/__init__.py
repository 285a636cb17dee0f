"""Model families. Each is a frozen description plus pure functions of a parameter pytree."""

from aelab.models.autoencoder import Autoencoder, Params

__all__ = ["Autoencoder", "Params"]

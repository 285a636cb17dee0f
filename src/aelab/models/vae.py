"""The variational autoencoder (Kingma & Welling 2014), beta-weighted (Higgins et al. 2017).

The encoder gives the mean and log-variance of q(z|x); training decodes a reparameterised
sample ``z = mean + exp(logvar / 2) * eps`` and adds ``beta * KL(q(z|x) || N(0, I)) / D`` to
each sample's reconstruction error (mean squared error over the D features), which for
``beta = 1`` is the negative ELBO per feature of a Gaussian decoder with variance 1/2. The
code that is plotted, measured and fine-tuned is the mean; the softmax head reads the mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aelab.checks import require_number
from aelab.errors import ConfigError
from aelab.models.autoencoder import Autoencoder
from aelab.models.base import AbstractSettings, Family, Forward, Params
from aelab.models.layers import ForwardPass, dense
from aelab.models.lazy import jax, jnp


@dataclass(frozen=True)
class VariationalAutoencoder(Autoencoder):
    """A VAE with the autoencoder's layers; its code (the mean) is linear, whatever
    ``code_activation`` says, as the prior N(0, I) needs an unbounded code. Batch norm, when
    on, normalises the hidden layers only."""

    beta: float = 1.0

    _encoder_outputs = 2

    @property
    def uses_randomness(self) -> bool:
        return True  # the reparameterised sample

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.beta, float) and self.beta >= 0):
            raise ValueError(f"beta must be a float >= 0, got {self.beta!r}")

    def _normalised_widths(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(self.hidden), tuple(reversed(self.hidden))

    def _posterior(
        self, params: Params, x: jax.Array, p: ForwardPass
    ) -> tuple[jax.Array, jax.Array]:
        return self._posterior_of(params, self._hidden(params, x, p))

    def _posterior_of(self, params: Params, h: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean and log-variance of q(z|x) given the last hidden layer ``h``."""
        mean, logvar = jnp.split(dense(params["encoder"][-1], h), 2, axis=-1)
        return mean, jnp.clip(logvar, -20.0, 20.0)  # keeps exp() finite early in training

    def _code_of(self, params: Params, h: jax.Array, i: int, p: ForwardPass) -> jax.Array:
        return self._posterior_of(params, h)[0]  # the mean path: the code is the mean

    def posterior(self, params: Params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean and log-variance (N, code) of q(z|x), in evaluation mode."""
        return self._posterior(params, x, ForwardPass(None, None))

    def _encode(self, params: Params, x: jax.Array, p: ForwardPass) -> jax.Array:
        return self._posterior(params, x, p)[0]  # the code is the posterior mean

    def kl(self, params: Params, x: jax.Array) -> jax.Array:
        """KL(q(z|x) || N(0, I)) of every sample (N,), in nats."""
        return gaussian_kl(*self.posterior(params, x))

    def architecture(self) -> dict[str, Any]:
        """The autoencoder's layers; the encoder's last one gives the mean and log-variance,
        and the code is the mean: its first ``code`` columns, linear."""
        layers = super().architecture()
        layers["encoder"][-1].update(keep=self.code, activation="linear")
        return layers

    def measures(self, params: Params, x: jax.Array) -> dict[str, jax.Array]:
        """``kl``: each sample's KL(q(z|x) || N(0, I)) (the ELBO's other term)."""
        return {"kl": self.kl(params, x)}

    def train_forward(
        self, params: Params, x: jax.Array, key: jax.Array, rows: jax.Array | None = None
    ) -> Forward:
        p = ForwardPass(key, rows)
        mean, logvar = self._posterior(params, x, p)
        eps = jax.random.normal(jax.random.fold_in(key, 1_000_003), mean.shape, mean.dtype)
        z = mean + jnp.exp(0.5 * logvar) * eps
        penalty = self.beta * gaussian_kl(mean, logvar) / self.n_inputs
        x_hat = self._decode(params, z, p)
        return (mean, x_hat, self.logits(params, mean), penalty), p.stats


def gaussian_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, I)) of every sample (N,), in nats."""
    return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(logvar) - logvar - 1.0, axis=-1)


@dataclass(frozen=True)
class VAESettings(AbstractSettings):
    """The VAE's own setting: the weight of its KL term."""

    beta: float = field(default=1.0, metadata={"help": "VAE, conv-vae: weight of the KL term [1]."})

    def __post_init__(self) -> None:
        beta = require_number("model.beta", self.beta)
        if beta < 0:
            raise ConfigError(f"model.beta must be >= 0, got {self.beta!r}; 1 is the VAE's ELBO")
        object.__setattr__(self, "beta", beta)

    def describe(self) -> list[str]:
        return [f"β = {self.beta:g}"]


FAMILY = Family(
    name="vae",
    title="VAE",
    summary="variational autoencoder: the code is the posterior mean; beta * KL in the loss",
    model=VariationalAutoencoder,
    settings=VAESettings,
    prior=True,
    penalty="beta-weighted KL(q(z|x) || N(0, I)) / D",
    penalty_weight="beta",
)

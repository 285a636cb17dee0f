"""The convolutional VAE: the convolutional autoencoder's layers, with the VAE's posterior.

The encoder's last dense layer gives the mean and log-variance of q(z|x); training decodes a
reparameterised sample and adds ``beta * KL(q(z|x) || N(0, I)) / D``, as :mod:`aelab.models.vae`
does. The code that is plotted, measured and fine-tuned is the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

from aelab.models.base import Family, Forward, Layout, Params
from aelab.models.conv_ae import ConvAutoencoder, ConvSettings, shaped_layout
from aelab.models.layers import ForwardPass, dense
from aelab.models.lazy import jax, jnp
from aelab.models.vae import VAESettings, gaussian_kl


@dataclass(frozen=True)
class ConvVariationalAutoencoder(ConvAutoencoder):
    """A VAE of convolutional layers; its code (the mean) is linear, whatever
    ``code_activation`` says, as the prior N(0, I) needs an unbounded code."""

    beta: float = 1.0

    _encoder_outputs = 2

    @property
    def uses_randomness(self) -> bool:
        return True  # the reparameterised sample

    def _posterior_of(self, params: Params, h: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean and log-variance of q(z|x) given the last hidden layer ``h``."""
        mean, logvar = jnp.split(dense(params["encoder"]["dense"][-1], h), 2, axis=-1)
        return mean, jnp.clip(logvar, -20.0, 20.0)  # keeps exp() finite early in training

    def _code_of(self, params: Params, h: jax.Array, p: ForwardPass) -> jax.Array:
        return self._posterior_of(params, h)[0]

    def posterior(self, params: Params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean and log-variance (N, code) of q(z|x), in evaluation mode."""
        p = ForwardPass(None, None)
        return self._posterior_of(params, self._hidden_stack(params, x, p)[-1])

    def measures(self, params: Params, x: jax.Array) -> dict[str, jax.Array]:
        """``kl``: each sample's KL(q(z|x) || N(0, I)) (the ELBO's other term)."""
        return {"kl": gaussian_kl(*self.posterior(params, x))}

    def train_forward(
        self, params: Params, x: jax.Array, key: jax.Array, rows: jax.Array | None = None
    ) -> Forward:
        p = ForwardPass(key, rows)
        mean, logvar = self._posterior_of(params, self._hidden_stack(params, x, p)[-1])
        eps = jax.random.normal(jax.random.fold_in(key, 1_000_003), mean.shape, mean.dtype)
        z = mean + jnp.exp(0.5 * logvar) * eps
        penalty = self.beta * gaussian_kl(mean, logvar) / self.n_inputs
        out = (mean, self._decode(params, z, p), self.logits(params, mean), penalty)
        return out, p.stats


@dataclass(frozen=True)
class ConvVAESettings(ConvSettings, VAESettings):
    """The convolutions' settings and the VAE's ``beta``."""

    def __post_init__(self) -> None:
        ConvSettings.__post_init__(self)
        VAESettings.__post_init__(self)

    def describe(self) -> list[str]:
        return [*VAESettings.describe(self), *ConvSettings.describe(self)]


def _build(layout: Layout, settings: ConvVAESettings) -> ConvVariationalAutoencoder:
    layout = shaped_layout(layout, "conv-vae")
    return ConvVariationalAutoencoder(**vars(layout), **vars(settings))


FAMILY = Family(
    name="conv-vae",
    title="convolutional VAE",
    summary="convolutional VAE: convolutions to the posterior mean; beta * KL in the loss",
    model=ConvVariationalAutoencoder,
    settings=ConvVAESettings,
    build=_build,
    prior=True,
    penalty="beta-weighted KL(q(z|x) || N(0, I)) / D",
    penalty_weight="beta",
)

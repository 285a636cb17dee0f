"""The sparse autoencoder: an autoencoder whose code is pushed towards few active units.

Training adds a sparsity penalty on the code to the reconstruction error, weighted by
``sparsity``:

- for a sigmoid code, the KL divergence between a target activation ``rho``
  (``sparsity_target``) and each code unit's mean activation over the batch's training
  samples, summed over the units (Ng's sparse autoencoder): ``sum_j KL(rho || rho_hat_j)``;
- for any other code activation, the L1 norm of each sample's code, ``sum_j |z_j|``.

Everything else (layers, dropout, batch norm, greedy layer-wise pretraining, where each layer
is a sparse autoencoder of its own) is the plain autoencoder's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aelab.checks import require_number
from aelab.errors import ConfigError
from aelab.models.autoencoder import Autoencoder
from aelab.models.base import AbstractSettings, Family, Params
from aelab.models.lazy import jax, jnp

_EPS = 1e-6  # keeps the KL finite when a unit's mean activation reaches 0 or 1


@dataclass(frozen=True)
class SparseAutoencoder(Autoencoder):
    """An autoencoder with a sparsity penalty of weight ``sparsity`` on its code."""

    sparsity: float = 0.1
    sparsity_target: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.sparsity, float) and self.sparsity >= 0):
            raise ValueError(f"sparsity must be a float >= 0, got {self.sparsity!r}")
        if not (isinstance(self.sparsity_target, float) and 0 < self.sparsity_target < 1):
            raise ValueError(f"sparsity_target must be in (0, 1), got {self.sparsity_target!r}")

    @property
    def uses_kl(self) -> bool:
        """A sigmoid code is sparse by the KL to a target activation; others by their L1 norm."""
        return self.code_activation == "sigmoid"

    def penalty(self, z: jax.Array, rows: jax.Array | None) -> jax.Array:
        """``sparsity`` times the code's sparsity term, for every sample (N,): the KL of the
        training rows' mean activations (the same for every sample), or each code's L1."""
        if not self.uses_kl:
            return self.sparsity * jnp.sum(jnp.abs(z), axis=-1)
        rows = jnp.ones(z.shape[0], z.dtype) if rows is None else rows
        mean = jnp.sum(rows[:, None] * z, axis=0) / jnp.maximum(jnp.sum(rows), 1.0)  # (code,)
        kl = jnp.sum(_kl_bernoulli(self.sparsity_target, jnp.clip(mean, _EPS, 1 - _EPS)))
        return jnp.full(z.shape[0], self.sparsity * kl)

    def measures(self, params: Params, x: jax.Array) -> dict[str, jax.Array]:
        """``code_activation``: each sample's mean absolute code unit (for a sigmoid code,
        its share of active units, to compare with ``sparsity_target``)."""
        return {"code_activation": jnp.mean(jnp.abs(self.encode(params, x)), axis=-1)}


def _kl_bernoulli(rho: float, rho_hat: jax.Array) -> jax.Array:
    return rho * jnp.log(rho / rho_hat) + (1 - rho) * jnp.log((1 - rho) / (1 - rho_hat))


@dataclass(frozen=True)
class SparseSettings(AbstractSettings):
    """The sparse autoencoder's own settings: the penalty's weight and target activation."""

    sparsity: float = field(
        default=0.1, metadata={"help": "Sparse: weight of the sparsity penalty on the code [0.1]."}
    )
    sparsity_target: float = field(
        default=0.05,
        metadata={"help": "Sparse: target mean activation of a sigmoid code's units [0.05]."},
    )

    def __post_init__(self) -> None:
        weight = require_number("model.sparsity", self.sparsity)
        if weight < 0:
            raise ConfigError(
                f"model.sparsity must be >= 0, got {self.sparsity!r}; 0 turns the penalty off, "
                "0.1 is the default"
            )
        target = require_number("model.sparsity_target", self.sparsity_target)
        if not 0 < target < 1:
            raise ConfigError(
                f"model.sparsity_target must be between 0 and 1 (exclusive), got "
                f"{self.sparsity_target!r}; it is the mean activation a sigmoid code unit "
                "should have, such as 0.05"
            )
        object.__setattr__(self, "sparsity", weight)
        object.__setattr__(self, "sparsity_target", target)

    def describe(self) -> list[str]:
        return [f"sparsity {self.sparsity:g} (target {self.sparsity_target:g})"]


FAMILY = Family(
    name="sparse",
    title="sparse autoencoder",
    summary="sparse autoencoder: KL to a target activation (sigmoid code) or L1 on the code",
    model=SparseAutoencoder,
    settings=SparseSettings,
    greedy=True,
    penalty="sparsity of the code: sum of KL(target || mean activation), or L1",
    penalty_weight="sparsity",
)

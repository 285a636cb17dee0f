"""Input corruption of denoising autoencoders: the network sees a corrupted input and must
reconstruct the clean one (Vincent et al. 2008). The settings (:class:`~aelab.config.Noise`,
``kind:level``) are described in :mod:`aelab.config.noise`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from aelab.config.noise import Noise


def corrupt(key: jax.Array, x: jax.Array, noise: Noise, rows: jax.Array) -> jax.Array:
    """A corrupted copy of ``x`` (N, D); ``rows`` (N,) marks the samples whose extremes
    salt-and-pepper noise may use (the training part: held-out values must not leak in)."""
    if noise.kind == "gaussian":
        return x + noise.level * jax.random.normal(key, x.shape, x.dtype)
    hit = jax.random.bernoulli(key, noise.level, x.shape)
    if noise.kind == "mask":
        return jnp.where(hit, 0.0, x)
    k_side = jax.random.fold_in(key, 1)
    high = jax.random.bernoulli(k_side, 0.5, x.shape)
    seen = rows[:, None] > 0
    largest = jnp.where(seen, x, -jnp.inf).max(axis=0)
    smallest = jnp.where(seen, x, jnp.inf).min(axis=0)
    extreme = jnp.where(high, largest, smallest)
    return jnp.where(hit, extreme, x)

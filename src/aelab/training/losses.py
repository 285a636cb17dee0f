"""Losses as pure functions of arrays. Masks select the samples a term may see.

A mask is a float array (N,) of 0/1 weights: the training part for the reconstruction term,
the labelled training samples for the cross-entropy. Held-out samples flow through the network
(so their codes exist at every step) but never reach a loss.
"""

import jax
import jax.numpy as jnp


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of per-sample ``values`` (N,) over the samples that ``mask`` (N,) selects."""
    # where, not multiplication: 0 * nan is nan, and a masked-out sample must not leak in.
    return jnp.sum(jnp.where(mask > 0, values * mask, 0.0)) / jnp.maximum(jnp.sum(mask), 1.0)


def reconstruction_error(x: jax.Array, x_hat: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean squared error over the masked samples and all features (PyTorch's ``MSELoss``)."""
    per_sample = jnp.mean(jnp.square(x_hat - x), axis=-1)  # (N,)
    return masked_mean(per_sample, mask)


def cross_entropy(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy over the masked samples; ``labels`` are class indices."""
    log_p = jax.nn.log_softmax(logits, axis=-1)
    per_sample = -jnp.take_along_axis(log_p, labels[:, None], axis=-1)[:, 0]  # (N,)
    return masked_mean(per_sample, mask)

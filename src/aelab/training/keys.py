"""Random streams: every model's and every group's keys, derived from a seed with the same
few eager operations whatever the plan (so nothing new compiles), and stacked through their
key data."""

from __future__ import annotations

import jax
import numpy as np

ORDER_STREAM = 0x5EED  # folded into a phase's key: the stream of its epochs' orders


def key_stack(keys: list[jax.Array]) -> jax.Array:
    """Typed keys (of one shape) stacked on a new first axis, through their key data: no
    program to compile, as stacking them as arrays would."""
    data = np.stack([np.asarray(jax.random.key_data(k)) for k in keys])
    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(keys[0]))


def split_keys(key: jax.Array, count: int, rows: list[int]) -> np.ndarray:
    """The key data of ``jax.random.split(key, count)``'s keys ``rows`` (a NumPy array)."""
    return np.asarray(jax.random.key_data(jax.random.split(key, count)))[rows]

"""Pieces the families share: dense layers, batch norm's statistics, activations by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aelab.models.base import Params
from aelab.models.lazy import jax, jnp

# Each looks its JAX function up when it is called, so that the names (the choices of a
# config) need no JAX (see aelab.models.lazy).
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": lambda x: jax.nn.sigmoid(x),
    "tanh": lambda x: jnp.tanh(x),
    "relu": lambda x: jax.nn.relu(x),
    "elu": lambda x: jax.nn.elu(x),
    "gelu": lambda x: jax.nn.gelu(x),
    "softplus": lambda x: jax.nn.softplus(x),
    "linear": lambda x: x,
}

BN_MOMENTUM = 0.9  # running statistics: new = 0.9 * old + 0.1 * this batch's
BN_EPS = 1e-5


def dense_init(u: jax.Array, n_in: int, n_out: int) -> dict[str, jax.Array]:
    """A dense layer from ``n_in * n_out + n_out`` draws ``u`` of U(-1, 1).

    Weights and biases are U(-1/sqrt(n_in), 1/sqrt(n_in)): PyTorch's ``nn.Linear`` default,
    the framework of the original experiment.
    """
    u = u / jnp.sqrt(n_in)
    return {"w": u[: n_in * n_out].reshape(n_in, n_out), "b": u[n_in * n_out :]}


def dense(layer: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """``x @ w + b``."""
    return x @ layer["w"] + layer["b"]


def check_layout(model: Any, *activations: str) -> None:
    """Raise ``ValueError`` unless ``model``'s layer sizes are positive integers and its
    activations (and the extra ``activations``) are known ones."""
    sizes = (model.n_inputs, model.n_classes, model.code, *model.hidden)
    if not isinstance(model.hidden, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes
    ):
        raise ValueError(f"layer sizes must be positive integers, got {model}")
    if not {model.activation, model.code_activation, *activations} <= set(ACTIVATIONS):
        raise ValueError(f"unknown activation in {model}")


def masked_moments(a: jax.Array, rows: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """Mean and variance (w,) of ``a`` (N, w) over the samples ``rows`` (N,) marks (all when
    ``None``): batch norm learns from training samples only."""
    rows = jnp.ones(a.shape[0], a.dtype) if rows is None else rows
    w = rows[:, None] / jnp.maximum(rows.sum(), 1.0)
    mean = jnp.sum(w * a, axis=0)
    return mean, jnp.sum(w * jnp.square(a - mean), axis=0)


def ema(running: Params, mean: jax.Array, var: jax.Array) -> Params:
    """Running statistics after one more batch."""
    return {
        "mean": BN_MOMENTUM * running["mean"] + (1 - BN_MOMENTUM) * mean,
        "var": BN_MOMENTUM * running["var"] + (1 - BN_MOMENTUM) * var,
    }


@dataclass
class ForwardPass:
    """One forward pass: training (a ``key``) or evaluation, and what batch norm saw."""

    key: jax.Array | None  # None: evaluation mode, nothing random, running statistics
    rows: jax.Array | None  # (N,) samples whose statistics batch norm may use (training)
    stats: Params | None = None  # the running statistics after this pass (training only)

    @property
    def training(self) -> bool:
        return self.key is not None


def batch_norm(
    params: Params,
    part: str,
    i: int,
    a: jax.Array,
    p: ForwardPass,
    moments: Callable[[jax.Array, jax.Array | None], tuple[jax.Array, jax.Array]],
) -> jax.Array:
    """``a`` normalised by layer ``i`` of ``part``'s batch norm: with the statistics
    ``moments`` takes over this batch's training samples while training (they also update the
    running ones, into ``p.stats``), with the running statistics otherwise."""
    bn, running = params["bn"][part][i], params["stats"][part][i]
    if p.training:
        mean, var = moments(a, p.rows)
        if p.stats is None:
            p.stats = jax.tree.map(lambda s: s, params["stats"])
        p.stats[part][i] = ema(running, mean, var)
    else:
        mean, var = running["mean"], running["var"]
    return bn["scale"] * (a - mean) / jnp.sqrt(var + BN_EPS) + bn["shift"]


def dropout(h: jax.Array, p: ForwardPass, i: int, rate: float) -> jax.Array:
    """Inverted dropout of layer ``i``: scaled while training, so evaluation needs no change."""
    if not p.training or rate == 0:
        return h
    keep = jax.random.bernoulli(jax.random.fold_in(p.key, i), 1 - rate, h.shape)
    return jnp.where(keep, h / (1 - rate), 0.0)

"""Trained models on data: codes, reconstructions, class scores and a family's own measures
of M models (the leading axis of their parameters) at once, a block of rows at a time."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from aelab.models import AbstractModel, Params
from aelab.training.parallel import host

APPLY_ROWS = 65_536  # rows evaluated at a time: bounded device memory for any data size
APPLY_BYTES = 256 * 2**20  # and at most this much of every model's reconstructions a block


def block_rows(params: Params, x: np.ndarray) -> int:
    """Rows of ``x`` evaluated at a time by the models of ``params`` (leading axis): at
    most ``APPLY_ROWS``, and few enough that their reconstructions stay within
    ``APPLY_BYTES`` (4 models of CIFAR-10 images: 5,461 rows). Evaluation uses no batch
    statistics, so the block size never changes a number."""
    models = len(jax.tree.leaves(params)[0])
    width = int(np.prod(x.shape[1:])) or 1
    return max(1, min(APPLY_ROWS, APPLY_BYTES // (4 * models * width)))


def _blocks(fn: Callable, params: Params, x: np.ndarray, rows: np.ndarray | None = None) -> list:
    """``fn(params, block)`` of every block of :func:`block_rows` rows (of ``rows``, all by
    default), on the host."""
    step = block_rows(params, x)
    if rows is None:
        return [
            jax.tree.map(host, fn(params, np.asarray(x[i : i + step])))
            for i in range(0, len(x), step)
        ]
    return [
        jax.tree.map(host, fn(params, np.asarray(x[rows[i : i + step]])))
        for i in range(0, len(rows), step)
    ]


def _joined(blocks: list):
    """The blocks' arrays joined along the samples (axis 1, after the models')."""
    return jax.tree.map(lambda *parts: np.concatenate(parts, axis=1), *blocks)


@functools.cache
def _apply_fn(model: AbstractModel) -> Callable:
    return jax.jit(jax.vmap(model.apply, in_axes=(0, None)))


def apply_batched(
    model: AbstractModel, params: Params, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, reconstructions, logits)`` of M models (leading axis of ``params``) on ``x``."""
    return _joined(_blocks(_apply_fn(model), params, x))


@functools.cache
def _errors_fn(model: AbstractModel) -> Callable:
    def one(params, x):
        codes, recon, logits = model.apply(params, x)
        return codes, jnp.mean((recon - x) ** 2, axis=-1), logits

    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def errors_batched(
    model: AbstractModel, params: Params, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`apply_batched`, with each sample's mean squared reconstruction error
    (M, N) in place of the reconstructions: what data too large for (M, N, D) needs."""
    return _joined(_blocks(_errors_fn(model), params, x))


@functools.cache
def _encode_fn(model: AbstractModel) -> Callable:
    return jax.jit(jax.vmap(model.encode, in_axes=(0, None)))


def encode_batched(model: AbstractModel, params: Params, x: np.ndarray) -> np.ndarray:
    """The codes (M, N, code) of M models on ``x``."""
    return _joined(_blocks(_encode_fn(model), params, x))


@functools.cache
def _decode_fn(model: AbstractModel) -> Callable:
    return jax.jit(jax.vmap(model.decode, in_axes=(0, None)))


def decode_batched(model: AbstractModel, params: Params, z: np.ndarray) -> np.ndarray:
    """The reconstructions (M, N, D) of codes ``z`` (N, code) by M models (families that
    decode a code alone)."""
    return _joined(_blocks(_decode_fn(model), params, z))


def _first(params: Params) -> Params:
    return jax.tree.map(lambda a: a[0], params)


@functools.cache
def _measures_fn(model: AbstractModel) -> Callable:
    return jax.jit(jax.vmap(model.measures, in_axes=(0, None)))


def mean_measures(
    model: AbstractModel, params: Params, x: np.ndarray, rows: np.ndarray
) -> dict[str, np.ndarray]:
    """The mean over ``rows`` of each of the family's own measures
    (:meth:`AbstractModel.measures`) of M models on ``x``: (M,) each."""
    if not len(rows) or not jax.eval_shape(model.measures, _first(params), x[:1]):
        return {}  # (a family without measures: nothing to compile)
    values = _joined(_blocks(_measures_fn(model), params, x, rows))
    return {name: np.asarray(jnp.mean(jnp.asarray(v), axis=1)) for name, v in values.items()}


@functools.cache
def _hidden_fn(model: AbstractModel) -> Callable:
    return jax.jit(jax.vmap(model.hidden_layers, in_axes=(0, None)))


def hidden_batched(
    model: AbstractModel, params: Params, x: np.ndarray, rows: np.ndarray | None = None
) -> list[np.ndarray]:
    """Every encoder layer (M, N, width) of M models on ``x`` (its ``rows``, all by default),
    from the input up, the code last (:meth:`AbstractModel.hidden_layers`)."""
    return _joined(_blocks(_hidden_fn(model), params, x, rows))

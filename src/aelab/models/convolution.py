"""Pieces the convolutional families share: the geometry a sample's shape gives, convolutions
and transposed convolutions over one or two axes, and their parameters.

Feature maps are channels-last, ``(N, length, C)`` for signals and ``(N, height, width, C)``
for images, as a row of the data is flattened (row-major height, width, channels). Every
convolution pads to keep ``ceil(size / stride)`` positions ("SAME"); a transposed
convolution multiplies the size by the stride and is cropped to the size its mirror layer
had, so the decoder gives back the input's shape whatever the sizes.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from aelab.models.base import Params
from aelab.models.lazy import jax, jnp

# The most models of one map whose convolutions run one after another (see _per_model).
UNROLLED_MODELS = 8
# channels-last layouts of inputs, kernels and outputs, by the number of spatial axes
_DIMENSIONS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


@dataclass(frozen=True)
class Geometry:
    """The spatial sizes of a convolutional stack: ``levels[0]`` the input's (one axis for a
    signal, two for an image), ``levels[i]`` after ``i`` convolutions; ``channels`` the
    input's channels."""

    levels: tuple[tuple[int, ...], ...]
    channels: int

    @property
    def axes(self) -> int:
        return len(self.levels[0])


def input_geometry(input_shape: tuple[int, ...], layers: int, stride: int) -> Geometry:
    """The geometry of ``layers`` convolutions of ``stride`` over samples of ``input_shape``:
    ``(length,)`` a signal, ``(height, width)`` a greyscale image, ``(height, width,
    channels)`` a colour one."""
    if len(input_shape) == 1:
        spatial, channels = tuple(input_shape), 1
    elif len(input_shape) in (2, 3):
        spatial, channels = tuple(input_shape[:2]), (input_shape[2:] or (1,))[0]
    else:
        raise ValueError(f"input_shape must have 1 to 3 axes, got {input_shape!r}")
    levels = [spatial]
    for _ in range(layers):
        levels.append(tuple(-(-s // stride) for s in levels[-1]))
    return Geometry(tuple(levels), channels)


def uniform_layers(key: jax.Array, specs: list[tuple[tuple[int, ...], int]]) -> list[Params]:
    """Layers ``{"w", "b"}`` of the weight shapes and fan-ins ``specs`` (the bias is the
    weight's last axis), all U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's defaults for
    ``nn.Linear`` and ``nn.Conv*``; one random draw for all (it compiles faster than one a
    layer)."""
    sizes = [math.prod(shape) + shape[-1] for shape, _ in specs]
    u = jax.random.uniform(key, (sum(sizes),), jnp.float32, -1.0, 1.0)
    out = []
    for (a, b), (shape, fan_in) in zip(
        itertools.pairwise([0, *itertools.accumulate(sizes)]), specs, strict=True
    ):
        v = u[a:b] / math.sqrt(fan_in)
        out.append({"w": v[: math.prod(shape)].reshape(shape), "b": v[math.prod(shape) :]})
    return out


def convolve(layer: Params, x: jax.Array, stride: int, bias: bool = True) -> jax.Array:
    """The convolution ``layer`` (kernel ``(k, ..., C_in, C_out)``) of feature maps ``x``
    ``(N, *spatial, C_in)``, ``ceil(size / stride)`` positions an axis."""
    out = _per_model("conv", stride, x.ndim - 2)(x, layer["w"])
    return out + layer["b"] if bias else out


def convolve_transposed(
    layer: Params, x: jax.Array, stride: int, size: tuple[int, ...], bias: bool = True
) -> jax.Array:
    """The transposed convolution ``layer`` of ``x`` ``(N, *spatial, C_in)``: ``stride``
    times the positions, cropped to ``size``."""
    out = _per_model("transposed", stride, x.ndim - 2)(x, layer["w"])
    out = out[(slice(None), *(slice(0, s) for s in size))]
    return out + layer["b"] if bias else out


def _lax_op(kind: str, stride: int, axes: int) -> Callable:
    """The plain convolution (or transposed one) of feature maps and a kernel."""
    options = {"padding": "SAME", "dimension_numbers": _DIMENSIONS[axes]}
    if kind == "conv":
        return lambda x, w: jax.lax.conv_general_dilated(x, w, (stride,) * axes, **options)
    return lambda x, w: jax.lax.conv_transpose(x, w, (stride,) * axes, **options)


@functools.cache
def _per_model(kind: str, stride: int, axes: int) -> Callable:
    """:func:`_lax_op` that runs once for every model when the models are mapped
    (``jax.vmap``), forward and backward.

    The training program maps its K models with ``jax.vmap``, which would turn K models'
    convolutions into one grouped convolution; XLA's CPU backend runs those at a third to
    half the speed of K plain ones (``benchmarks/bench_compile.py``, BENCHMARKS.md). Here a
    map of up to ``UNROLLED_MODELS`` is unrolled instead: a batching rule (``custom_vmap``)
    calls the plain convolution for each model, and so does the gradient's (a ``custom_vjp``
    whose backward pass is the plain convolution's own, unrolled the same way). A wider map
    (a sweep's many seeds) keeps the grouped convolution, which compiles once for any number
    of models. A map over samples with one kernel folds them into the convolution's batch.
    """
    op = _lax_op(kind, stride, axes)
    custom_vmap = jax.custom_batching.custom_vmap

    @custom_vmap
    def forward(x, w):
        return op(x, w)

    @forward.def_vmap
    def _forward_each(size, batched, x, w):
        if not batched[1]:  # one kernel: the mapped samples are more of the batch
            out = forward(x.reshape(-1, *x.shape[2:]), w)
            return out.reshape(size, -1, *out.shape[1:]), True
        if size > UNROLLED_MODELS:
            return jax.vmap(op, in_axes=_axes(batched))(x, w), True
        return jnp.stack([forward(*_model(i, batched, x, w)) for i in range(size)]), True

    @custom_vmap
    def backward(x, w, g):
        return _vjp(op)(x, w, g)

    @backward.def_vmap
    def _backward_each(size, batched, x, w, g):
        if size > UNROLLED_MODELS:
            return jax.vmap(_vjp(op), in_axes=_axes(batched))(x, w, g), (True, True)
        grads = [backward(*_model(i, batched, x, w, g)) for i in range(size)]
        return tuple(jnp.stack(parts) for parts in zip(*grads, strict=True)), (True, True)

    @jax.custom_vjp
    def per_model(x, w):
        return forward(x, w)

    per_model.defvjp(lambda x, w: (forward(x, w), (x, w)), lambda res, g: backward(*res, g))
    return per_model


def _vjp(op: Callable) -> Callable:
    """``(x, w, g) -> (dx, dw)``: the gradients of ``op`` at ``(x, w)`` for the output
    gradient ``g``."""
    return lambda x, w, g: jax.vjp(op, x, w)[1](g)


def _axes(batched) -> tuple:
    """``jax.vmap``'s ``in_axes`` for arguments mapped (axis 0) or not."""
    return tuple(0 if mapped else None for mapped in batched)


def _model(i: int, batched, *arrays) -> list:
    """Model ``i``'s slice of every array mapped over the models (the others as they are)."""
    return [a[i] if mapped else a for a, mapped in zip(arrays, batched, strict=True)]


def channel_moments(a: jax.Array, rows: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """Mean and variance (C,) of feature maps ``a`` ``(N, *spatial, C)`` over the samples
    ``rows`` (N,) marks (all when ``None``) and every position: batch norm of a channel."""
    n, positions = a.shape[0], math.prod(a.shape[1:-1])
    rows = jnp.ones(n, a.dtype) if rows is None else rows
    w = (rows / jnp.maximum(rows.sum() * positions, 1.0)).reshape(n, *([1] * (a.ndim - 1)))
    mean = jnp.sum(w * a, axis=tuple(range(a.ndim - 1)))
    return mean, jnp.sum(w * jnp.square(a - mean), axis=tuple(range(a.ndim - 1)))

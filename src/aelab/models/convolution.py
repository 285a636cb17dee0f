"""Pieces the convolutional families share: the geometry a sample's shape gives, convolutions
and transposed convolutions over one or two axes, and their parameters.

Feature maps are channels-last, ``(N, length, C)`` for signals and ``(N, height, width, C)``
for images, as a row of the data is flattened (row-major height, width, channels). Every
convolution pads to keep ``ceil(size / stride)`` positions ("SAME"); a transposed
convolution multiplies the size by the stride and is cropped to the size its mirror layer
had, so the decoder gives back the input's shape whatever the sizes.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from aelab.models.base import Params
from aelab.models.lazy import jax, jnp

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
    axes = x.ndim - 2
    out = jax.lax.conv_general_dilated(
        x, layer["w"], (stride,) * axes, "SAME", dimension_numbers=_DIMENSIONS[axes]
    )
    return out + layer["b"] if bias else out


def convolve_transposed(
    layer: Params, x: jax.Array, stride: int, size: tuple[int, ...], bias: bool = True
) -> jax.Array:
    """The transposed convolution ``layer`` of ``x`` ``(N, *spatial, C_in)``: ``stride``
    times the positions, cropped to ``size``."""
    axes = x.ndim - 2
    out = jax.lax.conv_transpose(
        x, layer["w"], (stride,) * axes, "SAME", dimension_numbers=_DIMENSIONS[axes]
    )
    out = out[(slice(None), *(slice(0, s) for s in size))]
    return out + layer["b"] if bias else out


def channel_moments(a: jax.Array, rows: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """Mean and variance (C,) of feature maps ``a`` ``(N, *spatial, C)`` over the samples
    ``rows`` (N,) marks (all when ``None``) and every position: batch norm of a channel."""
    n, positions = a.shape[0], math.prod(a.shape[1:-1])
    rows = jnp.ones(n, a.dtype) if rows is None else rows
    w = (rows / jnp.maximum(rows.sum() * positions, 1.0)).reshape(n, *([1] * (a.ndim - 1)))
    mean = jnp.sum(w * a, axis=tuple(range(a.ndim - 1)))
    return mean, jnp.sum(w * jnp.square(a - mean), axis=tuple(range(a.ndim - 1)))

"""The convolutional ladder's decoder below its last feature map, down to the input.

Level ``i`` is the input (``i = 0``) or the ``i``-th convolution's feature maps; the dense
ladder's decoder gives the estimate of the last level ``L`` (:mod:`aelab.models.conv_ladder`).
Going down, level ``i < L`` gets ``u`` from the estimate of level ``i + 1`` by a transposed
convolution (no bias: batch norm follows), cropped to level ``i``'s positions and
batch-normalised per channel; its estimate is the ladder's combinator
``g(z~, u)`` (:func:`aelab.models.ladder.combine`) of the corrupted ``z~`` of that level (the
noisy input, or the noisy normalised pre-activations) and ``u``. The combinator's ten
parameters are per channel, shared by every position of a map: the cheap, standard choice for
convolutions (a per-position combinator would tie the model to one image size and multiply
its parameters by the positions).

A level's denoising cost is the mean squared difference, per unit (every position and
channel), between the clean normalised pre-activations and the estimate normalised with the
clean batch's moments, as the dense ladder's are; the input's estimate is compared with the
clean input as it is.
"""

from __future__ import annotations

from aelab.models.base import Params
from aelab.models.convolution import Geometry, channel_moments, convolve_transposed, uniform_layers
from aelab.models.ladder import combinator_start, combine
from aelab.models.layers import BN_EPS, ema
from aelab.models.lazy import jax, jnp


def init_decoder(
    key: jax.Array, geometry: Geometry, conv: tuple[int, ...], kernel_size: int
) -> dict[str, list[Params]]:
    """Level ``i``'s transposed convolution ``conv_decoder[i]`` (kernel ``(k, ..., C(i+1),
    C(i))``, fan-in from its output channels as PyTorch's), combinator ``conv_combinator[i]``
    (``a`` (10, C(i))) and running statistics of ``u`` ``stats`` (``mean``, ``var`` (C(i),)),
    for every level below the last."""
    g, k = geometry, kernel_size
    channels = (g.channels, *conv)
    specs = [
        ((*(k,) * g.axes, channels[i + 1], channels[i]), channels[i] * k**g.axes)
        for i in range(len(conv))
    ]
    below = channels[:-1]
    return {
        "conv_decoder": [{"w": layer["w"]} for layer in uniform_layers(key, specs)],
        "conv_combinator": [{"a": combinator_start(c)} for c in below],
        "stats": [
            {"mean": jnp.zeros(c, jnp.float32), "var": jnp.ones(c, jnp.float32)} for c in below
        ],
    }


def decode(
    params: Params,
    top: jax.Array,
    noisy: list[jax.Array],
    geometry: Geometry,
    stride: int,
    rows: jax.Array | None,
    training: bool,
    lowest: int = 0,
) -> tuple[list[jax.Array | None], list[dict[str, jax.Array] | None]]:
    """The estimates of levels ``lowest`` to ``L - 1`` (``None`` below ``lowest``) from
    ``top``, the estimate of the last level ``(N, *positions, C(L))``, and the corrupted
    ``noisy[i]`` ``(N, *positions, C(i))`` of every level; and the batch moments of each
    level's ``u`` while ``training`` (running statistics otherwise; ``None`` where not
    computed)."""
    n_levels = len(geometry.levels) - 1
    estimates: list[jax.Array | None] = [None] * n_levels
    u_moments: list[dict[str, jax.Array] | None] = [None] * n_levels
    above = top
    for level in range(n_levels - 1, lowest - 1, -1):
        u = convolve_transposed(
            params["conv_decoder"][level], above, stride, geometry.levels[level], bias=False
        )  # (N, *positions of the level, C(level))
        if training:
            mean, var = channel_moments(u, rows)
            u_moments[level] = {"mean": mean, "var": var}
        else:
            running = params["stats"]["conv_decoder"][level]
            mean, var = running["mean"], running["var"]
        u = (u - mean) / jnp.sqrt(var + BN_EPS)
        # one combinator a channel: its (10, C) parameters broadcast over the positions
        above = combine(params["conv_combinator"][level]["a"], noisy[level], u)
        estimates[level] = above
    return estimates, u_moments


def costs(
    clean: list[jax.Array],
    estimates: list[jax.Array | None],
    moments: list[tuple[jax.Array, jax.Array]],
    lowest: int = 0,
) -> list[jax.Array]:
    """Per-sample denoising costs (N,) of levels ``lowest`` to ``L - 1``, in that order:
    ``clean[i]`` the clean input map (``i = 0``) or normalised pre-activations, ``moments[i -
    1]`` the clean batch moments of level ``i``'s pre-activations."""
    out = []
    for level in range(lowest, len(estimates)):
        estimate = estimates[level]
        assert estimate is not None, "the decoder stops at the lowest level"
        if level > 0:
            mean, var = moments[level - 1]
            estimate = (estimate - mean) / jnp.sqrt(var + BN_EPS)
        out.append(
            jnp.mean(jnp.square(estimate - clean[level]), axis=tuple(range(1, estimate.ndim)))
        )
    return out


def running(old: list[Params], u_moments: list[dict[str, jax.Array] | None]) -> list[Params]:
    """The running statistics of every level's ``u`` after this batch (levels the decoder
    skipped keep theirs)."""
    return [
        s if new is None else ema(s, new["mean"], new["var"])
        for s, new in zip(old, u_moments, strict=True)
    ]

"""The convolutional ladder network: convolutions under a ladder network's dense layers.

``input -> conv[0] -> ... -> conv[-1] -> flatten -> hidden... -> code -> classes``. Every
convolution is batch-normalised per channel, then shifted and scaled (beta, gamma per channel)
and activated, as the dense ladder's layers are (:mod:`aelab.models.ladder`), and the
corrupted encoder adds Gaussian noise to the input and to every normalised feature map. The
dense part above the convolutions *is* a :class:`~aelab.models.ladder.LadderNetwork` whose
input is the last feature map, flattened: its decoder denoises, from the top down, the
classes, the code, the hidden layers and that feature map's activations (a combinator per
unit, as on its input). Below it the decoder goes on down the convolutions to the input
(:mod:`aelab.models.conv_ladder_decoder`: transposed convolutions, batch norm and a
combinator per channel), as in the ladder paper's Conv-Large full ladder.

``ladder_weights`` weigh the levels' denoising costs, input first, then each feature map (the
last one is the dense ladder's input level), the hidden layers, the code, the classes last.
Levels below the lowest weight above 0 are not computed: ``gamma`` (the paper's Conv-Small
Γ-model, the class layer's cost alone) has a decoder of one combinator on the class scores, so
a step costs two passes of the encoder; a weight on the input (``default``, ``paper``) runs the
decoder through every level, a third pass of transposed convolutions.

With a weight on the input, the reconstruction is the decoder's estimate of the input (from
the clean laterals in evaluation, as the dense ladder's), and the training loop's
reconstruction term is that level's cost. Otherwise there is no decoder down to the input:
the reconstruction the network gives (to the training loop, the report, the stage figures) is
the input itself, its reconstruction error 0, and the reconstruction term of the strategies
carries only the weighted denoising costs. The code that aelab plots is the clean code layer.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from aelab.models import conv_ladder_decoder as lower
from aelab.models.base import AbstractModel, Family, Forward, Layout, Params
from aelab.models.conv_ae import ConvSettings, shaped_layout
from aelab.models.convolution import (
    Geometry,
    channel_moments,
    convolve,
    input_geometry,
    uniform_layers,
)
from aelab.models.ladder import LadderNetwork, LadderSettings, ladder_weights
from aelab.models.layers import ACTIVATIONS, BN_EPS, ema
from aelab.models.lazy import jax, jnp


@dataclass(frozen=True)
class ConvLadderNetwork(AbstractModel):
    """A ladder network over convolutions; ``weights`` weigh the denoising costs of the
    input, each convolution's feature maps, the hidden layers, the code and the classes, in
    that order."""

    n_inputs: int
    n_classes: int
    hidden: tuple[int, ...] = ()
    code: int = 2
    activation: str = "relu"
    code_activation: str = "sigmoid"
    input_shape: tuple[int, ...] = ()
    conv: tuple[int, ...] = (16, 32)
    kernel_size: int = 3
    stride: int = 2
    noise_std: float = 0.3
    weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        positive = (*self.conv, self.kernel_size, self.stride, *self.input_shape)
        if not self.conv or not all(isinstance(n, int) and n >= 1 for n in positive):
            raise ValueError(f"conv, kernel_size, stride and input_shape must be >= 1: {self}")
        if math.prod(self.input_shape) != self.n_inputs or not 1 <= len(self.input_shape) <= 3:
            raise ValueError(f"input_shape {self.input_shape} does not hold {self.n_inputs}")
        levels = len(self.conv) + len(self.hidden) + 3
        if len(self.weights) != levels:
            raise ValueError(
                f"weights must be {levels} floats >= 0 (input, {len(self.conv)} feature maps, "
                f"{len(self.hidden)} hidden layers, code, classes), got {self.weights}"
            )
        self.ladder  # noqa: B018 -- the dense part checks the sizes, noise and weights

    @property
    def uses_randomness(self) -> bool:
        return True  # the corrupted path's noise

    @property
    def geometry(self) -> Geometry:
        return input_geometry(self.input_shape, len(self.conv), self.stride)

    @property
    def ladder(self) -> LadderNetwork:
        """The dense ladder above the convolutions (its input: the last map, flattened)."""
        flat = math.prod(self.geometry.levels[-1]) * self.conv[-1]
        return LadderNetwork(
            n_inputs=flat, n_classes=self.n_classes, hidden=self.hidden, code=self.code,
            activation=self.activation, code_activation=self.code_activation,
            noise_std=self.noise_std, weights=self.weights[len(self.conv) :],
        )  # fmt: skip

    @property
    def lowest(self) -> int:
        """The lowest level whose denoising cost counts, 0 the input (the decoder stops
        there)."""
        return next((i for i, w in enumerate(self.weights) if w > 0), len(self.weights) - 1)

    @property
    def reconstructs(self) -> bool:
        """Whether the decoder reaches the input (a weight on its cost)."""
        return self.lowest == 0

    def init(self, key: jax.Array) -> Params:
        """The dense ladder's parameters, with ``conv`` (kernels, no bias: batch norm
        follows), ``conv_bn`` (beta, gamma a channel) and running statistics in
        ``stats["conv"]``; when the decoder goes below the last feature map, its transposed
        convolutions ``conv_decoder``, combinators ``conv_combinator`` and statistics of ``u``
        ``stats["conv_decoder"]`` (:func:`~aelab.models.conv_ladder_decoder.init_decoder`)."""
        k_conv, k_dense = jax.random.split(key)
        g, k = self.geometry, self.kernel_size
        channels = (g.channels, *self.conv)
        specs = [((*(k,) * g.axes, a, b), a * k**g.axes) for a, b in itertools.pairwise(channels)]
        params = self.ladder.init(k_dense)
        params["conv"] = [{"w": layer["w"]} for layer in uniform_layers(k_conv, specs)]
        params["conv_bn"] = [{"gamma": jnp.ones(c), "beta": jnp.zeros(c)} for c in self.conv]
        params["stats"]["conv"] = [{"mean": jnp.zeros(c), "var": jnp.ones(c)} for c in self.conv]
        if self.lowest < len(self.conv):  # a key of its own: the Γ-model's draws stay the same
            decoder = lower.init_decoder(jax.random.fold_in(key, 1), g, self.conv, k)
            params["stats"]["conv_decoder"] = decoder.pop("stats")
            params.update(decoder)
        return params

    def _convolutions(
        self,
        params: Params,
        x: jax.Array,
        rows: jax.Array | None,
        training: bool,
        noise_key: jax.Array | None = None,
        maps: list[jax.Array] | None = None,
        zs: list[jax.Array] | None = None,
    ) -> tuple[jax.Array, list[tuple[jax.Array, jax.Array]]]:
        """The last feature map flattened (N, flat) and each convolution's batch moments;
        noisy input and normalised maps with ``noise_key``; each map flattened into
        ``maps`` when given, and into ``zs`` the input map and every normalised map
        (N, *positions, C), as the decoder sees them."""

        def noisy(z: jax.Array, level: int) -> jax.Array:
            if noise_key is None:
                return z
            eps = jax.random.normal(jax.random.fold_in(noise_key, level), z.shape, z.dtype)
            return z + self.noise_std * eps

        g, n = self.geometry, x.shape[0]
        h = noisy(x, 0).reshape(n, *g.levels[0], g.channels)
        if zs is not None:
            zs.append(h)
        moments = []
        for i, layer in enumerate(params["conv"]):
            pre = convolve(layer, h, self.stride, bias=False)
            if training:
                mean, var = channel_moments(pre, rows)
            else:
                mean, var = params["stats"]["conv"][i]["mean"], params["stats"]["conv"][i]["var"]
            moments.append((mean, var))
            z = noisy((pre - mean) / jnp.sqrt(var + BN_EPS), i + 1)
            if zs is not None:
                zs.append(z)
            bn = params["conv_bn"][i]
            h = ACTIVATIONS[self.activation](bn["gamma"] * (z + bn["beta"]))
            if maps is not None:
                maps.append(h.reshape(n, -1))
        return h.reshape(n, -1), moments

    def encode(self, params: Params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The clean code (N, code), with running statistics."""
        return self.ladder.encode(params, self._convolutions(params, x, None, False)[0])

    def hidden_layers(self, params: Params, x: jax.Array) -> list[jax.Array]:
        """Each convolution's feature maps flattened, the hidden layers and the code (clean
        path, running statistics)."""
        maps: list[jax.Array] = []
        features, _ = self._convolutions(params, x, None, False, maps=maps)
        return [*maps, *self.ladder.hidden_layers(params, features)]

    def logits(self, params: Params, z: jax.Array) -> jax.Array:
        return self.ladder.logits(params, z)

    def with_head_of(self, params: Params, source: Params) -> Params:
        return self.ladder.with_head_of(params, source)

    def apply(
        self, params: Params, x: jax.Array, key: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(code, reconstruction, logits)`` of the clean path in evaluation mode; the
        reconstruction is the decoder's estimate of the input from the clean laterals when
        the decoder reaches the input (:attr:`reconstructs`), the input itself otherwise."""
        zs: list[jax.Array] = []
        features, _ = self._convolutions(params, x, None, False, zs=zs)
        dense, _, code, logits = self.ladder._encoder(params, features, None, training=False)
        if not self.reconstructs:
            return code, x, logits
        top = jax.nn.softmax(logits)
        estimates, _ = self.ladder._decoder(params, dense, top, None, training=False)
        below, _ = lower.decode(
            params, self._as_map(estimates[0]), zs, self.geometry, self.stride, None, False
        )
        return code, below[0].reshape(x.shape), logits

    def _as_map(self, flat: jax.Array) -> jax.Array:
        """The last feature map (N, *positions, C) of its flattened rows (N, flat)."""
        return flat.reshape(flat.shape[0], *self.geometry.levels[-1], self.conv[-1])

    def train_forward(
        self, params: Params, x: jax.Array, key: jax.Array, rows: jax.Array | None = None
    ) -> Forward:
        """Clean and corrupted encoders and the decoder down to :attr:`lowest`: ``(code,
        reconstruction, corrupted logits, penalty)`` and the new running statistics. With a
        weight on the input, the reconstruction is the decoder's estimate of it and the
        penalty the weighted costs beyond its plain reconstruction error (which the training
        loop adds), as the dense ladder's; otherwise the input and the weighted costs."""
        k_conv, k_dense = jax.random.split(key)
        ladder, n_conv = self.ladder, len(self.conv)
        top_lowest = max(self.lowest - n_conv, 0)  # the dense part's lowest level
        clean_maps: list[jax.Array] = []
        noisy_maps: list[jax.Array] = []
        features, conv_moments = self._convolutions(params, x, rows, True, zs=clean_maps)
        noisy_features, _ = self._convolutions(
            params, x, rows, True, noise_key=k_conv, zs=noisy_maps
        )
        clean, moments, code, _ = ladder._encoder(params, features, rows, True)
        noisy, _, _, noisy_logits = ladder._encoder(
            params, noisy_features, rows, True, noise_key=k_dense, input_noise=False
        )
        top = jax.nn.softmax(noisy_logits)
        estimates, u_moments = ladder._decoder(params, noisy, top, rows, True, lowest=top_lowest)
        costs = ladder._costs(clean, estimates, moments, lowest=top_lowest)
        penalty = sum(
            w * c
            for w, c in zip(self.weights[n_conv + top_lowest :], costs[top_lowest:], strict=True)
        )
        stats = ladder._running(params, moments, u_moments)
        stats["conv"] = [
            ema(s, m, v) for s, (m, v) in zip(params["stats"]["conv"], conv_moments, strict=True)
        ]
        reconstruction = x
        if self.lowest < n_conv:
            below, below_moments = lower.decode(
                params, self._as_map(estimates[0]), noisy_maps, self.geometry, self.stride,
                rows, True, lowest=self.lowest,
            )  # fmt: skip
            below_costs = lower.costs(clean_maps, below, conv_moments, lowest=self.lowest)
            weights = list(self.weights[self.lowest : n_conv])
            if self.reconstructs:  # the training loop adds the input's plain reconstruction error
                reconstruction, weights[0] = below[0].reshape(x.shape), weights[0] - 1.0
            penalty = penalty + sum(w * c for w, c in zip(weights, below_costs, strict=True))
            stats["conv_decoder"] = lower.running(params["stats"]["conv_decoder"], below_moments)
        return (code, reconstruction, noisy_logits, penalty), stats


@dataclass(frozen=True)
class ConvLadderSettings(ConvSettings, LadderSettings):
    """The convolutions' settings and the ladder's noise and cost weights."""

    def levels(self, config) -> list[str]:
        """What each weight weighs: the input, each convolution's feature maps, the hidden
        layers, the code and the classes of ``config``."""
        first, *rest = LadderSettings.levels(self, config)
        return [first, *(f"feature map {i + 1}" for i in range(len(config.conv))), *rest]

    def __post_init__(self) -> None:
        ConvSettings.__post_init__(self)
        LadderSettings.__post_init__(self)

    def describe(self) -> list[str]:
        return [*LadderSettings.describe(self), *ConvSettings.describe(self)]


def _build(layout: Layout, settings: ConvLadderSettings) -> ConvLadderNetwork:
    layout = shaped_layout(layout, "conv-ladder")
    return ConvLadderNetwork(
        n_inputs=layout.n_inputs, n_classes=layout.n_classes, hidden=layout.hidden,
        code=layout.code, activation=layout.activation, code_activation=layout.code_activation,
        input_shape=layout.input_shape, conv=settings.conv, kernel_size=settings.kernel_size,
        stride=settings.stride, noise_std=settings.ladder_noise,
        weights=ladder_weights(
            settings.ladder_weights, len(settings.conv) + len(layout.hidden) + 3
        ),
    )  # fmt: skip


FAMILY = Family(
    name="conv-ladder",
    title="convolutional ladder network",
    summary="ladder network over convolutions: noisy and clean passes, denoising costs from "
    "the classes down through every feature map to the input (gamma: the top only, the "
    "Γ-model)",
    model=ConvLadderNetwork,
    settings=ConvLadderSettings,
    build=_build,
    decodes=False,
    penalty="weighted denoising costs of every level beyond the input's reconstruction",
)

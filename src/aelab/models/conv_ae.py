"""The convolutional autoencoder: convolutions, then dense layers down to the code; the
decoder mirrors them with transposed convolutions back to the input's shape.

``input -> conv[0] -> ... -> conv[-1] -> flatten -> hidden... -> code``, and back
``code -> hidden reversed -> conv[-1] maps -> transposed convs -> input``. Signals (one axis,
MNIST-1D's 40 samples) get 1-D convolutions, images (greyscale or colour) 2-D ones; each
convolution has ``kernel_size`` taps an axis and moves by ``stride``. The softmax head reads
the code, as every family's does, so every strategy trains it the same way.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from aelab.errors import ConfigError
from aelab.models.base import AbstractModel, AbstractSettings, Family, Forward, Layout, Params
from aelab.models.convolution import (
    Geometry,
    channel_moments,
    convolve,
    convolve_transposed,
    input_geometry,
    uniform_layers,
)
from aelab.models.layers import ACTIVATIONS, ForwardPass, batch_norm, check_layout, dense, dropout
from aelab.models.lazy import jax, jnp


@dataclass(frozen=True)
class ConvAutoencoder(Layout, AbstractModel):
    """A :class:`Layout` (``hidden``: dense layers between the convolutions and the code;
    ``input_shape``: the sample's shape) and the convolutions: ``conv`` channels a layer,
    ``kernel_size`` and ``stride``. Batch norm, when on, normalises every convolution's
    channels but the output's; dropout drops feature-map units, hidden units and the code."""

    conv: tuple[int, ...] = (16, 32)
    kernel_size: int = 3
    stride: int = 2
    output_activation: str = "linear"

    _encoder_outputs = 1  # the code layer's width in codes (a VAE's gives mean and variance)

    def __post_init__(self) -> None:
        # Internal contract; user-facing settings are validated in aelab.config first.
        check_layout(self, self.output_activation)
        positive = (*self.conv, self.kernel_size, self.stride, *self.input_shape)
        if not self.conv or not all(isinstance(n, int) and n >= 1 for n in positive):
            raise ValueError(f"conv, kernel_size, stride and input_shape must be >= 1: {self}")
        if math.prod(self.input_shape) != self.n_inputs or not 1 <= len(self.input_shape) <= 3:
            raise ValueError(f"input_shape {self.input_shape} does not hold {self.n_inputs}")
        if not (isinstance(self.dropout, float) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be a float in [0, 1), got {self.dropout!r}")

    @property
    def uses_randomness(self) -> bool:
        return self.dropout > 0

    @property
    def geometry(self) -> Geometry:
        """Spatial sizes from the input's to the last convolution's."""
        return input_geometry(self.input_shape, len(self.conv), self.stride)

    def init(self, key: jax.Array) -> Params:
        """``{"encoder": {"conv", "dense"}, "decoder": {"dense", "conv"}, "head"}``, with
        batch norm its scales and shifts (``"bn"``) and running statistics (``"stats"``)."""
        g, k = self.geometry, self.kernel_size
        kernel = (k,) * g.axes
        channels = (g.channels, *self.conv)
        flat = math.prod(g.levels[-1]) * self.conv[-1]
        widths = (flat, *self.hidden, self.code)
        enc_conv = [((*kernel, a, b), a * k**g.axes) for a, b in itertools.pairwise(channels)]
        enc_dense = [((a, b), a) for a, b in itertools.pairwise(widths)]
        enc_dense[-1] = ((widths[-2], self.code * self._encoder_outputs), widths[-2])
        dec_dense = [((a, b), a) for a, b in itertools.pairwise(widths[::-1])]
        out = channels[::-1]
        # PyTorch takes a transposed convolution's fan-in from its output channels
        dec_conv = [((*kernel, a, b), b * k**g.axes) for a, b in itertools.pairwise(out)]
        specs = [
            *enc_conv,
            *enc_dense,
            *dec_dense,
            *dec_conv,
            ((self.code, self.n_classes), self.code),
        ]
        layers = uniform_layers(key, specs)
        cut = [0, len(enc_conv), len(enc_conv) + len(enc_dense)]
        cut += [cut[-1] + len(dec_dense), cut[-1] + len(dec_dense) + len(dec_conv)]
        params = {
            "encoder": {"conv": layers[cut[0] : cut[1]], "dense": layers[cut[1] : cut[2]]},
            "decoder": {"dense": layers[cut[2] : cut[3]], "conv": layers[cut[3] : cut[4]]},
            "head": layers[-1],
        }
        if self.batch_norm:
            norm = {"encoder": list(self.conv), "decoder": list(out[1:-1])}
            params["bn"] = {
                part: [{"scale": jnp.ones(w), "shift": jnp.zeros(w)} for w in ws]
                for part, ws in norm.items()
            }
            params["stats"] = {
                part: [{"mean": jnp.zeros(w), "var": jnp.ones(w)} for w in ws]
                for part, ws in norm.items()
            }
        return params

    def _drop(self, h: jax.Array, p: ForwardPass, i: int) -> jax.Array:
        return dropout(h, p, i, self.dropout)

    def _norm(self, params: Params, part: str, i: int, a: jax.Array, p: ForwardPass) -> jax.Array:
        """Feature maps ``a`` batch-normalised per channel when batch norm is on: with the
        training samples' statistics while training, with the running ones otherwise."""
        if not self.batch_norm:
            return a
        return batch_norm(params, part, i, a, p, channel_moments)

    def _hidden_stack(self, params: Params, x: jax.Array, p: ForwardPass) -> list[jax.Array]:
        """Every convolution's feature maps, then the dense hidden layers, each (N, width)."""
        g, act, n = self.geometry, ACTIVATIONS[self.activation], x.shape[0]
        h = x.reshape(n, *g.levels[0], g.channels)
        out = []
        for i, layer in enumerate(params["encoder"]["conv"]):
            a = convolve(layer, h, self.stride, bias=not self.batch_norm)
            h = self._drop(act(self._norm(params, "encoder", i, a, p)), p, i)
            out.append(h.reshape(n, -1))
        h = out[-1]
        for j, layer in enumerate(params["encoder"]["dense"][:-1]):
            h = self._drop(act(dense(layer, h)), p, len(self.conv) + j)
            out.append(h)
        return out

    def _code_of(self, params: Params, h: jax.Array, p: ForwardPass) -> jax.Array:
        """The code of the last hidden layer ``h``."""
        a = dense(params["encoder"]["dense"][-1], h)
        return self._drop(
            ACTIVATIONS[self.code_activation](a), p, len(self.conv) + len(self.hidden)
        )

    def _encode(self, params: Params, x: jax.Array, p: ForwardPass) -> jax.Array:
        return self._code_of(params, self._hidden_stack(params, x, p)[-1], p)

    def _decode(self, params: Params, z: jax.Array, p: ForwardPass) -> jax.Array:
        g, act, n = self.geometry, ACTIVATIONS[self.activation], z.shape[0]
        offset = len(self.conv) + len(self.hidden) + 1  # dropout masks apart from the encoder's
        h = z
        for j, layer in enumerate(params["decoder"]["dense"]):
            h = self._drop(act(dense(layer, h)), p, offset + j)
        h = h.reshape(n, *g.levels[-1], self.conv[-1])
        last = len(self.conv) - 1
        for j, layer in enumerate(params["decoder"]["conv"]):
            size = g.levels[last - j]
            if j == last:
                h = ACTIVATIONS[self.output_activation](
                    convolve_transposed(layer, h, self.stride, size)
                )
            else:
                a = convolve_transposed(layer, h, self.stride, size, bias=not self.batch_norm)
                h = self._drop(act(self._norm(params, "decoder", j, a, p)), p, 2 * offset + j)
        return h.reshape(n, -1)

    def encode(self, params: Params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The code (N, code) of inputs ``x`` (N, D), rows flattened from ``input_shape``."""
        return self._encode(params, x, ForwardPass(key, None))

    def decode(self, params: Params, z: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The reconstruction (N, D) of codes ``z`` (N, code), flattened as the inputs."""
        return self._decode(params, z, ForwardPass(key, None))

    def hidden_layers(self, params: Params, x: jax.Array) -> list[jax.Array]:
        """Each convolution's feature maps flattened (N, positions * channels), each dense
        hidden layer, then the code, in evaluation mode."""
        p = ForwardPass(None, None)
        hidden = self._hidden_stack(params, x, p)
        return [*hidden, self._code_of(params, hidden[-1], p)]

    def logits(self, params: Params, z: jax.Array) -> jax.Array:
        return dense(params["head"], z)

    def with_head_of(self, params: Params, source: Params) -> Params:
        return {**params, "head": source["head"]}

    def apply(
        self, params: Params, x: jax.Array, key: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        p = ForwardPass(key, None)
        z = self._encode(params, x, p)
        return z, self._decode(params, z, p), self.logits(params, z)

    def train_forward(
        self, params: Params, x: jax.Array, key: jax.Array, rows: jax.Array | None = None
    ) -> Forward:
        p = ForwardPass(key, rows)
        z = self._encode(params, x, p)
        out = (z, self._decode(params, z, p), self.logits(params, z), jnp.zeros(z.shape[0]))
        return out, p.stats


def _channels(value: Any) -> tuple[int, ...]:
    """``conv`` as a tuple of channel counts, from ``32,64``, a list or a tuple."""
    items = value.split(",") if isinstance(value, str) else value
    try:
        out = tuple(int(str(c).strip()) for c in items)
    except (TypeError, ValueError):
        out = ()
    if not out or any(c < 1 for c in out) or isinstance(value, bool):
        raise ConfigError(
            f"model.conv must list each convolution's channels, such as 32,64, got {value!r}"
        )
    return out


@dataclass(frozen=True)
class ConvSettings(AbstractSettings):
    """The convolutional families' own settings: the convolutions' channels, kernel, stride."""

    conv: tuple[int, ...] = field(
        default=(16, 32),
        metadata={"help": "Conv: channels of each convolution, e.g. 32,64 [16,32]."},
    )
    kernel_size: int = field(
        default=3, metadata={"help": "Conv: taps of each convolution along an axis [3]."}
    )
    stride: int = field(
        default=2, metadata={"help": "Conv: step of each convolution along an axis [2]."}
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "conv", _channels(self.conv))
        for name, hint in (("kernel_size", "3 or 5"), ("stride", "1 keeps the size, 2 halves it")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"model.{name} must be an integer >= 1, got {value!r}; try {hint}"
                )

    def describe(self) -> list[str]:
        channels = ",".join(map(str, self.conv))
        return [f"conv {channels} (kernel {self.kernel_size}, stride {self.stride})"]


def shaped_layout(layout: Layout, family: str) -> Layout:
    """``layout``, refused when its data has no image or signal shape (a table)."""
    if not layout.input_shape:
        raise ConfigError(
            f"model.family = {family} needs images or signals, and this data is a table of "
            f"{layout.n_inputs} features with no image shape; use a dense family such as ae, "
            "or data with one (digits, mnist1d, mnist5k, an image file)"
        )
    if math.prod(layout.input_shape) != layout.n_inputs:
        raise ConfigError(
            f"image_shape {layout.input_shape} holds {math.prod(layout.input_shape)} values, "
            f"but each sample has {layout.n_inputs} features; give the shape of one sample"
        )
    return layout


def _build(layout: Layout, settings: ConvSettings) -> ConvAutoencoder:
    return ConvAutoencoder(**vars(shaped_layout(layout, "conv-ae")), **vars(settings))


FAMILY = Family(
    name="conv-ae",
    title="convolutional autoencoder",
    summary="convolutional autoencoder: convolutions (1-D signals, 2-D images) to a dense code",
    model=ConvAutoencoder,
    settings=ConvSettings,
    build=_build,
)

"""The autoencoder with a softmax head: ``z = f(x)``, ``x_hat = g(z)``, ``p = softmax(V z + c)``.

The model knows nothing of data, losses or optimisers: it is a frozen description of shapes
and activations, plus pure functions of a parameter pytree. Parameters are plain nested dicts
of arrays, so a batch of models is the same pytree with a leading axis (``jax.vmap``).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from aelab.models.base import AbstractModel, Family, Forward, Layout, Params
from aelab.models.layers import (
    ACTIVATIONS,
    BN_EPS,
    ForwardPass,
    batch_norm,
    check_layout,
    dense,
    dense_init,
    dropout,
    masked_moments,
)
from aelab.models.lazy import jax, jnp


@dataclass(frozen=True)
class Autoencoder(Layout, AbstractModel):
    """Encoder ``D -> hidden... -> code``, mirrored linear-output decoder, softmax head: a
    :class:`Layout` (sizes, activations, dropout, batch norm) and the decoder's last
    activation.

    With ``hidden=()`` this is the original experiment's network: ``z = sigmoid(W x + b)``,
    ``x_hat = W' z + b'``, ``p = softmax(V z + c)``.
    """

    output_activation: str = "linear"  # of the decoder's last layer

    def __post_init__(self) -> None:
        # Internal contract; user-facing settings are validated in aelab.config first.
        check_layout(self, self.output_activation)
        if not (isinstance(self.dropout, float) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be a float in [0, 1), got {self.dropout!r}")
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"batch_norm must be a bool, got {self.batch_norm!r}")

    @property
    def uses_randomness(self) -> bool:
        """Whether a training pass draws random numbers (dropout here; a VAE always)."""
        return self.dropout > 0

    # Width of the encoder's last layer: the code (the VAE doubles it: mean and log-variance).
    _encoder_outputs = 1

    def _normalised_widths(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Widths of the encoder and decoder layers that batch norm normalises (before their
        activation): every hidden layer, and the code layer."""
        return (*self.hidden, self.code), tuple(reversed(self.hidden))

    def init(self, key: jax.Array) -> Params:
        """Random parameters: ``{"encoder": [...], "decoder": [...], "head": {...}}``, and
        with batch norm its scales and shifts (``"bn"``) and running statistics (``"stats"``,
        not trained by the optimiser but replaced by each training step)."""
        enc_sizes = (self.n_inputs, *self.hidden, self.code)
        dec_sizes = enc_sizes[::-1]
        shapes = [
            *zip(enc_sizes[:-1], enc_sizes[1:], strict=True),
            *zip(dec_sizes[:-1], dec_sizes[1:], strict=True),
            (self.code, self.n_classes),
        ]
        last = len(enc_sizes) - 2
        shapes[last] = (shapes[last][0], shapes[last][1] * self._encoder_outputs)
        # One draw for all parameters: a single random-number kernel compiles much faster
        # than one per layer, and the result is as random.
        sizes = [n_in * n_out + n_out for n_in, n_out in shapes]
        u = jax.random.uniform(key, (sum(sizes),), jnp.float32, -1.0, 1.0)
        offsets = [0, *itertools.accumulate(sizes)]
        layers = [
            dense_init(u[a:b], n_in, n_out)
            for (a, b), (n_in, n_out) in zip(itertools.pairwise(offsets), shapes, strict=True)
        ]
        n_layers = len(enc_sizes) - 1
        params = {
            "encoder": layers[:n_layers],
            "decoder": layers[n_layers : 2 * n_layers],
            "head": layers[-1],
        }
        if self.batch_norm:
            widths = dict(zip(("encoder", "decoder"), self._normalised_widths(), strict=True))
            ones, zeros = (
                (lambda w: jnp.ones(w, jnp.float32)),
                (lambda w: jnp.zeros(w, jnp.float32)),
            )
            params["bn"] = {
                part: [{"scale": ones(w), "shift": zeros(w)} for w in ws]
                for part, ws in widths.items()
            }
            params["stats"] = {
                part: [{"mean": zeros(w), "var": ones(w)} for w in ws]
                for part, ws in widths.items()
            }
        return params

    def layers(self) -> list[Autoencoder]:
        """The one-layer autoencoders of this model's layers, from the input up (greedy
        pretraining): each of the same family, reconstructing its input through the
        decoder's hidden activation (only the data is reconstructed by a linear layer)."""
        sizes = (self.n_inputs, *self.hidden, self.code)
        top = len(sizes) - 2
        return [
            dataclasses.replace(
                self,
                n_inputs=sizes[i],
                hidden=(),
                code=sizes[i + 1],
                code_activation=self.code_activation if i == top else self.activation,
                output_activation="linear" if i == 0 else self.activation,
            )
            for i in range(top + 1)
        ]

    def _drop(self, h: jax.Array, p: ForwardPass, i: int) -> jax.Array:
        return dropout(h, p, i, self.dropout)

    def _norm(
        self, params: Params, part: str, i: int, layer: Params, x: jax.Array, p: ForwardPass
    ) -> jax.Array:
        """The pre-activation of ``layer`` on ``x``, batch-normalised when batch norm is on:
        with this batch's training samples while training (their statistics also update the
        running ones), with the running statistics otherwise."""
        if not self.batch_norm:
            return dense(layer, x)
        # No bias before batch norm (its shift replaces it): such a bias gets no gradient,
        # and Adam would turn that numerical noise into a drift the running mean lags behind.
        return batch_norm(params, part, i, x @ layer["w"], p, masked_moments)

    def _hidden_stack(self, params: Params, x: jax.Array, p: ForwardPass) -> list[jax.Array]:
        """The encoder's hidden layers, from the input up (none without hidden layers)."""
        act, out = ACTIVATIONS[self.activation], []
        for i, layer in enumerate(params["encoder"][:-1]):
            x = self._drop(act(self._norm(params, "encoder", i, layer, x, p)), p, i)
            out.append(x)
        return out

    def _hidden(self, params: Params, x: jax.Array, p: ForwardPass) -> jax.Array:
        """The encoder's last hidden layer (the input itself when there is none)."""
        return [x, *self._hidden_stack(params, x, p)][-1]

    def hidden_layers(self, params: Params, x: jax.Array) -> list[jax.Array]:
        """Every hidden layer of the encoder in evaluation mode, then the code (a VAE's: its
        posterior mean)."""
        p = ForwardPass(None, None)
        hidden = self._hidden_stack(params, x, p)
        h = hidden[-1] if hidden else x
        i = len(params["encoder"]) - 1
        return [*hidden, self._code_of(params, h, i, p)]

    def _code_of(self, params: Params, h: jax.Array, i: int, p: ForwardPass) -> jax.Array:
        """The code of the last hidden layer ``h``; ``i`` is the code layer's index."""
        a = self._norm(params, "encoder", i, params["encoder"][-1], h, p)
        return self._drop(ACTIVATIONS[self.code_activation](a), p, i)

    def _encode(self, params: Params, x: jax.Array, p: ForwardPass) -> jax.Array:
        return self._code_of(params, self._hidden(params, x, p), len(params["encoder"]) - 1, p)

    def _decode(self, params: Params, z: jax.Array, p: ForwardPass) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        *hidden, last = params["decoder"]
        offset = len(params["encoder"])  # dropout masks independent of the encoder's
        for i, layer in enumerate(hidden):
            z = self._drop(act(self._norm(params, "decoder", i, layer, z, p)), p, offset + i)
        return ACTIVATIONS[self.output_activation](dense(last, z))

    def encode(self, params: Params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The code ``z`` (N, code) of inputs ``x`` (N, D).

        With a ``key``, the network is in training mode: dropout is applied to every hidden
        layer and to the code, and batch norm uses the statistics of all of ``x`` (training
        itself goes through :meth:`train_forward`, which restricts them to training rows).
        Without one (evaluation), nothing random happens and batch norm uses its running
        statistics.
        """
        return self._encode(params, x, ForwardPass(key, None))

    def decode(self, params: Params, z: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The reconstruction (N, D) of codes ``z`` (N, code); the output layer is linear
        unless ``output_activation`` says otherwise."""
        return self._decode(params, z, ForwardPass(key, None))

    def with_head_of(self, params: Params, source: Params) -> Params:
        """``params`` with the softmax head of ``source`` (fine-tuning's fresh head)."""
        return {**params, "head": source["head"]}

    def logits(self, params: Params, z: jax.Array) -> jax.Array:
        """Class scores (N, n_classes) of the softmax head on codes ``z``."""
        return dense(params["head"], z)

    def apply(
        self, params: Params, x: jax.Array, key: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(code, reconstruction, logits)`` of inputs ``x`` (N, D); a ``key`` trains."""
        p = ForwardPass(key, None)
        z = self._encode(params, x, p)
        return z, self._decode(params, z, p), self.logits(params, z)

    def architecture(self) -> dict[str, Any]:
        """The evaluation-mode network as data: ``encoder`` (input to code), ``decoder``
        (code to reconstruction) and ``head`` (code to class probabilities), each a list of
        dense layers. A layer computes ``a = x @ weight + bias`` (no bias when it is
        batch-normalised), then with ``batch_norm`` ``a = scale * (a - mean) / sqrt(var +
        eps) + shift`` (the running statistics), keeps the first ``keep`` columns of ``a``
        when ``keep`` is set, and applies ``activation`` (by name; ``softmax`` over a row).
        Parameters are named as a checkpoint names them; dropout is off in evaluation."""
        enc_norm, dec_norm = (len(w) for w in self._normalised_widths())

        def layer(part: str, i: int, activation: str, normalised: bool) -> dict[str, Any]:
            bn = normalised and self.batch_norm
            return {
                "weight": f"{part}.{i}.w",
                "bias": None if bn else f"{part}.{i}.b",
                "batch_norm": {
                    "scale": f"bn.{part}.{i}.scale", "shift": f"bn.{part}.{i}.shift",
                    "mean": f"stats.{part}.{i}.mean", "var": f"stats.{part}.{i}.var",
                    "eps": BN_EPS,
                } if bn else None,
                "keep": None,
                "activation": activation,
            }  # fmt: skip

        n = len(self.hidden) + 1
        encoder = [
            layer("encoder", i, self.activation if i < n - 1 else self.code_activation,
                  i < enc_norm)
            for i in range(n)
        ]  # fmt: skip
        decoder = [
            layer("decoder", i, self.activation if i < n - 1 else self.output_activation,
                  i < dec_norm)
            for i in range(n)
        ]  # fmt: skip
        head = {**layer("head", 0, "softmax", False), "weight": "head.w", "bias": "head.b"}
        return {"encoder": encoder, "decoder": decoder, "head": [head]}

    def train_forward(
        self, params: Params, x: jax.Array, key: jax.Array, rows: jax.Array | None = None
    ) -> Forward:
        """The training-mode pass: ``(code, reconstruction, logits, penalty)``, and the
        running statistics of batch norm after it (``None`` without batch norm).

        ``penalty`` (N,) is what the family adds to each sample's reconstruction error: none
        for a plain autoencoder. ``rows`` (N,) marks the samples batch norm may learn from.
        """
        p = ForwardPass(key, rows)
        z = self._encode(params, x, p)
        out = (z, self._decode(params, z, p), self.logits(params, z), self.penalty(z, rows))
        return out, p.stats

    def penalty(self, z: jax.Array, rows: jax.Array | None) -> jax.Array:
        """The family's own loss term of each sample (N,) given the training codes ``z``:
        none for a plain autoencoder."""
        return jnp.zeros(z.shape[0])


FAMILY = Family(
    name="ae",
    title="autoencoder",
    summary="autoencoder: the code is the encoder's output (the original experiment)",
    model=Autoencoder,
    greedy=True,
    default=True,  # the original experiment's
)

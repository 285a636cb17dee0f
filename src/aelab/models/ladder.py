"""The ladder network (Rasmus et al. 2015, "Semi-Supervised Learning with Ladder Networks").

Layers ``x -> hidden... -> code -> classes``, each a linear map, batch normalisation, a
learned shift and scale (beta, gamma) and an activation (softmax at the top). Training runs

- a **clean** encoder, whose batch statistics normalise the reconstruction targets and whose
  top gives the predictions (evaluation uses it, with running statistics);
- a **corrupted** encoder, the same weights with Gaussian noise added to the input and to
  every normalised pre-activation; the cross-entropy is measured on its output;
- a **decoder** from the top down: ``u`` is the batch-normalised projection of the layer
  above (the corrupted softmax output at the top), and the per-unit combinator
  ``g(z~, u) = (z~ - mu(u)) * v(u) + mu(u)`` with ``mu(u) = a1 sigmoid(a2 u + a3) + a4 u + a5``
  and ``v(u) = a6 sigmoid(a7 u + a8) + a9 u + a10`` (the paper's ten parameters per unit)
  denoises every layer's corrupted value with the help of the layer above.

The denoising cost of layer l is the mean squared difference, per unit, between the clean
``z(l)`` and the estimate ``z^(l)`` normalised with the clean batch's statistics; layer l
weighs ``weights[l]`` (input first, classes last). The Gamma-model keeps only the top cost.
The code that aelab plots and measures is the clean activation of the code layer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TypeAlias

from aelab.checks import require_number
from aelab.errors import ConfigError
from aelab.models.base import AbstractModel, AbstractSettings, Family, Forward, Layout, Params
from aelab.models.layers import ACTIVATIONS, BN_EPS, check_layout, ema, masked_moments
from aelab.models.lazy import jax, jnp

Stats: TypeAlias = "list[dict[str, jax.Array]]"  # a string: declaring it imports no JAX


def combine(a: jax.Array, z: jax.Array, u: jax.Array) -> jax.Array:
    """The vanilla combinator g; ``a`` (10, width) holds a1..a10 (``width`` the last axis of
    ``z`` and ``u``: units, or a feature map's channels)."""
    mu = a[0] * jax.nn.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
    v = a[5] * jax.nn.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
    return (z - mu) * v + mu


def combinator_start(width: int) -> jax.Array:
    """Combinator parameters (10, width) at the reference implementation's start: a2 = a7 =
    1, the rest 0."""
    return jnp.zeros((10, width), jnp.float32).at[jnp.array([1, 6])].set(1.0)


@dataclass(frozen=True)
class LadderNetwork(AbstractModel):
    """A ladder network; ``weights`` are the denoising costs' weights, input first."""

    n_inputs: int
    n_classes: int
    hidden: tuple[int, ...] = ()
    code: int = 2
    activation: str = "relu"
    code_activation: str = "sigmoid"
    noise_std: float = 0.3
    weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_layout(self)
        if not (isinstance(self.noise_std, float) and self.noise_std >= 0):
            raise ValueError(f"noise_std must be a float >= 0, got {self.noise_std!r}")
        if len(self.weights) != len(self.sizes) or not all(
            isinstance(w, float) and w >= 0 for w in self.weights
        ):
            raise ValueError(f"weights must be {len(self.sizes)} floats >= 0, got {self.weights}")

    @property
    def uses_randomness(self) -> bool:
        return True  # the corrupted path's noise

    @property
    def sizes(self) -> tuple[int, ...]:
        """Widths of the levels: input, hidden layers, code, classes."""
        return (self.n_inputs, *self.hidden, self.code, self.n_classes)

    def init(self, key: jax.Array) -> Params:
        """Weights ``U(+-1/sqrt(fan_in))``; batch-norm shift 0 and scale 1; combinators at
        the reference implementation's start (a2 = a7 = 1, the rest 0); running statistics."""
        sizes = self.sizes
        shapes = [(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
        shapes += [(n_out, n_in) for n_in, n_out in shapes]  # the decoder's V, level l -> l-1
        counts = [a * b for a, b in shapes]
        u = jax.random.uniform(key, (sum(counts),), jnp.float32, -1.0, 1.0)
        offsets = [0, *itertools.accumulate(counts)]
        mats = [
            (u[a:b] / jnp.sqrt(shape[0])).reshape(shape)
            for (a, b), shape in zip(itertools.pairwise(offsets), shapes, strict=True)
        ]
        n = len(sizes) - 1
        return {
            "encoder": [{"w": m} for m in mats[:n]],
            "bn": [
                {"gamma": jnp.ones(w, jnp.float32), "beta": jnp.zeros(w, jnp.float32)}
                for w in sizes[1:]
            ],
            "decoder": [{"w": m} for m in mats[n:]],
            "combinator": [{"a": combinator_start(w)} for w in sizes],
            "stats": {
                "encoder": [_fresh(w) for w in sizes[1:]],
                "decoder": [_fresh(w) for w in sizes],
            },
        }

    def _encoder(
        self,
        params: Params,
        x: jax.Array,
        rows: jax.Array | None,
        training: bool,
        noise_key: jax.Array | None = None,
        activations: list[jax.Array] | None = None,
        input_noise: bool = True,
    ) -> tuple[list[jax.Array], list[tuple[jax.Array, jax.Array]], jax.Array, jax.Array]:
        """Normalised pre-activations of every level (noisy with ``noise_key``; the input
        too unless ``input_noise`` is off), the batch moments used, the code and the top
        logits; each layer's activation below the top is appended to ``activations``."""

        def noisy(z: jax.Array, level: int) -> jax.Array:
            if noise_key is None:
                return z
            eps = jax.random.normal(jax.random.fold_in(noise_key, level), z.shape, z.dtype)
            return z + self.noise_std * eps

        n = len(self.sizes) - 1
        h = noisy(x, 0) if input_noise else x
        zs, moments, code = [h], [], h
        for i in range(n):
            pre = h @ params["encoder"][i]["w"]
            if training:
                mean, var = masked_moments(pre, rows)
            else:
                running = params["stats"]["encoder"][i]
                mean, var = running["mean"], running["var"]
            moments.append((mean, var))
            z = noisy((pre - mean) / jnp.sqrt(var + BN_EPS), i + 1)
            zs.append(z)
            bn = params["bn"][i]
            s = bn["gamma"] * (z + bn["beta"])
            if i == n - 1:
                return zs, moments, code, s  # the top: class scores
            act = self.code_activation if i == n - 2 else self.activation
            h = ACTIVATIONS[act](s)
            code = h
            if activations is not None:
                activations.append(h)
        raise AssertionError("a ladder has at least two layers")

    def _decoder(
        self,
        params: Params,
        zs: list[jax.Array],
        top: jax.Array,
        rows: jax.Array | None,
        training: bool,
        lowest: int = 0,
    ) -> tuple[list[jax.Array], Stats]:
        """The denoised estimates z^ of every level from the top down to ``lowest`` (``None``
        below it: levels whose cost weighs 0 need no decoder), and the moments of u."""
        n = len(self.sizes) - 1
        estimates: list[jax.Array] = [None] * (n + 1)  # type: ignore[list-item]
        u_moments: Stats = [None] * (n + 1)  # type: ignore[list-item]
        for level in range(n, lowest - 1, -1):
            u = top if level == n else estimates[level + 1] @ params["decoder"][level]["w"]
            if training:
                mean, var = masked_moments(u, rows)
                u_moments[level] = {"mean": mean, "var": var}
            else:
                running = params["stats"]["decoder"][level]
                mean, var = running["mean"], running["var"]
            u = (u - mean) / jnp.sqrt(var + BN_EPS)
            estimates[level] = combine(params["combinator"][level]["a"], zs[level], u)
        return estimates, u_moments

    def _costs(
        self, clean: list[jax.Array], estimates: list[jax.Array], moments, lowest: int = 0
    ) -> list[jax.Array]:
        """Per-sample denoising cost (N,) of every level from ``lowest`` up (0 below it),
        estimates normalised like the clean values (the input level is not normalised)."""
        costs = [jnp.zeros(clean[0].shape[0])] * lowest
        if lowest == 0:
            costs.append(jnp.mean(jnp.square(estimates[0] - clean[0]), axis=-1))
        for level, (mean, var) in enumerate(moments, start=1):
            if level >= lowest:
                normalised = (estimates[level] - mean) / jnp.sqrt(var + BN_EPS)
                costs.append(jnp.mean(jnp.square(normalised - clean[level]), axis=-1))
        return costs

    def _running(self, params: Params, moments, u_moments: Stats) -> Params:
        """The encoder's and the decoder's running statistics after this batch (levels the
        decoder skipped keep theirs)."""
        old = params["stats"]
        return {
            "encoder": [ema(s, m, v) for s, (m, v) in zip(old["encoder"], moments, strict=True)],
            "decoder": [
                s if new is None else ema(s, new["mean"], new["var"])
                for s, new in zip(old["decoder"], u_moments, strict=True)
            ],
        }

    def with_head_of(self, params: Params, source: Params) -> Params:
        """``params`` with the top (class) layer of ``source``: weights, shift and scale, and
        its running statistics; the decoder keeps what it learned."""
        out = jax.tree.map(lambda a: a, params)
        out["encoder"][-1], out["bn"][-1] = source["encoder"][-1], source["bn"][-1]
        out["stats"]["encoder"][-1] = source["stats"]["encoder"][-1]
        return out

    def encode(self, params: Params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The clean code (N, code), with running statistics."""
        return self._encoder(params, x, None, training=False)[2]

    def hidden_layers(self, params: Params, x: jax.Array) -> list[jax.Array]:
        """The clean path's hidden layers and code, with running statistics."""
        out: list[jax.Array] = []
        self._encoder(params, x, None, training=False, activations=out)
        return out

    def logits(self, params: Params, z: jax.Array) -> jax.Array:
        """Class scores of the clean top layer on codes ``z``, with running statistics."""
        pre = z @ params["encoder"][-1]["w"]
        running = params["stats"]["encoder"][-1]
        normalised = (pre - running["mean"]) / jnp.sqrt(running["var"] + BN_EPS)
        bn = params["bn"][-1]
        return bn["gamma"] * (normalised + bn["beta"])

    def apply(
        self, params: Params, x: jax.Array, key: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(code, reconstruction, logits)`` of the clean path in evaluation mode; the
        reconstruction is the decoder's estimate of the input from the clean laterals."""
        zs, _, code, logits = self._encoder(params, x, None, training=False)
        estimates, _ = self._decoder(params, zs, jax.nn.softmax(logits), None, training=False)
        return code, estimates[0], logits

    def train_forward(
        self, params: Params, x: jax.Array, key: jax.Array, rows: jax.Array | None = None
    ) -> Forward:
        """Clean and corrupted encoders and the decoder: ``(code, input estimate, corrupted
        logits, penalty)`` and the new running statistics. The penalty carries the weighted
        denoising costs beyond the plain input reconstruction that the training loop adds."""
        clean, moments, code, _ = self._encoder(params, x, rows, training=True)
        noisy, _, _, noisy_logits = self._encoder(params, x, rows, training=True, noise_key=key)
        estimates, u_moments = self._decoder(
            params, noisy, jax.nn.softmax(noisy_logits), rows, training=True
        )
        costs = self._costs(clean, estimates, moments)
        penalty = (self.weights[0] - 1.0) * costs[0] + sum(
            w * c for w, c in zip(self.weights[1:], costs[1:], strict=True)
        )
        return (code, estimates[0], noisy_logits, penalty), self._running(
            params, moments, u_moments
        )


def _fresh(width: int) -> dict[str, jax.Array]:
    return {"mean": jnp.zeros(width, jnp.float32), "var": jnp.ones(width, jnp.float32)}


def ladder_weights(spec: str, n_levels: int) -> tuple[float, ...]:
    """``default`` (1 for the input, 0.1 elsewhere), ``paper`` (Rasmus et al.'s MNIST
    weights: 1000 for the input, 10 for the first layer, 0.1 above), ``gamma`` (the top only:
    the Gamma-model) or comma-separated weights, input first; ``ValueError`` when they do not
    fit."""
    if spec == "default":
        return (1.0,) + (0.1,) * (n_levels - 1)
    if spec == "paper":
        return (1000.0, 10.0) + (0.1,) * (n_levels - 2)
    if spec == "gamma":
        return (0.0,) * (n_levels - 1) + (1.0,)
    weights = tuple(float(w) for w in spec.split(","))
    if len(weights) != n_levels or not all(w >= 0 for w in weights):
        raise ValueError(f"need {n_levels} weights >= 0 (input first, classes last)")
    return weights


@dataclass(frozen=True)
class LadderSettings(AbstractSettings):
    """The ladder's own settings: its noise, and the weights of its denoising costs."""

    ladder_noise: float = field(
        default=0.3, metadata={"help": "Ladder, conv-ladder: noise std at every layer [0.3]."}
    )
    ladder_weights: str = field(
        default="default",
        metadata={
            "help": "Ladder, conv-ladder: denoising-cost weights, one a level, input first "
            "(conv-ladder: then each feature map), classes last: default, paper, gamma or "
            "1,0.1,..."
        },
    )

    def __post_init__(self) -> None:
        sigma = require_number("model.ladder_noise", self.ladder_noise)
        if sigma < 0:
            raise ConfigError(f"model.ladder_noise must be >= 0, got {self.ladder_noise!r}")
        object.__setattr__(self, "ladder_noise", sigma)

    def levels(self, config) -> list[str]:
        """What each weight weighs, in order: the input, the hidden layers, the code and the
        classes of ``config``."""
        return ["input", *(f"hidden layer {i + 1}" for i in range(len(config.hidden))), "code",
                "classes"]  # fmt: skip

    def check(self, config) -> None:
        levels = self.levels(config)
        try:
            ladder_weights(self.ladder_weights, len(levels))
        except (ValueError, TypeError, AttributeError):
            raise ConfigError(
                f"model.ladder_weights: cannot use {self.ladder_weights!r}; give default, paper, "
                f"gamma or {len(levels)} comma-separated weights >= 0, one a level: "
                f"{', '.join(levels)}"
            ) from None
        if config.noise != "none" or config.dropout:
            raise ConfigError(
                f"model.family = {config.family} adds its own Gaussian noise at every layer; set "
                "model.ladder_noise instead of model.noise, and leave model.dropout at 0"
            )

    def describe(self) -> list[str]:
        return [f"noise σ = {self.ladder_noise:g}"]


def _build(layout: Layout, settings: LadderSettings) -> LadderNetwork:
    return LadderNetwork(
        n_inputs=layout.n_inputs,
        n_classes=layout.n_classes,
        hidden=layout.hidden,
        code=layout.code,
        activation=layout.activation,
        code_activation=layout.code_activation,
        noise_std=settings.ladder_noise,
        weights=ladder_weights(settings.ladder_weights, len(layout.hidden) + 3),
    )


FAMILY = Family(
    name="ladder",
    title="ladder network",
    summary="ladder network (Rasmus et al. 2015): denoising costs at every layer",
    model=LadderNetwork,
    settings=LadderSettings,
    build=_build,
    decodes=False,
    penalty="weighted denoising costs of every layer beyond the input's reconstruction",
)

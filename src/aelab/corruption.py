"""Input corruption for denoising autoencoders: the network sees a corrupted input and must
reconstruct the clean one (Vincent et al. 2008).

A :class:`Noise` is written ``kind:level`` in configs and on the command line:

- ``gaussian:σ`` adds N(0, σ²) to every feature;
- ``mask:p`` sets each feature to 0 with probability p (0 is the training mean of a
  standardised feature, so a masked value carries no information);
- ``saltpepper:p`` sets each feature, with probability p, to its smallest or largest value in
  the batch, each with probability 1/2.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from aelab.errors import ConfigError

KINDS = ("gaussian", "mask", "saltpepper")


@dataclass(frozen=True)
class Noise:
    """How inputs are corrupted during training; hashable, so compiled programs key on it."""

    kind: str
    level: float

    def __str__(self) -> str:
        return f"{self.kind}:{self.level:g}"


def parse_noise(text: str, setting: str = "model.noise") -> Noise | None:
    """``"gaussian:0.3"`` -> ``Noise("gaussian", 0.3)``; ``"none"`` -> ``None``."""
    hint = (
        f"write kind:level with kind one of {', '.join(KINDS)}, e.g. gaussian:0.3, mask:0.25, "
        "saltpepper:0.1, or none"
    )
    if not isinstance(text, str):
        raise ConfigError(f"{setting} must be text, got {text!r}; {hint}")
    if text.strip().lower() in ("none", ""):
        return None
    kind, sep, level_text = text.partition(":")
    try:
        level = float(level_text)
    except ValueError:
        level = float("nan")
    if not sep or kind not in KINDS or not level >= 0:
        raise ConfigError(f"{setting}: cannot read {text!r}; {hint}")
    if kind != "gaussian" and not level < 1:
        raise ConfigError(f"{setting}: {kind} takes a probability below 1, got {level:g}")
    return Noise(kind, level)


def corrupt(key: jax.Array, x: jax.Array, noise: Noise, rows: jax.Array) -> jax.Array:
    """A corrupted copy of ``x`` (N, D); ``rows`` (N,) marks the samples whose extremes
    salt-and-pepper noise may use (the training part: held-out values must not leak in)."""
    if noise.kind == "gaussian":
        return x + noise.level * jax.random.normal(key, x.shape, x.dtype)
    hit = jax.random.bernoulli(key, noise.level, x.shape)
    if noise.kind == "mask":
        return jnp.where(hit, 0.0, x)
    k_side = jax.random.fold_in(key, 1)
    high = jax.random.bernoulli(k_side, 0.5, x.shape)
    seen = rows[:, None] > 0
    largest = jnp.where(seen, x, -jnp.inf).max(axis=0)
    smallest = jnp.where(seen, x, jnp.inf).min(axis=0)
    extreme = jnp.where(high, largest, smallest)
    return jnp.where(hit, extreme, x)

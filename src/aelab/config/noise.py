"""Input noise of denoising autoencoders, as a setting: ``kind:level`` (Vincent et al. 2008).

- ``gaussian:σ`` adds N(0, σ²) to every feature;
- ``mask:p`` sets each feature to 0 with probability p (0 is the training mean of a
  standardised feature, so a masked value carries no information);
- ``saltpepper:p`` sets each feature, with probability p, to its smallest or largest value in
  the batch, each with probability 1/2.

:func:`aelab.training.corruption.corrupt` applies it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aelab.errors import ConfigError

KINDS = ("gaussian", "mask", "saltpepper")
# What each kind's level is, and an example of it.
_LEVELS = {
    "gaussian": ("standard deviation", "gaussian:0.3"),
    "mask": ("probability", "mask:0.25"),
    "saltpepper": ("probability", "saltpepper:0.1"),
}


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
    if not sep or kind not in KINDS:
        raise ConfigError(f"{setting}: cannot read {text!r}; {hint}")
    try:
        level = float(level_text)
    except ValueError:
        raise ConfigError(f"{setting}: the level of {text!r} is not a number; {hint}") from None
    what, example = _LEVELS[kind]
    if kind == "gaussian" and not (level >= 0 and math.isfinite(level)):
        raise ConfigError(
            f"{setting}: {kind} takes a finite {what} >= 0, got {level:g}; 0 adds no noise, "
            f"e.g. {example}"
        )
    if kind != "gaussian" and not 0 <= level < 1:
        raise ConfigError(
            f"{setting}: {kind} takes a {what} in [0, 1), got {level:g}; 0 corrupts "
            f"nothing, e.g. {example}"
        )
    return Noise(kind, level)


def noise_kind(text: str) -> str:
    """``"gaussian"`` of ``"gaussian:0.3"``; ``"none"`` for no noise."""
    return text.partition(":")[0]

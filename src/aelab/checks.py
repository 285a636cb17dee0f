"""Checks of user settings that raise one-line :class:`~aelab.errors.ConfigError` messages.

Every message names the setting (``section.name``), the constraint, the value received and,
where it helps, the fix. The config classes and the model families' own settings use them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from aelab.errors import ConfigError


def choices(values: Iterable[str]) -> str:
    """``values`` sorted and comma-separated, for messages."""
    return ", ".join(sorted(values))


def require_int(
    setting: str, value: Any, minimum: int, hint: str, maximum: int | None = None
) -> None:
    """``value`` must be an integer (not a bool) from ``minimum`` to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{setting} must be an integer >= {minimum}, got {value!r}; {hint}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{setting} must be at most {maximum}, got {value!r}; {hint}")


def require_choice(setting: str, value: Any, options: Iterable[str], what: str) -> None:
    """``value`` must be one of ``options``."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ConfigError(f"{setting}: unknown {what} {value!r}; choose one of {choices(options)}")


def require_number(setting: str, value: Any) -> float:
    """``value`` as a float; it must be a finite number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{setting} must be a finite number, got {value!r}")
    return float(value)


def require_bool(setting: str, value: Any) -> None:
    """``value`` must be ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ConfigError(f"{setting} must be true or false, got {value!r}")

"""Command-line values from text: lists, pairs, sizes and counts, each error one line."""

from __future__ import annotations

from aelab.errors import ConfigError


def int_list(flag: str, text: str | None) -> list[int] | None:
    """``"64,32"`` -> ``[64, 32]``; ``"none"`` -> ``[]``; unset -> ``None``."""
    if text is None:
        return None
    if text.strip().lower() == "none":
        return []
    try:
        return [int(p) for p in text.split(",")]  # int() accepts surrounding spaces
    except ValueError:
        raise ConfigError(
            f"{flag}: expected comma-separated integers such as 64,32 (or 'none'), got {text!r}"
        ) from None


def float_list(flag: str, text: str | None) -> list[float] | None:
    """``"0,0.1,1"`` -> ``[0.0, 0.1, 1.0]``; unset -> ``None``."""
    if text is None:
        return None
    try:
        return [float(p) for p in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"{flag}: expected comma-separated numbers such as 0,0.1,1, got {text!r}"
        ) from None


def dims(flag: str, text: str | None) -> tuple[int, int] | None:
    """``"0,3"`` -> ``(0, 3)``: two code units."""
    pair = int_list(flag, text)
    if pair is not None and len(pair) != 2:
        raise ConfigError(f"{flag}: expected two code units such as 0,1, got {text!r}")
    return None if pair is None else (pair[0], pair[1])


def names(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``."""
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def categorical(text: str | None) -> str | list[str] | None:
    """``--categorical``: ``"auto"``, ``"none"``, or ``"a, b"`` -> ``["a", "b"]``."""
    if text is None or text.strip() in ("auto", "none"):
        return None if text is None else text.strip()
    listed = names(text)
    if not listed:
        raise ConfigError(
            f"--categorical: expected auto, none or column names such as colour,size, got {text!r}"
        )
    return listed


def size(flag: str, text: str | None) -> float | int | None:
    """A fraction (``0.5``) or a count (``75``)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConfigError(
            f"{flag}: expected a fraction such as 0.5 or a sample count such as 75, got {text!r}"
        ) from None


def seeds(text: str | None) -> int | list[int] | None:
    """``--seeds 20`` (seeds 0-19) or ``--seeds 3,7,11`` (those seeds)."""
    if text is None:
        return None
    values = int_list("--seeds", text)
    if values is None or not values:
        raise ConfigError("--seeds: expected a count such as 20 or seeds such as 0,3,7")
    return values[0] if "," not in text else values


def label_counts(text: str | None) -> list[int | str] | None:
    """``"5,10,all"`` -> ``[5, 10, "all"]``."""
    if text is None:
        return None
    out: list[int | str] = []
    for part in text.split(","):
        part = part.strip()
        if part == "all":
            out.append("all")
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise ConfigError(
                f"--labels: expected comma-separated counts per class or 'all' such as "
                f"5,10,all, got {text!r}"
            ) from None
    return out


def image_size(text: str | None) -> list[int] | None:
    """``--image-size``: ``"32x24"`` -> ``[32, 24]`` (height, width); ``"32"`` -> ``[32, 32]``."""
    if text is None:
        return None
    parts = text.strip().lower().replace("×", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    values = values * 2 if len(values) == 1 else values
    if len(values) != 2 or min(values) < 1:
        raise ConfigError(
            f"--image-size: expected height x width in pixels such as 32x32, or one number "
            f"for a square (32), got {text!r}"
        )
    return values

"""What every picture of a run shares: the class colours, which samples and snapshots large
data shows, the fixed map from a code to the plane, and what the HTML pages share."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from aelab.errors import ConfigError

COLORS = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
]  # fmt: skip
MAX_FRAMES = 40  # snapshots per stage in the report's slider and the animation
MAX_POINTS = 2000  # samples the report and the animation draw (a seeded subset beyond this)


def rgb(color: str) -> tuple[int, int, int]:
    """``"#1f77b4"`` as ``(31, 119, 180)``."""
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def frames(snapshots: np.ndarray, limit: int = MAX_FRAMES) -> list[int]:
    """At most ``limit`` snapshot indices, the first and the last always among them."""
    t = len(snapshots)
    if t <= limit:
        return list(range(t))
    return sorted(set(np.linspace(0, t - 1, limit).round().astype(int).tolist()))


def shown_rows(n: int) -> np.ndarray:
    """The samples a page or an animation draws: all, or a seeded subset of ``MAX_POINTS``
    in order."""
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))


def most_variable(raw: np.ndarray, count: int = 2) -> list[int]:
    """The ``count`` columns of ``raw`` (n, D) of the largest variance, in column order: the
    raw data's panels show these (a digit's first pixels are a constant border)."""
    return sorted(np.argsort(-raw.var(axis=0), kind="stable")[:count].tolist())


def projection(
    code: np.ndarray, stage: str = "pretrained"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A fixed map from the code to the plane, ``(code - mean) @ basis``, and its axes'
    names: the code itself when it is 2-D, else the PCA of the final code of ``stage`` (the
    pretrained one, or the first strategy's in a run without pretraining: the stage
    figure's own choice)."""
    if code.shape[1] == 2:
        return np.zeros(2), np.eye(2), ["z0", "z1"]
    if code.shape[1] == 1:
        return np.zeros(1), np.array([[1.0, 0.0]]), ["z0", "-"]
    mean = code.mean(axis=0)
    _, _, vt = np.linalg.svd(code - mean, full_matrices=False)
    return mean, vt[:2].T, [f"PC1 of the {stage} code", f"PC2 of the {stage} code"]


def check_dims(dims: tuple[int, int] | None, code: int, flag: str = "--plot-dims") -> None:
    """Refuse code units to plot that the code does not have."""
    if dims is not None and (len(set(dims)) != 2 or not all(0 <= d < code for d in dims)):
        raise ConfigError(
            f"{flag} {','.join(map(str, dims))}: need two different code units from 0 to {code - 1}"
        )


def page_json(value) -> str:
    """``value`` as JSON to embed in a page's ``<script>`` block: ``<``, ``>`` and ``&``
    escaped, so that no user string can end the block."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page_template(name: str) -> str:
    """The text of ``templates/<name>`` (a page's HTML, CSS or JavaScript)."""
    return (resources.files("aelab.outputs") / "templates" / name).read_text(encoding="utf-8")

"""Samples drawn as what they are: images as tiles (greyscale or colour), signals as lines.

A run of image data keeps a few held-out inputs (``recon_rows``, ``recon_inputs``) and every
stage's reconstruction of them (``recon/<stage>``) in ``latents.npz``
(:func:`reconstruction_rows` chooses them); the stage figure draws them as one mosaic
(:func:`draw_reconstructions`), and ``aelab generate`` draws decoded codes as a grid of
tiles (:func:`sample_grid`). Values are in the data's own units; the display maps the
range ``limits`` (the real inputs' smallest and largest value) onto black to white
(greyscale images, ink dark as in the digits datasets) or onto each colour channel's
0 to 1, so a reconstruction that overshoots is clipped, not rescaled.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

RECON_SAMPLES = 8  # held-out inputs the stage figure shows beside their reconstructions
_GAP = 1  # pixels between tiles


def is_image(shape: tuple[int, ...]) -> bool:
    """Whether samples of ``image_shape`` are images (height x width[, 3]), not signals."""
    return len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3))


def reconstruction_rows(
    y: np.ndarray, is_train: np.ndarray, count: int = RECON_SAMPLES
) -> np.ndarray:
    """The samples whose reconstructions a run keeps: up to ``count`` held-out ones (every
    sample when none is held out), a class at a time in turn (the first of each class, then
    the second, …), in a fixed order."""
    pool = np.flatnonzero(~is_train)
    pool = pool if len(pool) else np.arange(len(y))
    labels = y[pool]
    rank = np.zeros(len(pool), np.int64)  # place of each sample among its class's
    for c in np.unique(labels):
        rank[labels == c] = np.arange(int((labels == c).sum()))
    order = np.lexsort((labels, rank))  # by rank, then class
    return np.sort(pool[order[:count]])


def _unit(values: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    lo, hi = float(limits[0]), float(limits[1])
    return np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)


def mosaic(rows: np.ndarray, shape: tuple[int, ...], limits: tuple[float, float]) -> np.ndarray:
    """Samples ``rows`` (R, K, D) as one picture of R x K tiles of ``shape``, values mapped
    to [0, 1] (see the module's docstring) with a white gap between tiles: (h, w) for
    greyscale (to draw with ``gray_r``: white is 0), (h, w, 3) for colour."""
    r, k = rows.shape[:2]
    height, width = shape[:2]
    colour = len(shape) == 3 and shape[2] == 3
    tiles = _unit(rows.reshape(r, k, height, width, -1), limits)  # (R, K, H, W, C)
    channels = tiles.shape[-1]
    blank = 1.0 if colour else 0.0
    out = np.full(
        (r * (height + _GAP) - _GAP, k * (width + _GAP) - _GAP, channels), blank, np.float64
    )
    for i in range(r):
        for j in range(k):
            top, left = i * (height + _GAP), j * (width + _GAP)
            out[top : top + height, left : left + width] = tiles[i, j]
    return out if colour else out[..., 0]


def draw_reconstructions(ax, lat: dict, stages: list[str]) -> None:
    """The kept held-out inputs (top row) and each stage's reconstruction of them (a row a
    stage), as one mosaic on ``ax``."""
    shape = tuple(int(s) for s in lat["image_shape"])
    scale, mean = lat["scaler_scale"], lat["scaler_mean"]
    inputs = lat["recon_inputs"] * scale + mean
    real = lat["x"] * scale + mean
    limits = (float(real.min()), float(real.max()))
    decoded = [lat[f"recon/{s}"] * scale + mean for s in stages]
    picture = mosaic(np.stack([inputs, *decoded]), shape, limits)
    ax.imshow(picture, cmap=None if picture.ndim == 3 else "gray_r", vmin=0, vmax=1)
    step = shape[0] + _GAP
    ax.set_yticks([i * step + (shape[0] - 1) / 2 for i in range(1 + len(stages))])
    ax.set_yticklabels(["held-out input", *stages], fontsize=8)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    ax.set_title("Held-out inputs and each stage's reconstruction of them", fontsize=9.5)


def sample_grid(
    samples: np.ndarray, shape: tuple[int, ...], columns: int, limits: tuple[float, float]
) -> Figure:
    """Samples (n, D) in a grid of ``columns``: images as tiles, signals (``shape``
    (length,)) as lines on one scale."""
    rows = -(-len(samples) // columns)
    fig = Figure(figsize=(1.1 * columns, 1.1 * rows + 0.4), layout="constrained", dpi=100)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, sample in zip(axes, samples, strict=False):
        if not is_image(shape):
            ax.plot(sample, color="#1f77b4", linewidth=0.8)
            ax.set_ylim(*limits)
            continue
        tile = _unit(sample.reshape(shape), limits)
        if tile.ndim == 3 and tile.shape[2] == 3:
            ax.imshow(tile)
        else:
            ax.imshow(tile.reshape(shape[:2]), cmap="gray_r", vmin=0, vmax=1)
    return fig

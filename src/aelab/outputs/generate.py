"""Decode moved codes into new data: perturbations, latent grids, interpolations, the prior.

Works on a finished run folder: it loads a stage's checkpoint (the pretrained autoencoder or a
strategy's model), moves codes in the code space, decodes them, and writes what came out in
the data's own units (the run's scaling undone) into ``RUN_DIR/generated/``:

- ``<name>.csv``: one row per generated sample: the code it was decoded from, then the features;
- ``<name>.png``: a grid of tiles for image data (greyscale or colour; lines for signals),
  else a pair plot of generated against real samples.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from aelab.errors import ConfigError
from aelab.models import FAMILIES, family_of
from aelab.outputs.folders import RunFolder, read_run
from aelab.outputs.images import sample_grid

MODES = ("perturb", "grid", "interpolate", "prior")


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` made: the codes, the decoded samples, and the files written."""

    mode: str
    stage: str
    codes: np.ndarray  # (n, code)
    samples: np.ndarray  # (n, D) in the data's original units
    csv_path: Path
    figure_path: Path


def perturbations(z0: np.ndarray, scale: float, count: int, seed: int) -> np.ndarray:
    """``count`` codes around ``z0`` (code,): ``z0 + scale * N(0, I)``; the first is ``z0``."""
    rng = np.random.default_rng(seed)
    steps = scale * rng.standard_normal((count - 1, z0.shape[0]))
    return np.vstack([z0, z0 + steps]).astype(np.float32)


def latent_grid(codes: np.ndarray, dims: tuple[int, int], size: int) -> np.ndarray:
    """A ``size`` x ``size`` grid over ``dims`` of the codes' range (row-major, first dim
    across); the other code units stay at their mean over all samples."""
    lo, hi = codes.min(axis=0), codes.max(axis=0)
    a, b = (np.linspace(lo[d], hi[d], size) for d in dims)
    grid = np.repeat(codes.mean(axis=0, keepdims=True), size * size, axis=0)
    gb, ga = np.meshgrid(b[::-1], a, indexing="ij")  # top row: the largest value of dims[1]
    grid[:, dims[0]], grid[:, dims[1]] = ga.ravel(), gb.ravel()
    return grid.astype(np.float32)


def interpolation(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` codes on the straight line from ``z_a`` to ``z_b``, both ends included."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1 - t) * z_a + t * z_b).astype(np.float32)


def prior_samples(count: int, code: int, seed: int) -> np.ndarray:
    """``count`` codes from a VAE's prior N(0, I)."""
    return np.random.default_rng(seed).standard_normal((count, code)).astype(np.float32)


def generate(
    run_dir: str | Path,
    mode: str = "perturb",
    *,
    stage: str | None = None,
    sample: int = 0,
    to: int = 1,
    count: int = 16,
    scale: float = 0.1,
    steps: int = 8,
    dims: tuple[int, int] = (0, 1),
    size: int = 8,
    seed: int = 0,
) -> Generated:
    """Decode moved codes of a run's ``stage`` model and write them into ``run_dir/generated``.

    Args:
        mode: ``perturb`` (``count`` codes around ``sample``'s, spread ``scale``), ``grid``
            (``size`` x ``size`` over code units ``dims``), ``interpolate`` (``steps`` codes
            from ``sample``'s to ``to``'s) or ``prior`` (``count`` draws of a VAE's prior).
        stage: ``pretrained`` or a strategy of the run; by default the pretrained model, or
            the first strategy's of a run that did not pretrain.
        sample, to: sample indices, as in ``latents.npz``'s ``index``.
        seed: seed of the random draws (``perturb``, ``prior``).

    Raises:
        ConfigError: a missing run folder or stage, or an option that does not fit the run.
    """
    run_dir = Path(run_dir)
    folder = read_run(run_dir)
    stage = folder.reference_stage if stage is None else stage
    model, params = _decoder(folder, stage)
    lat = folder.latents
    z = _moved_codes(
        lat[f"code/{stage}"], mode, family_of(model).prior, sample=sample, to=to, count=count,
        scale=scale, steps=steps, dims=dims, size=size, seed=seed,
    )  # fmt: skip
    samples = np.asarray(model.decode(params, z)) * lat["scaler_scale"] + lat["scaler_mean"]
    csv_path, png_path = _write(folder, f"{mode}-{stage}", z, samples, mode, stage, size)
    return Generated(mode, stage, z, samples, csv_path, png_path)


def _decoder(folder: RunFolder, stage: str):
    """The model and parameters of ``stage``, which must decode a code alone."""
    if stage not in folder.stages:
        raise ConfigError(
            f"--stage: {stage!r} is not a stage of this run; choose from {folder.stages}"
        )
    model, params = folder.checkpoint(stage)
    family = family_of(model)
    if not family.decodes:
        decoders = [name for name, f in FAMILIES.items() if f.decodes]
        raise ConfigError(
            f"a {family.title} cannot decode a code alone (its decoder needs more than the "
            f"code); generate works with {', '.join(decoders)} runs"
        )
    lat = folder.latents
    if model.code != lat[f"code/{stage}"].shape[1] or model.n_inputs != len(
        lat["feature_names"]
    ):  # fmt: skip
        raise ConfigError(
            f"{folder.path / 'checkpoints' / (stage + '.npz')}: its model does not fit the run's "
            "codes and features; rerun to write it again, or restore the file"
        )
    return model, params


def _moved_codes(codes: np.ndarray, mode: str, prior: bool, *, sample, to, count, scale,
                 steps, dims, size, seed) -> np.ndarray:  # fmt: skip
    """The codes ``mode`` decodes, from a stage's codes (N, code); ``prior``: the family has
    one."""
    n, k = codes.shape
    if mode not in MODES:
        raise ConfigError(f"--mode: unknown mode {mode!r}; choose from {', '.join(MODES)}")
    for flag, index in (("--sample", sample), ("--to", to)):
        if not 0 <= index < n:
            raise ConfigError(f"{flag} {index} is not a sample of this run; use 0 to {n - 1}")
    if mode == "perturb":
        _at_least("--count", count, 1)
        if not scale >= 0:
            raise ConfigError(f"--scale must be >= 0, got {scale}")
        return perturbations(codes[sample], scale, count, seed)
    if mode == "grid":
        _at_least("--size", size, 2)
        if k < 2 or len(set(dims)) != 2 or not all(0 <= d < k for d in dims):
            raise ConfigError(
                f"--dims {','.join(map(str, dims))}: need two different code units from 0 to "
                f"{k - 1}"
                + (" (this code has one unit; use perturb or interpolate)" if k < 2 else "")
            )
        return latent_grid(codes, dims, size)
    if mode == "interpolate":
        _at_least("--steps", steps, 2)
        return interpolation(codes[sample], codes[to], steps)
    if not prior:
        priors = [name for name, f in FAMILIES.items() if f.prior]
        raise ConfigError(
            f"--mode prior needs a run of a family with a prior ({', '.join(priors)}); "
            "this run's family has none"
        )
    _at_least("--count", count, 1)
    return prior_samples(count, k, seed)


def _write(folder: RunFolder, base: str, z, samples, mode: str, stage: str, size: int):
    """``generated/<base>.csv`` and ``.png`` (never over an earlier pair); their paths."""
    lat = folder.latents
    name = _free_name(folder.path / "generated", base)
    real = lat["x"] * lat["scaler_scale"] + lat["scaler_mean"]
    features = [str(f) for f in lat["feature_names"]]
    image_shape = tuple(int(s) for s in lat["image_shape"])
    if image_shape:
        columns = size if mode == "grid" else min(len(samples), 8)
        fig = sample_grid(samples, image_shape, columns, (real.min(), real.max()))
    else:
        fig = _pair_plot(samples, real, features)
    fig.suptitle(f"{mode} · {stage} model · {len(samples)} decoded codes", fontsize=10)
    out = folder.path / "generated"
    out.mkdir(exist_ok=True)
    csv_path, png_path = out / f"{name}.csv", out / f"{name}.png"
    _write_atomic(csv_path, _csv_text(z, samples, features).encode())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    _write_atomic(png_path, buffer.getvalue())
    return csv_path, png_path


def _at_least(flag: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(f"{flag} must be at least {minimum}, got {value}")


def _free_name(folder: Path, base: str) -> str:
    name, n = base, 2
    while (folder / f"{name}.csv").exists() or (folder / f"{name}.png").exists():
        name, n = f"{base}-{n}", n + 1
    return name


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _csv_text(codes: np.ndarray, samples: np.ndarray, features: list[str]) -> str:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([*(f"code_{i}" for i in range(codes.shape[1])), *features])
    for z, x in zip(codes, samples, strict=True):
        writer.writerow([*(f"{v:.6g}" for v in z), *(f"{v:.6g}" for v in x)])
    return text.getvalue()


def _pair_plot(samples: np.ndarray, real: np.ndarray, features: list[str]) -> Figure:
    d = min(len(features), 4)  # beyond four features a pair plot stops being readable
    fig = Figure(figsize=(2.4 * d, 2.4 * d + 0.3), layout="constrained", dpi=100)
    axes = fig.subplots(d, d, squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if i == j:
                ax.hist(real[:, i], bins=20, color="0.75", density=True)
                ax.hist(samples[:, i], bins=20, color="#d62728", alpha=0.6, density=True)
            else:
                ax.scatter(real[:, j], real[:, i], s=6, color="0.7", label="real")
                ax.scatter(samples[:, j], samples[:, i], s=10, color="#d62728", label="generated")
            ax.tick_params(labelsize=6)
            if i == d - 1:
                ax.set_xlabel(features[j], fontsize=7)
            if j == 0:
                ax.set_ylabel(features[i], fontsize=7)
    if d > 1:
        axes[0, 1].legend(fontsize=7, loc="best")
    return fig

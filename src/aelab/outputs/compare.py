"""``aelab compare``: how alike the representations of finished runs are, layer by layer.

Every encoder layer (hidden layers and the code) of every stage of every run is compared with
every other by linear CKA (Kornblith et al. 2019) over the same samples: the runs must hold
the same samples (same dataset, rows and features: their train/test splits may differ), each
fed to a model as its own run scaled it. Above ``MAX_SAMPLES`` samples, a seeded subset.
Writes ``compare.csv`` (tidy, a row per ordered pair), ``displacement.csv`` (how far each
sample moved in each layer from the run's reference stage) and ``compare.png`` (the heatmap).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from aelab.analysis import metrics
from aelab.errors import ConfigError, DataError, RunFolderError
from aelab.outputs.folders import is_sweep
from aelab.outputs.loaded import Run, load_run
from aelab.training.inference import hidden_batched

MAX_SAMPLES = 5_000  # above it, a seeded subset of the samples (CKA costs N x width^2)


@dataclass(frozen=True)
class Layer:
    """One encoder layer of one stage of one run, on the compared samples (N, width)."""

    run: str
    stage: str
    layer: str  # "h1", "h2", ... from the input up, then "code"
    values: np.ndarray


@dataclass(frozen=True)
class Compared:
    """What :func:`compare_runs` wrote, and how many layers and samples it compared."""

    folder: Path
    layers: int
    samples: int


def compare_runs(paths: list[str | Path], out: str | Path = "compare") -> Compared:
    """Compare every encoder layer of every stage of the runs ``paths`` by linear CKA and
    write ``out/compare.csv``, ``out/displacement.csv`` and ``out/compare.png``.

    Raises:
        RunFolderError: a path is not a run folder (a sweep keeps no models to compare).
        DataError: the runs do not hold the same samples.
        ConfigError: ``out`` exists (nothing is overwritten), or no run is given.
    """
    import pandas as pd  # heavy: imported when runs are compared

    out = Path(out)
    if not paths:
        raise ConfigError("give at least one run folder to compare")
    if out.exists():
        raise ConfigError(f"{out} already exists; choose another --out or remove it")
    for path in paths:
        if is_sweep(path):
            raise RunFolderError(
                f"{str(path)!r} is a sweep folder: sweeps keep no checkpoints of their models, "
                "so there are no layers to compare; compare run folders (aelab run) instead"
            )
    runs = [load_run(p) for p in paths]
    rows, names = _samples(runs), _names(runs)
    layers = [layer for run, name in zip(runs, names, strict=True)
              for layer in run_layers(run, name, rows)]  # fmt: skip
    cka = cka_matrix([layer.values for layer in layers])
    table = pd.DataFrame(
        [
            {**_key(a, "_a"), **_key(b, "_b"), "cka": cka[i, j]}
            for i, a in enumerate(layers)
            for j, b in enumerate(layers)
        ]
    )
    reference = {name: run.reference_stage for run, name in zip(runs, names, strict=True)}
    moved = pd.DataFrame(_displacements(reference, layers))
    out.mkdir(parents=True)
    table.to_csv(out / "compare.csv", index=False, float_format="%.6g", lineterminator="\n")
    moved.to_csv(out / "displacement.csv", index=False, float_format="%.6g", lineterminator="\n")
    heatmap(layers, cka).savefig(out / "compare.png")
    return Compared(out, len(layers), len(rows))


def _key(layer: Layer, suffix: str) -> dict[str, str]:
    return {f"run{suffix}": layer.run, f"stage{suffix}": layer.stage, f"layer{suffix}": layer.layer}


def _names(runs: list[Run]) -> list[str]:
    """Each run's name in tables: its folder's name, or its path where names repeat."""
    names = [run.path.name for run in runs]
    return names if len(set(names)) == len(names) else [str(run.path) for run in runs]


def _raw(run: Run) -> np.ndarray:
    """The run's saved inputs in the data's own units (its scaling undone)."""
    lat = run.folder.latents
    return lat["x"].astype(np.float64) * lat["scaler_scale"] + lat["scaler_mean"]


def _samples(runs: list[Run]) -> np.ndarray:
    """Positions (in each run's saved inputs ``x``) of the samples compared: all, or a seeded
    subset of ``MAX_SAMPLES``; ``DataError`` when the runs do not hold the same samples."""
    first, lat = runs[0], runs[0].folder.latents
    for run in runs[1:]:
        other = run.folder.latents
        problem = None
        if run.metrics["data"]["dataset"] != first.metrics["data"]["dataset"]:
            problem = "different datasets"
        elif len(other["label"]) != len(lat["label"]) or other["x"].shape != lat["x"].shape:
            problem = f"{len(other['label'])} and {len(lat['label'])} rows"
        elif run.feature_names != first.feature_names:
            problem = "different features"
        elif not (
            np.array_equal(other["label"], lat["label"])
            and np.array_equal(other.get("x_rows", ()), lat.get("x_rows", ()))
            and np.allclose(_raw(run), _raw(first), rtol=1e-4, atol=1e-4 * lat["scaler_scale"])
        ):
            problem = "different samples in the same rows"
        if problem:
            raise DataError(
                f"{run.path} and {first.path} do not hold the same samples ({problem}); "
                "compare runs trained on the same data"
            )
    return metrics.seeded_rows(np.zeros(len(lat["x"]), bool), MAX_SAMPLES)


def run_layers(run: Run, name: str, rows: np.ndarray) -> list[Layer]:
    """Every encoder layer of every stage of ``run`` on its saved inputs' ``rows``."""
    out = []
    for stage in run.stages:
        model, params = run.model(stage)
        one = jax.tree.map(lambda a: np.asarray(a)[None], params)  # a batch of one model
        values = hidden_batched(model, one, run.folder.latents["x"], rows)
        names = [f"h{i + 1}" for i in range(len(values) - 1)] + ["code"]
        out += [Layer(name, stage, n, v[0]) for n, v in zip(names, values, strict=True)]
    return out


def cka_matrix(values: list[np.ndarray]) -> np.ndarray:
    """Linear CKA (E, E) of every pair of representations of the same samples."""
    e = len(values)
    out = np.eye(e)
    for i in range(e):
        for j in range(i + 1, e):
            out[i, j] = out[j, i] = metrics.linear_cka(values[i], values[j])
    return out


def _displacements(reference: dict[str, str], layers: list[Layer]) -> list[dict]:
    """Each stage's mean displacement of the samples in each layer from the same layer of
    its run's ``reference`` stage (the pretrained one, else the first strategy)."""
    start = {(la.run, la.layer): la.values for la in layers if la.stage == reference[la.run]}
    return [
        {
            "run": la.run,
            "stage": la.stage,
            "layer": la.layer,
            "reference_stage": reference[la.run],
            "mean_displacement": metrics.mean_displacement(start[la.run, la.layer], la.values),
        }  # fmt: skip
        for la in layers
        if la.stage != reference[la.run] and start[la.run, la.layer].shape == la.values.shape
    ]


def heatmap(layers: list[Layer], cka: np.ndarray):
    """The CKA of every pair of layers as a matrix (a ``Figure``), each model's layers from
    the input up along both axes, lines between models (thick between runs)."""
    from matplotlib.figure import Figure  # heavy: imported when a figure is drawn

    e = len(layers)
    side = min(max(5.0, 0.3 * e + 3.0), 24.0)
    fig = Figure(figsize=(side + 1.5, side), dpi=110, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(cka, vmin=0.0, vmax=1.0, cmap="magma", interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="linear CKA")
    labels = [f"{la.run} · {la.stage} · {la.layer}" for la in layers]
    size = 8 if e <= 40 else max(3, int(320 / e))
    ax.set_xticks(range(e), labels, rotation=90, fontsize=size)
    ax.set_yticks(range(e), labels, fontsize=size)
    for i in range(1, e):
        a, b = layers[i - 1], layers[i]
        if (a.run, a.stage) != (b.run, b.stage):
            width = 2.0 if a.run != b.run else 0.8
            ax.axhline(i - 0.5, color="white", lw=width)
            ax.axvline(i - 0.5, color="white", lw=width)
    ax.set_title("Representation similarity: linear CKA of every pair of layers")
    return fig

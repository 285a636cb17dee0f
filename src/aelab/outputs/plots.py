"""Figures: pure functions of a run folder's files. They never train anything.

Uses matplotlib's object-oriented API (``Figure``), not pyplot, so plotting needs no display,
touches no global state and is safe in threads and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from aelab.analysis.metrics import seeded_rows
from aelab.config import RunConfig
from aelab.outputs.folders import RunFolder, read_run
from aelab.outputs.images import draw_reconstructions
from aelab.outputs.style import COLORS, check_dims, most_variable
from aelab.training.plan import PRETRAINED

_NCOLS = 4
_PANEL_INCHES = 4.0
_TILE_INCHES = 0.8  # a reconstruction's height in the figure
DPI = 110


@dataclass(frozen=True)
class Panel:
    """One scatter of every sample: where it sits, and what the panel says about it."""

    title: str
    numbers: str
    xy: np.ndarray  # (N, 2) drawn positions
    labels: tuple[str, str]
    unit_box: bool = False  # a sigmoid code: draw the [0, 1] square, the same in every panel


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _spread_by_class(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """A 1-D code as (N, 2): the code across, the class (jittered, fixed seed) up."""
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(values))
    return np.column_stack([values, classes + jitter])


def _code_panels(
    lat: dict, metrics: dict, stages: list[str], family: str, dims: tuple[int, int] | None
) -> list[Panel]:  # family: its title
    """The pretrained (when the run pretrained) and fine-tuned codes, drawn in one shared 2-D
    frame: that of the first stage's code."""
    pre = lat[f"code/{stages[0]}"]
    k = pre.shape[1]
    check_dims(dims, k)
    codes = [lat[f"code/{s}"] for s in stages]
    if dims is not None:
        codes = [c[:, list(dims)] for c in codes]
        xy, labels, k = codes, (f"code unit {dims[0]}", f"code unit {dims[1]}"), 2
    elif k == 1:
        xy = [_spread_by_class(c[:, 0], lat["label"]) for c in codes]
        labels = ("code", "class (spread out to be seen)")
    elif k == 2:
        xy, labels = codes, ("code 1", "code 2")
    else:  # PCA fitted on the first stage's code, the same projection for every stage
        mean = pre.mean(axis=0)
        basis = np.linalg.svd(pre - mean, full_matrices=False)[2][:2]
        xy = [(c - mean) @ basis.T for c in codes]
        labels = (f"PC 1 of the {k}-D {stages[0]} code", "PC 2")
    unit_box = k == 2 and all(((c >= 0) & (c <= 1)).all() for c in codes)
    panels = []
    for s, points in zip(stages, xy, strict=True):
        if s == PRETRAINED:
            pm = metrics[PRETRAINED]
            title = f"Pretrained {family}"
            numbers = (
                f"test recon MSE {_fmt(pm['test_reconstruction_mse'])} · kNN "
                f"{_fmt(pm['knn_accuracy'])}"
            )
        else:
            sm = metrics["strategies"][s]
            title = f"Fine-tuned: {s}" if PRETRAINED in stages else f"Trained: {s}"
            cka = f" · CKA to pretrained {_fmt(sm['cka_to_pretrained'])}" if (
                "cka_to_pretrained" in sm
            ) else ""  # fmt: skip
            numbers = (
                f"test acc {_fmt(sm['test_accuracy'])}{cka}\ntest recon MSE "
                f"{_fmt(sm['test_reconstruction_mse'])}"
            )
        panels.append(Panel(title, numbers, points, labels, unit_box))
    return panels


def _raw_panels(lat: dict, metrics: dict) -> list[Panel]:
    ref, features = metrics["references"], [str(f) for f in lat["feature_names"]]
    # A run on data from disk keeps only every sample's first two inputs ("x_first2"); else
    # the panel shows the two features of the largest (unscaled) variance.
    pca, first2 = lat["code/pca"], "x_first2" in lat
    x = lat["x_first2"] if first2 else lat["x"]
    cols = [0, 1] if first2 else most_variable(x * lat["scaler_scale"])
    if x.shape[1] >= 2:
        raw = Panel(
            f"Raw data: {'first two' if first2 else 'the two most variable'} features",
            f"kNN {_fmt(ref['raw']['knn_accuracy'])} · silhouette {_fmt(ref['raw']['silhouette'])}",
            x[:, cols],
            (f"{features[cols[0]]}, standardised", f"{features[cols[1]]}, standardised"),
        )
    else:
        raw = Panel(
            "Raw data: the only feature",
            f"kNN {_fmt(ref['raw']['knn_accuracy'])}",
            _spread_by_class(x[:, 0], lat["label"]),
            (f"{features[0]}, standardised", "class (spread out to be seen)"),
        )
    n = ref["pca"].get("n_components", pca.shape[1])
    shown = pca[:, :2] if pca.shape[1] >= 2 else _spread_by_class(pca[:, 0], lat["label"])
    return [
        raw,
        Panel(
            "Raw data: PCA",
            f"{n}-D PCA: kNN {_fmt(ref['pca']['knn_accuracy'])} · silhouette "
            f"{_fmt(ref['pca']['silhouette'])}",
            shown,
            ("PC 1", "PC 2" if pca.shape[1] >= 2 else "class (spread out to be seen)"),
        ),
    ]


MAX_DRAWN = 20_000  # points a panel draws at most (more only hide each other)


def _scatter(
    ax, panel: Panel, labels: np.ndarray, is_train: np.ndarray, is_labelled: np.ndarray
) -> None:
    """Labelled training samples filled, unlabelled ones small and faint, held-out hollow.
    Above ``MAX_DRAWN`` samples, a seeded sample of them (labelled ones first)."""
    xy = np.asarray(panel.xy, np.float64)
    if len(xy) > MAX_DRAWN:
        keep = seeded_rows(is_labelled, MAX_DRAWN)
        xy, labels, is_train, is_labelled = (a[keep] for a in (xy, labels, is_train, is_labelled))
    for c in np.unique(labels):
        color = COLORS[int(c) % len(COLORS)]
        ours = labels == c
        lab, unl, te = ours & is_labelled, ours & is_train & ~is_labelled, ours & ~is_train
        ax.scatter(xy[lab, 0], xy[lab, 1], s=22, color=color, edgecolors="white", linewidths=0.4)
        if unl.any():
            ax.scatter(xy[unl, 0], xy[unl, 1], s=10, color=color, alpha=0.35, linewidths=0)
        ax.scatter(xy[te, 0], xy[te, 1], s=24, facecolors="none", edgecolors=color, linewidths=1.1)
    ax.set_title(f"{panel.title}\n{panel.numbers}", fontsize=9.5)
    ax.set_xlabel(panel.labels[0], fontsize=8)
    ax.set_ylabel(panel.labels[1], fontsize=8)
    ax.tick_params(labelsize=7)
    if panel.unit_box:
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_aspect("equal")


def _settings_text(config: RunConfig, n_features: int, pretrained: bool) -> str:
    model, train = config.model, config.train
    layers = "-".join(str(w) for w in [n_features, *model.hidden, model.code])
    extras = [f"{config.data.labels} labels per class"] if config.data.labels else []
    extras += model.settings.describe()
    extras += [f"{model.noise} noise"] if model.noise != "none" else []
    extras += [f"dropout {model.dropout:g}"] if model.dropout else []
    extras += ["batch norm"] if model.batch_norm else []
    return (
        f"{model.spec.title} {layers}, {model.code_activation} code"
        f"{''.join(', ' + e for e in extras)}\n"
        + (
            f"{train.pretrain_steps:,} {'greedy ' if train.pretraining == 'greedy' else ''}"
            f"pretraining + {train.finetune_steps:,} fine-tuning steps\n"
            if pretrained
            else f"no pretraining, {train.finetune_steps:,} training steps\n"
        )
        + f"Adam lr {train.learning_rate:g}"
        + (f" (to 0 over the last {train.lr_decay:.0%})" if train.lr_decay else "")
        + f", λ = {train.recon_weight:g}, seed {config.seed}"
    )


def stages_figure(run: str | Path | RunFolder, dims: tuple[int, int] | None = None) -> Figure:
    """The stage figure of a run folder: raw data, PCA, the pretrained and fine-tuned codes.

    Colours are classes; filled markers are training samples, hollow ones held-out samples.
    Each panel's title carries its key numbers from ``metrics.json``. A code of more than two
    units is drawn through PCA fitted on the pretrained code (the first strategy's without
    pretraining), or as the two units ``dims``. For image data, a last row shows a few
    held-out images and every stage's reconstruction of them.
    """
    folder = run if isinstance(run, RunFolder) else read_run(run)
    lat, m, config = folder.latents, folder.metrics, folder.config
    labels, is_train = lat["label"], lat["is_train"].astype(bool)
    is_labelled = lat["is_labelled"].astype(bool)
    raw, pca = _raw_panels(lat, m)
    pre, *tuned = _code_panels(lat, m, folder.stages, config.model.spec.title, dims)

    nrows = 1 + -(-len(tuned) // _NCOLS)
    heights = [_PANEL_INCHES] * nrows
    if "recon_rows" in lat:  # image data: a row of inputs and their reconstructions
        heights.append(_TILE_INCHES * (1 + len(folder.stages)) + 0.5)
    fig = Figure(figsize=(_PANEL_INCHES * _NCOLS, sum(heights)), layout="constrained", dpi=DPI)
    grid = fig.add_gridspec(len(heights), _NCOLS, height_ratios=heights)
    axes = np.array([fig.add_subplot(grid[r, c]) for r in range(nrows) for c in range(_NCOLS)])
    if len(heights) > nrows:
        draw_reconstructions(fig.add_subplot(grid[nrows, :]), lat, folder.stages)
    slots = {0: raw, 1: pca, 2: pre, **{_NCOLS + i: p for i, p in enumerate(tuned)}}
    for i, ax in enumerate(axes):
        if i in slots:
            _scatter(ax, slots[i], labels, is_train, is_labelled)
        else:
            ax.axis("off")

    handles = [
        Line2D([], [], marker="o", ls="", color=COLORS[i % len(COLORS)], label=str(name))
        for i, name in enumerate(lat["class_names"])
    ]
    data = m["data"]
    n_unlabelled = data.get("n_unlabelled", 0)
    handles.append(
        Line2D([], [], marker="o", ls="", color="0.4", label=f"training ({data['n_train']})")
        if not n_unlabelled
        else Line2D(
            [], [], marker="o", ls="", color="0.4", label=f"labelled ({data['n_labelled']})"
        )
    )
    if n_unlabelled:
        handles.append(
            Line2D([], [], marker="o", ls="", color="0.4", alpha=0.35, markersize=4,
                   label=f"unlabelled ({n_unlabelled})")
        )  # fmt: skip
    handles.append(
        Line2D([], [], marker="o", ls="", markerfacecolor="none", color="0.4",
               label=f"held out ({data['n_test']})")
    )  # fmt: skip
    legend_ax = axes[3]
    legend_ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=9, title="class")
    legend_ax.set_title(f"{m['data']['dataset']}: what fine-tuning does to the code", fontsize=9.5)
    settings = _settings_text(config, m["data"]["n_features"], folder.pretrained)
    legend_ax.text(0.0, 0.05, settings, fontsize=8, color="0.3", transform=legend_ax.transAxes)
    return fig


def plot_stages(
    run_dir: str | Path, filename: str = "stages.png", dims: tuple[int, int] | None = None
) -> Path:
    """Write :func:`stages_figure` of ``run_dir`` into it as ``filename``; return the path."""
    path = Path(run_dir) / filename
    stages_figure(run_dir, dims).savefig(path)
    return path

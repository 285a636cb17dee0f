"""Figures: pure functions of a run folder's files. They never train anything.

Uses matplotlib's object-oriented API (``Figure``), not pyplot, so plotting needs no display,
touches no global state and is safe in threads and tests.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

_COLORS = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
]  # fmt: skip


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _to_2d(code: np.ndarray, basis) -> np.ndarray:
    """Codes as (N, 2) for a scatter: as they are, through ``basis``, or 1-D spread by class."""
    if code.shape[1] == 2:
        return code
    if code.shape[1] > 2:
        mean, components = basis
        return (code - mean) @ components.T
    return np.column_stack([code[:, 0], np.zeros(len(code))])


def _pca_basis(code: np.ndarray):
    # Projection fitted on the pretrained code and reused for every stage, so panels compare.
    centred = code - code.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return code.mean(axis=0), vt[:2]


def _scatter(ax, xy: np.ndarray, labels: np.ndarray, is_train: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    if np.all(xy[:, 1] == 0):  # a 1-D code: spread samples vertically by class
        xy = np.column_stack([xy[:, 0], labels + rng.uniform(-0.3, 0.3, len(labels))])
    for c in np.unique(labels):
        color = _COLORS[int(c) % len(_COLORS)]
        tr = (labels == c) & is_train
        te = (labels == c) & ~is_train
        ax.scatter(xy[tr, 0], xy[tr, 1], s=22, color=color, edgecolors="white", linewidths=0.4)
        ax.scatter(xy[te, 0], xy[te, 1], s=24, facecolors="none", edgecolors=color, linewidths=1.1)


def _settings_text(run_dir: Path, n_features: int) -> str:
    config = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    model, train = config["model"], config["train"]
    layers = "-".join(str(w) for w in [n_features, *model["hidden"], model["code"]])
    return (
        f"autoencoder {layers}, {model['code_activation']} code\n"
        f"{train['pretrain_steps']:,} pretraining + {train['finetune_steps']:,} fine-tuning "
        f"steps\nAdam lr {train['learning_rate']:g}, λ = {train['recon_weight']:g}, "
        f"seed {config['seed']}"
    )


def plot_stages(run_dir: str | Path, filename: str = "stages.png") -> Path:
    """Draw ``stages.png``: raw data, PCA, the pretrained code and every fine-tuned code.

    Colours are classes; filled markers are training samples, hollow ones held-out samples.
    Each panel's title carries its key numbers from ``metrics.json``.
    """
    run_dir = Path(run_dir)
    with np.load(run_dir / "latents.npz", allow_pickle=False) as npz:
        lat = {k: npz[k] for k in npz.files}
    m = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    labels, is_train = lat["label"], lat["is_train"]
    class_names = [str(c) for c in lat["class_names"]]
    features = [str(f) for f in lat["feature_names"]]
    strategies = [str(s) for s in lat["strategies"]]
    pre = lat["code/pretrained"]
    basis = _pca_basis(pre) if pre.shape[1] > 2 else None
    code_dims = "code" if pre.shape[1] <= 2 else f"code, PCA of {pre.shape[1]}-D"
    ref, pm = m["references"], m["pretrained"]

    panels = [
        (
            "Raw data: first two features",
            f"kNN {_fmt(ref['raw']['knn_accuracy'])} · silhouette {_fmt(ref['raw']['silhouette'])}",
            lat["x"][:, :2],
            tuple(f"{f}, standardised" for f in features[:2]),
        ),
        (
            "Raw data: PCA",
            f"kNN {_fmt(ref['pca']['knn_accuracy'])} · silhouette {_fmt(ref['pca']['silhouette'])}",
            lat["code/pca"][:, :2] if lat["code/pca"].shape[1] >= 2 else lat["code/pca"],
            ("PC 1", "PC 2"),
        ),
        (
            "Pretrained autoencoder",
            f"test recon MSE {_fmt(pm['test_reconstruction_mse'])} · kNN "
            f"{_fmt(pm['knn_accuracy'])}",
            _to_2d(pre, basis),
            (f"{code_dims} 1", f"{code_dims} 2"),
        ),
    ]
    for s in strategies:
        sm = m["strategies"][s]
        panels.append(
            (
                f"Fine-tuned: {s}",
                f"test acc {_fmt(sm['test_accuracy'])} · CKA to pretrained "
                f"{_fmt(sm['cka_to_pretrained'])}\ntest recon MSE "
                f"{_fmt(sm['test_reconstruction_mse'])}",
                _to_2d(lat[f"code/{s}"], basis),
                (f"{code_dims} 1", f"{code_dims} 2"),
            )
        )

    ncols = 4
    nrows = 1 + -(-len(strategies) // ncols)
    fig = Figure(figsize=(4.0 * ncols, 4.0 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    slots = [0, 1, 2, *range(ncols, ncols + len(strategies))]
    bounded = all(np.all((p[2] >= 0) & (p[2] <= 1)) for p in panels[2:])
    for slot, (title, numbers, xy, (xlabel, ylabel)) in zip(slots, panels, strict=True):
        ax = axes[slot]
        _scatter(ax, np.asarray(xy, np.float64), labels, is_train)
        ax.set_title(f"{title}\n{numbers}", fontsize=9.5)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        if slot >= 2 and bounded and basis is None:  # sigmoid codes: same [0, 1] box everywhere
            ax.set_xlim(-0.05, 1.05)
            ax.set_ylim(-0.05, 1.05)
            ax.set_aspect("equal")
    for slot in set(range(len(axes))) - set(slots):
        axes[slot].axis("off")

    handles = [
        Line2D([], [], marker="o", ls="", color=_COLORS[i % len(_COLORS)], label=name)
        for i, name in enumerate(class_names)
    ] + [
        Line2D([], [], marker="o", ls="", color="0.4", label=f"training ({m['data']['n_train']})"),
        Line2D(
            [], [], marker="o", ls="", markerfacecolor="none", color="0.4",
            label=f"held out ({m['data']['n_test']})",
        ),
    ]  # fmt: skip
    legend_ax = axes[3]
    legend_ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=9, title="class")
    legend_ax.set_title(f"{m['data']['dataset']}: what fine-tuning does to the code", fontsize=9.5)
    settings = _settings_text(run_dir, m["data"]["n_features"])
    legend_ax.text(0.0, 0.05, settings, fontsize=8, color="0.3", transform=legend_ax.transAxes)
    fig.savefig(run_dir / filename, dpi=110)
    return run_dir / filename

"""The files of a run folder, written from a finished run (:class:`Outcome`)."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

from aelab.config import dump_config
from aelab.outputs.checkpoint import save_checkpoint
from aelab.outputs.images import is_image, reconstruction_rows
from aelab.outputs.plots import plot_stages
from aelab.outputs.report import write_report
from aelab.outputs.style import shown_rows
from aelab.training.experiment import Outcome
from aelab.training.inference import apply_batched
from aelab.training.parallel import Mesh
from aelab.training.plan import PRETRAINED
from aelab.training.program import HISTORY_FIELDS

MAX_KEPT_INPUTS = 64 * 2**20  # bytes of scaled inputs a run folder keeps whole


def _inputs(x: np.ndarray) -> dict[str, np.ndarray]:
    """The scaled inputs a run folder keeps: all of them, or, for data read from disk or
    larger than ``MAX_KEPT_INPUTS`` (50,000 CIFAR-10 images: 600 MB), the rows its report
    shows and every sample's first two features."""
    if not isinstance(x, np.memmap) and x.nbytes <= MAX_KEPT_INPUTS:
        return {"x": x}
    rows = shown_rows(len(x))
    return {"x": np.asarray(x[rows]), "x_rows": rows, "x_first2": np.asarray(x[:, :2])}


def _reconstructions(outcome: Outcome) -> dict[str, np.ndarray]:
    """For image data: a few held-out samples (``recon_rows``), their scaled inputs
    (``recon_inputs``) and every stage's reconstruction of them (``recon/<stage>``)."""
    split = outcome.split
    if not is_image(split.dataset.image_shape):
        return {}
    rows = reconstruction_rows(split.y, split.is_train)
    x = np.asarray(split.x[rows], np.float32)  # (K, D)
    out = {"recon_rows": rows, "recon_inputs": x}
    phases = [(outcome.finetune, outcome.strategies)]
    if outcome.pretrain is not None:
        phases.insert(0, (outcome.pretrain, (PRETRAINED,)))
    for phase, stages in phases:
        recon = apply_batched(outcome.model, phase.params, x)[1]  # (M, K, D)
        out.update({f"recon/{s}": np.asarray(recon[i], np.float32) for i, s in enumerate(stages)})
    return out


def _latents(outcome: Outcome) -> dict[str, np.ndarray]:
    """``latents.npz``: every sample's labels, split and inputs; every stage's code and path."""
    split, ds = outcome.split, outcome.split.dataset
    pre = outcome.pretrain
    pretraining = {} if pre is None else {
        "snapshot_steps/pretrain": pre.snapshot_steps,
        "snapshots/pretrained": pre.snapshots[:, 0],
    }  # fmt: skip
    return {
        "index": np.arange(len(split.y)),
        "label": split.y,
        "is_train": split.is_train,
        "is_labelled": split.is_labelled,
        "split": np.where(split.is_train, "train", "test"),
        "class_names": np.array(ds.class_names),
        "feature_names": np.array(split.feature_names),
        "image_shape": np.array(ds.image_shape, dtype=np.int64),
        "strategies": np.array(outcome.strategies),
        **_inputs(split.x),
        **_reconstructions(outcome),
        "scaler_mean": split.mean,
        "scaler_scale": split.scale,
        **pretraining,
        "snapshot_steps/finetune": outcome.finetune.snapshot_steps,
        **{f"code/{k}": v for k, v in outcome.codes.items()},
        **{
            f"snapshots/{s}": outcome.finetune.snapshots[:, i]
            for i, s in enumerate(outcome.strategies)
        },
    }


def write_run(
    outcome: Outcome,
    run_dir: Path,
    plot_dims: tuple[int, int] | None = None,
    name: str | None = None,
    mesh: Mesh | None = None,
) -> tuple[dict[str, Path], dict[str, Path]]:
    """Write every file of a run folder into the existing folder ``run_dir``; ``name`` is
    the run's name in its report (the folder's by default); ``mesh``, the devices it trained
    on, goes into ``timing.json``. Returns the figures' and the checkpoints' paths."""
    split = outcome.split
    # data paths relative to the folder (a sibling of the final one: the same paths)
    (run_dir / "config.toml").write_text(dump_config(outcome.config, run_dir), encoding="utf-8")
    (run_dir / "metrics.json").write_text(
        json.dumps(outcome.metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    device = jax.config.jax_default_device or jax.devices()[0]
    timing = {
        "seconds": outcome.seconds,
        "device": str(device),
        "devices": 1 if mesh is None else mesh.size,
        "processes": jax.process_count(),
    }
    (run_dir / "timing.json").write_text(json.dumps(timing, indent=2) + "\n", encoding="utf-8")

    np.savez_compressed(run_dir / "latents.npz", **_latents(outcome))
    np.savez_compressed(
        run_dir / "history.npz",
        fields=np.array(HISTORY_FIELDS),
        **({} if outcome.pretrain is None else {PRETRAINED: outcome.pretrain.history[0]}),
        **{s: outcome.finetune.history[i] for i, s in enumerate(outcome.strategies)},
    )

    ckpt_dir = run_dir / "checkpoints"
    ckpt_dir.mkdir()
    checkpoints = {}
    for stage in outcome.stages:
        path = ckpt_dir / f"{stage}.npz"
        save_checkpoint(path, outcome.model, outcome.params_of(stage), info=split.info())
        checkpoints[stage] = path

    figures = {"stages": plot_stages(run_dir, dims=plot_dims)}
    figures["report"] = write_report(run_dir, name=name)
    return figures, checkpoints

"""Run folders: what a run leaves behind, written all at once or not at all.

A run is built in a hidden temporary folder beside its destination and renamed into place
when every file is written, so an error or a crash never leaves a half-written run folder, and
an existing folder is never overwritten.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aelab.checkpoint import save_checkpoint
from aelab.config import RunConfig, dump_config
from aelab.errors import AelabError, ConfigError
from aelab.experiment import Outcome, ProgressFn, train_and_evaluate
from aelab.train import HISTORY_FIELDS

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` returns: the run folder and the run's numbers as plain values.

    Attributes:
        run_dir: the run folder.
        config: the resolved config (also ``run_dir / "config.toml"``).
        codes: ``"pca"``, ``"pretrained"`` and each strategy -> every sample's code (N, code).
        labels: (N,) class index of every sample; ``class_names`` names them.
        is_train: (N,) True for training samples, False for held-out ones.
        metrics: the contents of ``metrics.json``.
        figures: figure name -> path (``"stages"``).
        checkpoints: ``"pretrained"`` and each strategy -> checkpoint path.
    """

    run_dir: Path
    config: RunConfig
    codes: dict[str, np.ndarray]
    labels: np.ndarray
    is_train: np.ndarray
    class_names: tuple[str, ...]
    metrics: dict
    figures: dict[str, Path]
    checkpoints: dict[str, Path]


def resolve_run_dir(out: str | Path, name: str | None) -> Path:
    """The folder a run will be written to; refuse names that escape ``out`` or exist."""
    out = Path(out)
    if name is None:
        name = time.strftime("%Y%m%d-%H%M%S")
        base, n = name, 2
        while (out / name).exists():
            name, n = f"{base}-{n}", n + 1
    elif not _NAME.fullmatch(name):
        raise ConfigError(
            f"run name {name!r} is not a plain folder name; use up to 200 letters, digits, '.', "
            "'_' and '-', starting with a letter or digit"
        )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output folder {str(out)!r} is a file; choose another --out")
    run_dir = out / name
    if run_dir.exists():
        raise ConfigError(
            f"run folder {str(run_dir)!r} already exists; choose another --name or remove it"
        )
    return run_dir


def run(
    config: RunConfig | None = None,
    *,
    out: str | Path = "runs",
    name: str | None = None,
    progress: ProgressFn | None = None,
    plot_dims: tuple[int, int] | None = None,
    animation: bool = False,
) -> RunResult:
    """Train and measure every strategy of ``config``; write the run folder ``out/name``.

    Args:
        config: the experiment; ``None`` is the original Iris experiment.
        out: the folder that holds run folders.
        name: the run folder's name; a timestamp by default.
        progress: called as ``progress(phase, steps_done, steps_total)`` during training.
        plot_dims: two code units to draw instead of the PCA of a code of more than two.
        animation: also write ``animation.gif`` (``.mp4`` with ffmpeg) of the code moving.

    Raises:
        AelabError: for a bad setting, dataset or output folder, or a diverged training; the
            run folder is then not written, and folders made for it are removed again.
    """
    from aelab.plots import check_dims

    config = config or RunConfig()
    check_dims(plot_dims, config.model.code)
    run_dir = resolve_run_dir(out, name)
    made = [p for p in (run_dir.parent, *run_dir.parent.parents) if not p.exists()]
    tmp = run_dir.parent / f".{run_dir.name}.partial-{os.getpid()}"
    try:
        try:  # before training, so that an unusable --out fails at once
            tmp.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create a run folder in {str(run_dir.parent)!r}: {exc.strerror}; "
                "choose another --out"
            ) from None
        outcome = train_and_evaluate(config, progress)
        try:
            figures, checkpoints = write_run(outcome, tmp, plot_dims, name=run_dir.name)
            if animation:
                from aelab.animation import write_animation

                figures.update(write_animation(tmp))
        except OSError as exc:
            raise AelabError(f"could not write the run folder {str(run_dir)!r}: {exc}") from None
        if run_dir.exists():  # appeared while we trained
            raise ConfigError(f"run folder {str(run_dir)!r} appeared during the run; kept it")
        tmp.rename(run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in made:  # deepest first; stop at the first that is not ours and empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    split = outcome.split
    return RunResult(
        run_dir=run_dir,
        config=config,
        codes=outcome.codes,
        labels=split.y,
        is_train=split.is_train,
        class_names=split.dataset.class_names,
        metrics=outcome.metrics,
        figures={k: run_dir / p.name for k, p in figures.items()},
        checkpoints={k: run_dir / "checkpoints" / p.name for k, p in checkpoints.items()},
    )


def write_run(
    outcome: Outcome,
    run_dir: Path,
    plot_dims: tuple[int, int] | None = None,
    name: str | None = None,
) -> tuple[dict[str, Path], dict[str, Path]]:
    """Write every file of a run folder into the existing folder ``run_dir``; ``name`` is
    the run's name in its report (the folder's by default)."""
    from aelab.plots import plot_stages
    from aelab.report import write_report

    split, ds = outcome.split, outcome.split.dataset
    (run_dir / "config.toml").write_text(dump_config(outcome.config), encoding="utf-8")
    (run_dir / "metrics.json").write_text(
        json.dumps(outcome.metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    (run_dir / "timing.json").write_text(
        json.dumps({"seconds": outcome.seconds}, indent=2) + "\n", encoding="utf-8"
    )

    latents = {
        "index": np.arange(len(split.y)),
        "label": split.y,
        "is_train": split.is_train,
        "is_labelled": split.is_labelled,
        "split": np.where(split.is_train, "train", "test"),
        "class_names": np.array(ds.class_names),
        "feature_names": np.array(ds.feature_names),
        "image_shape": np.array(ds.image_shape, dtype=np.int64),
        "strategies": np.array(outcome.strategies),
        "x": split.x,
        "scaler_mean": split.mean,
        "scaler_scale": split.scale,
        "snapshot_steps/pretrain": outcome.pretrain.snapshot_steps,
        "snapshot_steps/finetune": outcome.finetune.snapshot_steps,
        "snapshots/pretrained": outcome.pretrain.snapshots[:, 0],
        **{f"code/{k}": v for k, v in outcome.codes.items()},
        **{
            f"snapshots/{s}": outcome.finetune.snapshots[:, i]
            for i, s in enumerate(outcome.strategies)
        },
    }
    np.savez_compressed(run_dir / "latents.npz", **latents)
    np.savez_compressed(
        run_dir / "history.npz",
        fields=np.array(HISTORY_FIELDS),
        pretrained=outcome.pretrain.history[0],
        **{s: outcome.finetune.history[i] for i, s in enumerate(outcome.strategies)},
    )

    ckpt_dir = run_dir / "checkpoints"
    ckpt_dir.mkdir()
    checkpoints = {}
    info = {
        "feature_names": list(ds.feature_names),
        "class_names": list(ds.class_names),
        "scaler_mean": split.mean.tolist(),
        "scaler_scale": split.scale.tolist(),
    }
    for stage in ("pretrained", *outcome.strategies):
        path = ckpt_dir / f"{stage}.npz"
        save_checkpoint(path, outcome.model, outcome.params_of(stage), info=info)
        checkpoints[stage] = path

    figures = {"stages": plot_stages(run_dir, dims=plot_dims)}
    figures["report"] = write_report(run_dir, name=name)
    return figures, checkpoints

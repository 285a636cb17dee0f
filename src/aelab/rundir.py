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

import jax
import numpy as np

from aelab.checkpoint import save_checkpoint
from aelab.config import RunConfig, dump_config
from aelab.errors import AelabError, ConfigError
from aelab.experiment import Diverged, Interrupted, Outcome, ProgressFn, train_and_evaluate
from aelab.parallel import Mesh
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


def _taken(out: Path, name: str) -> bool:
    return (out / name).exists() or (out / f"{name}{INTERRUPTED}").exists()


def resolve_run_dir(out: str | Path, name: str | None, resuming: bool = False) -> Path:
    """The folder a run will be written to; refuse names that escape ``out`` or exist (or
    whose interrupted run waits to be resumed, unless ``resuming`` it)."""
    out = Path(out)
    if name is None:
        name = time.strftime("%Y%m%d-%H%M%S")
        base, n = name, 2
        while _taken(out, name):
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
        hint = (
            "move it away, then resume again" if resuming else "choose another --name or remove it"
        )
        raise ConfigError(f"run folder {str(run_dir)!r} already exists; {hint}")
    waiting = out / f"{name}{INTERRUPTED}"
    if waiting.exists() and not resuming:
        raise ConfigError(
            f"an interrupted run waits in {str(waiting)!r}; finish it with aelab run --resume "
            f"{waiting}, remove it, or choose another --name"
        )
    return run_dir


INTERRUPTED = ".interrupted"  # suffix of the folder an interrupted run leaves


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM; ``folder`` holds what ``resume=`` needs."""

    def __init__(self, folder: Path, phase: str, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} {phase} steps")
        self.folder, self.phase, self.done, self.total = folder, phase, done, total


class _StopOnSignal:
    """SIGINT / SIGTERM ask training to stop after its current chunk of steps (a second
    signal stops at once). Only in the main thread, and only in a run of one process (the
    processes of a multi-host run must stop together, so a signal there ends the process as
    usual); elsewhere nothing changes."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.requested = False
        self.saving = False  # while the state is saved, further signals wait for it
        self._old: dict = {}

    def __enter__(self) -> _StopOnSignal:
        import signal
        import threading

        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                old = signal.getsignal(sig)
                if old is signal.SIG_IGN:  # a signal the caller ignores stays ignored
                    continue
                self._old[sig] = signal.SIG_DFL if old is None else old
                signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and not self.saving:  # asked twice: stop now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        import signal

        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def __call__(self) -> bool:
        return self.requested


def run(
    config: RunConfig | None = None,
    *,
    out: str | Path = "runs",
    name: str | None = None,
    progress: ProgressFn | None = None,
    plot_dims: tuple[int, int] | None = None,
    animation: bool = False,
    resume: str | Path | None = None,
    mesh: Mesh | None = None,
) -> RunResult:
    """Train and measure every strategy of ``config``; write the run folder ``out/name``.

    Args:
        config: the experiment; ``None`` is the original Iris experiment.
        out: the folder that holds run folders.
        name: the run folder's name; a timestamp by default.
        progress: called as ``progress(phase, steps_done, steps_total)`` during training.
        plot_dims: two code units to draw instead of the PCA of a code of more than two.
        animation: also write ``animation.gif`` (``.mp4`` with ffmpeg) of the code moving.
        resume: the folder an interrupted run left (``<name>.interrupted``): finish that run
            with the numbers an uninterrupted one would have; ``config`` and ``name`` come from
            the folder.
        mesh: train data-parallel over the devices of this ``jax.sharding.Mesh``
            (:func:`aelab.parallel.device_mesh`); one device by default.

    SIGINT or SIGTERM during training stops it after the current chunk of steps, saves the
    state in ``out/<name>.interrupted`` and raises :class:`RunInterrupted`.

    Raises:
        AelabError: for a bad setting, dataset or output folder, or a diverged training; the
            run folder is then not written, and folders made for it are removed again.
    """
    from aelab.plots import check_dims

    state = None
    if resume is not None:
        resume = Path(resume).resolve()
        if not resume.name.endswith(INTERRUPTED) or resume.name == INTERRUPTED:
            raise ConfigError(
                f"{str(resume)!r} is not an interrupted run; its folder is named "
                f"<name>{INTERRUPTED}, and the finished run becomes <name>"
            )
        config, state = _read_interrupted(resume)
        out, name = resume.parent, resume.name.removesuffix(INTERRUPTED)
    config = config or RunConfig()
    check_dims(plot_dims, config.model.code)
    run_dir = resolve_run_dir(out, name, resuming=resume is not None)
    made = [p for p in (run_dir.parent, *run_dir.parent.parents) if not p.exists()]
    tmp = run_dir.parent / f".{run_dir.name}.partial-{os.getpid()}"
    # A signal from here on asks training to stop after its current chunk (the handler is
    # in place before the folder exists, so no signal can fall between the two).
    with _StopOnSignal(enabled=jax.process_count() == 1) as stop:
        try:
            try:  # before training, so that an unusable --out fails at once
                tmp.mkdir(parents=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create a run folder in {str(run_dir.parent)!r}: {exc.strerror}; "
                    "choose another --out"
                ) from None
            try:
                outcome = train_and_evaluate(config, progress, stop=stop, resume=state, mesh=mesh)
            except Diverged as exc:
                kept = _write_diverged(exc, config, run_dir)
                raise Diverged(
                    f"{exc}; the last good weights (step {exc.step} of {exc.phase}) are in "
                    f"{kept}",
                    exc.phase, exc.names, exc.params, exc.step,
                ) from None  # fmt: skip
            except Interrupted as exc:
                stop.saving = True  # a second signal must not cut the save short
                folder = _write_interrupted(exc, config, run_dir)
                total = config.train.pretrain_steps if exc.phase == "pretrain" else (
                    config.train.finetune_steps
                )  # fmt: skip
                phase = "pretraining" if exc.phase == "pretrain" else "fine-tuning"
                raise RunInterrupted(folder, phase, exc.state.done, total) from None
            try:
                figures, checkpoints = write_run(
                    outcome, tmp, plot_dims, name=run_dir.name, mesh=mesh
                )
                if animation:
                    from aelab.animation import write_animation

                    figures.update(write_animation(tmp))
            except OSError as exc:
                raise AelabError(
                    f"could not write the run folder {str(run_dir)!r}: {exc}"
                ) from None
            if run_dir.exists():  # appeared while we trained
                raise ConfigError(f"run folder {str(run_dir)!r} appeared during the run; kept it")
            tmp.rename(run_dir)
            if resume is not None:  # finished: the interrupted run's state is spent
                shutil.rmtree(resume, ignore_errors=True)
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


def _write_interrupted(exc: Interrupted, config: RunConfig, run_dir: Path) -> Path:
    """Save an interrupted run's state as ``<run_dir>.interrupted/`` (config.toml and
    resume.npz, each written atomically); return the folder."""
    folder = run_dir.with_name(run_dir.name + INTERRUPTED)
    arrays: dict[str, np.ndarray] = {
        "phase": np.array(exc.phase),
        "data_fingerprint": np.array(exc.fingerprint),
    }

    def put(prefix: str, st) -> None:
        for i, leaf in enumerate(jax.tree.leaves(st.params)):
            arrays[f"{prefix}/params/{i}"] = np.asarray(leaf)
        arrays[f"{prefix}/history"] = st.history
        arrays[f"{prefix}/snapshots"] = st.snapshots
        arrays[f"{prefix}/snapshot_steps"] = st.snapshot_steps

    put("state", exc.state)
    arrays["state/done"] = np.array(exc.state.done)
    arrays["state/keys"] = exc.state.keys
    for i, leaf in enumerate(exc.state.opt_state):
        arrays[f"state/opt/{i}"] = np.asarray(leaf)
    if exc.pretrain is not None:
        put("pretrain", exc.pretrain)
    tmp = run_dir.with_name(f".{folder.name}.partial-{os.getpid()}")
    tmp.mkdir(parents=True)
    try:
        (tmp / "config.toml").write_text(dump_config(_absolute_paths(config)), encoding="utf-8")
        _savez(tmp / "resume.npz", arrays)
        if folder.exists():  # this run's own earlier state (a resumed run stopped again)
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _absolute_paths(config: RunConfig) -> RunConfig:
    """``config`` with its data files named by absolute paths, so that a resume from
    another working folder reads the same files."""
    import dataclasses

    from aelab.data import DATASETS

    data = config.data
    changes = {}
    if data.dataset not in DATASETS:
        changes["dataset"] = str(Path(data.dataset).resolve())
    if data.test_file is not None:
        changes["test_file"] = str(Path(data.test_file).resolve())
    return dataclasses.replace(config, data=dataclasses.replace(data, **changes))


DIVERGED = ".diverged"  # suffix of the folder a diverged run leaves its last good weights in


def _write_diverged(exc: Diverged, config: RunConfig, run_dir: Path) -> Path:
    """Checkpoints of the last weights whose every loss was finite, one per model, with the
    config, in ``<run_dir>.diverged/checkpoints/`` (replacing an earlier one)."""
    folder = run_dir.with_name(run_dir.name + DIVERGED)
    tmp = run_dir.with_name(f".{run_dir.name}{DIVERGED}.partial-{os.getpid()}")
    (tmp / "checkpoints").mkdir(parents=True)
    (tmp / "config.toml").write_text(dump_config(config), encoding="utf-8")
    for i, name in enumerate(exc.names):
        params = jax.tree.map(lambda a, i=i: a[i], exc.params)
        save_checkpoint(tmp / "checkpoints" / f"{name}.npz", exc.model, params, info=exc.info)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder / "checkpoints"


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez adds no suffix to it
        np.savez(f, **arrays)


def _read_interrupted(folder: Path):
    """The config and the :class:`Interrupted` state an interrupted run left."""
    from aelab.config import load_config
    from aelab.experiment import Interrupted
    from aelab.models import build_model
    from aelab.train import PhaseResult, PhaseState

    if not (folder / "resume.npz").is_file() or not (folder / "config.toml").is_file():
        raise ConfigError(
            f"{str(folder)!r} is not an interrupted run (it needs config.toml and resume.npz); "
            "check the path"
        )
    config = load_config(folder / "config.toml")
    # The parameters' tree depends on the layout, not on the data's sizes: any sizes give it
    # (the data is loaded, and checked against the run's, by the resumed run itself).
    model = build_model(config.model, n_inputs=1, n_classes=2)
    template = jax.tree.structure(jax.eval_shape(model.init, jax.random.key(0)))
    with np.load(folder / "resume.npz", allow_pickle=False) as npz:
        z = {k: npz[k] for k in npz.files}

    def params(prefix: str):
        count = sum(k.startswith(f"{prefix}/params/") for k in z)
        return jax.tree.unflatten(template, [z[f"{prefix}/params/{i}"] for i in range(count)])

    phase = str(z["phase"])
    fingerprint = str(z["data_fingerprint"]) if "data_fingerprint" in z else ""
    n_opt = sum(k.startswith("state/opt/") for k in z)
    state = PhaseState(
        done=int(z["state/done"]),
        params=params("state"),
        opt_state=[z[f"state/opt/{i}"] for i in range(n_opt)],
        keys=z["state/keys"],
        history=z["state/history"],
        snapshots=z["state/snapshots"],
        snapshot_steps=z["state/snapshot_steps"],
    )
    pretrain = None
    if phase == "finetune":
        pretrain = PhaseResult(
            params=params("pretrain"),
            history=z["pretrain/history"],
            snapshots=z["pretrain/snapshots"],
            snapshot_steps=z["pretrain/snapshot_steps"],
        )
    interrupted = Interrupted(phase, state, pretrain)
    interrupted.fingerprint = fingerprint
    return config, interrupted


def _inputs(x: np.ndarray) -> dict[str, np.ndarray]:
    """The scaled inputs a run folder keeps: all of them, or, for data read from disk (too
    large to copy), the rows its report shows and every sample's first two features."""
    if not isinstance(x, np.memmap):
        return {"x": x}
    from aelab.report import shown_rows

    rows = shown_rows(len(x))
    return {"x": np.asarray(x[rows]), "x_rows": rows, "x_first2": np.asarray(x[:, :2])}


def write_run(
    outcome: Outcome,
    run_dir: Path,
    plot_dims: tuple[int, int] | None = None,
    name: str | None = None,
    mesh: Mesh | None = None,
) -> tuple[dict[str, Path], dict[str, Path]]:
    """Write every file of a run folder into the existing folder ``run_dir``; ``name`` is
    the run's name in its report (the folder's by default); ``mesh``, the devices it trained
    on, goes into ``timing.json``."""
    from aelab.plots import plot_stages
    from aelab.report import write_report

    split, ds = outcome.split, outcome.split.dataset
    (run_dir / "config.toml").write_text(dump_config(outcome.config), encoding="utf-8")
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
        **_inputs(split.x),
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

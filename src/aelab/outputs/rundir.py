"""Run folders: what a run leaves behind, written all at once or not at all.

A run is built in a hidden temporary folder beside its destination and renamed into place
when every file is written, so an error or a crash never leaves a half-written run folder, and
an existing folder is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from aelab import interrupts
from aelab.cache import enable_compilation_cache
from aelab.config import RunConfig
from aelab.errors import AelabError, ConfigError
from aelab.outputs.interrupted import (
    INTERRUPTED,
    read_interrupted,
    write_diverged,
    write_interrupted,
)
from aelab.outputs.partials import partial_path, remove_abandoned
from aelab.outputs.style import check_dims
from aelab.training.experiment import train_and_evaluate
from aelab.training.parallel import Mesh
from aelab.training.plan import PRETRAIN, Diverged, Interrupted, ProgressFn

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
    for link in (out, *out.parents):
        if link.is_symlink() and not link.exists():  # mkdir would say "File exists"
            where = "is" if link == out else f"is inside {str(link)!r},"
            raise ConfigError(
                f"output folder {str(out)!r} {where} a symbolic link to {os.readlink(link)!r} "
                "that does not exist; create that folder, or choose another --out"
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


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM; ``folder`` holds what ``resume=`` needs, or, when
    ``finished``, is the run folder itself (the signal came once training was done, and the
    folder was finished first)."""

    def __init__(self, folder: Path, phase: str, done: int, total: int,
                 finished: bool = False) -> None:  # fmt: skip
        what = "while the run folder was written; it was finished first" if finished else (
            f"after {done} of {total} {phase} steps"
        )  # fmt: skip
        super().__init__(f"interrupted {what}")
        self.folder, self.phase, self.done, self.total = folder, phase, done, total
        self.finished = finished


class _StopOnSignal:
    """SIGINT / SIGTERM stop a run at any moment, keeping what is worth keeping:

    - before its first chunk of steps is done (start-up, loading data, compiling, greedy
      pretraining, which asks nothing between its chunks): at once, and nothing is written;
    - during training: after the current chunk of steps, saving the state to resume;
    - once training is done (measuring, writing): after the run folder is finished.

    A second signal stops at once, writing nothing (except while the state is saved). A signal
    whose ``KeyboardInterrupt`` Python lost on its way (raised in a garbage-collector
    callback) is remembered, and acted on at the next safe point: after every chunk of steps
    (:meth:`__call__`) and before the run folder is renamed into place (:meth:`check`).

    Only in the main thread, and only in a run of one process (the processes of a multi-host
    run must stop together, so a signal there ends the process as usual)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.requested = False  # a signal asked the run to stop
        self.started = False  # a first chunk of steps is done: a stop now saves the state
        self.saving = False  # while the state is saved, further signals wait for it
        self.abort = False  # stop at once, writing nothing
        self._old: dict = {}

    def __enter__(self) -> _StopOnSignal:
        interrupts.check()  # a Ctrl-C before the run began, that Python lost
        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                old = signal.getsignal(sig)
                if old is signal.SIG_IGN:  # a signal the caller ignores stays ignored
                    continue
                self._old[sig] = signal.SIG_DFL if old is None else old
                signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.saving:
            return
        if self.started and not self.requested:  # stop at the next safe point
            self.requested = True
            return
        self.requested = self.abort = True  # before training, or asked twice: stop now
        raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def check(self) -> None:
        """A safe point: raise ``KeyboardInterrupt`` if a signal asked to stop at once."""
        if self.abort:
            raise KeyboardInterrupt

    def __call__(self) -> bool:
        """After every chunk of steps: whether to stop and save the state."""
        self.check()
        self.started = True
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

    ``config`` ``None`` is the original Iris experiment; ``out`` holds run folders; ``name``
    is a timestamp by default. ``progress(phase, steps_done, steps_total)`` hears training.
    ``plot_dims``: two code units to draw instead of the PCA of a code of more than two.
    ``animation``: also write ``animation.gif`` (``.mp4`` with ffmpeg). ``resume``: the folder
    an interrupted run left (``<name>.interrupted``): finish that run with the numbers an
    uninterrupted one would have (its config and name come from the folder). ``mesh``: train
    data-parallel over the devices of this ``jax.sharding.Mesh`` (:func:`aelab.device_mesh`).

    SIGINT or SIGTERM stops a run at any moment. Before its first chunk of steps, at once,
    writing nothing (``KeyboardInterrupt``); in training, after the chunk, saving the state in
    ``out/<name>.interrupted`` (:class:`RunInterrupted`); once trained, after finishing the
    run folder (:class:`RunInterrupted`, ``finished``). Any :class:`~aelab.AelabError` (a bad
    setting, dataset or output folder, a diverged training) leaves no run folder, and the
    folders made for it are removed again. Compiled programs are kept in the compilation
    cache (:mod:`aelab.cache`) for the next run.
    """
    enable_compilation_cache()
    state = None
    if resume is not None:
        resume = Path(resume).resolve()
        config, state = _interrupted_run(resume)
        out, name = resume.parent, resume.name.removesuffix(INTERRUPTED)
    config = config or RunConfig()
    check_dims(plot_dims, config.model.code)
    run_dir = resolve_run_dir(out, name, resuming=resume is not None)
    # The handler is in place before the folder exists, so no signal falls between the two.
    with _StopOnSignal(enabled=jax.process_count() == 1) as stop, _building(run_dir) as tmp:
        outcome = _train(config, run_dir, progress, stop, state, mesh)
        stop.check()
        figures, checkpoints = _write(outcome, tmp, run_dir, plot_dims, animation, mesh)
        stop.check()  # a second signal while writing: nothing is kept
    if resume is not None:  # finished: the interrupted run's state is spent
        shutil.rmtree(resume, ignore_errors=True)
    if stop.requested:  # a signal while measuring or writing: the folder was finished first
        steps = config.train.finetune_steps
        raise RunInterrupted(run_dir, "fine-tuning", steps, steps, finished=True)
    return RunResult(
        run_dir=run_dir,
        config=config,
        codes=outcome.codes,
        labels=outcome.split.y,
        is_train=outcome.split.is_train,
        class_names=outcome.split.dataset.class_names,
        metrics=outcome.metrics,
        figures={k: run_dir / p.name for k, p in figures.items()},
        checkpoints={k: run_dir / "checkpoints" / p.name for k, p in checkpoints.items()},
    )


def _write(outcome, tmp: Path, run_dir: Path, plot_dims, animation: bool, mesh):
    """Write the run's files into ``tmp``; return its figures and checkpoints."""
    # matplotlib and Pillow: imported once trained (aelab.prefetch loads them meanwhile)
    from aelab.outputs.animation import write_animation
    from aelab.outputs.runfiles import write_run

    try:
        figures, checkpoints = write_run(outcome, tmp, plot_dims, name=run_dir.name, mesh=mesh)
        if animation:
            figures.update(write_animation(tmp))
    except OSError as exc:
        raise AelabError(f"could not write the run folder {str(run_dir)!r}: {exc}") from None
    return figures, checkpoints


def _interrupted_run(folder: Path) -> tuple[RunConfig, Interrupted]:
    if not folder.name.endswith(INTERRUPTED) or folder.name == INTERRUPTED:
        raise ConfigError(
            f"{str(folder)!r} is not an interrupted run; its folder is named "
            f"<name>{INTERRUPTED}, and the finished run becomes <name>"
        )
    return read_interrupted(folder)


@contextlib.contextmanager
def _building(run_dir: Path) -> Iterator[Path]:
    """A hidden folder beside ``run_dir`` to write the run into, renamed to ``run_dir`` when
    everything is written; on any failure it is removed, with the folders made for it."""
    made = [p for p in (run_dir.parent, *run_dir.parent.parents) if not p.exists()]
    remove_abandoned(run_dir.parent)  # partial folders of runs that were killed outright
    tmp = partial_path(run_dir)
    try:
        try:  # before training, so that an unusable --out fails at once
            tmp.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create a run folder in {str(run_dir.parent)!r}: {exc.strerror}; "
                "choose another --out"
            ) from None
        yield tmp
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


def _train(config: RunConfig, run_dir: Path, progress, stop: _StopOnSignal, state, mesh):
    """:func:`train_and_evaluate`; a divergence leaves its last good weights beside
    ``run_dir``, an interruption its state."""
    try:
        return train_and_evaluate(config, progress, stop=stop, resume=state, mesh=mesh)
    except Diverged as exc:
        kept = write_diverged(exc, config, run_dir)
        raise Diverged(
            f"{exc}; the last good weights (step {exc.step} of {exc.phase}) are in {kept}",
            exc.phase, exc.names, exc.params, exc.step,
        ) from None  # fmt: skip
    except Interrupted as exc:
        stop.saving = True  # a second signal must not cut the save short
        folder = write_interrupted(exc, config, run_dir)
        t = config.train
        total = t.pretrain_steps if exc.phase == PRETRAIN else t.finetune_steps
        phase = "pretraining" if exc.phase == PRETRAIN else "fine-tuning"
        raise RunInterrupted(folder, phase, exc.state.done, total) from None

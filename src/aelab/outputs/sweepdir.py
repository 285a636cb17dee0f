"""Sweep folders: a grid of runs trained slice by slice, saved after every slice.

A sweep folder holds ``sweep.toml`` (the resolved sweep), ``results.csv`` (a row per trained
model or baseline, rewritten atomically after every slice), and at the end ``summary.csv``,
``sweep.png`` and ``report.html``. An interrupted sweep keeps its finished slices;
:func:`sweep` with ``resume`` trains the rest.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aelab import interrupts
from aelab.analysis.summary import METRICS, setting_text, summarise
from aelab.cache import enable_compilation_cache
from aelab.config import OUTER, RunConfig, SweepConfig, dump_sweep_config, noise_kind
from aelab.config.strategies import same_at_lambda_zero
from aelab.data import load_data
from aelab.errors import AelabError, ConfigError
from aelab.outputs.folders import read_sweep
from aelab.outputs.report import write_report
from aelab.outputs.rundir import resolve_run_dir
from aelab.outputs.sweepplot import sweep_figure
from aelab.training.parallel import Mesh
from aelab.training.plan import ProgressFn, check_batch_size
from aelab.training.sweeping import seed_splits, train_slice


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by the user; its folder keeps every finished slice."""

    def __init__(self, sweep_dir: Path, n_rows: int) -> None:
        super().__init__(f"sweep interrupted; {sweep_dir} keeps {n_rows} finished rows")
        self.sweep_dir = sweep_dir
        self.n_rows = n_rows


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` returns: the folder, every row, and the summary."""

    sweep_dir: Path
    config: SweepConfig
    results: Any  # pandas.DataFrame, one row per trained model or baseline fit
    summary: Any  # pandas.DataFrame, one row per setting, best test accuracy first
    figure: Path


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sweep(
    config: SweepConfig | None = None,
    *,
    out: str | Path = "sweeps",
    name: str | None = None,
    resume: str | Path | None = None,
    progress: ProgressFn | None = None,
    mesh: Mesh | None = None,
) -> SweepResult:
    """Train the grid ``config`` describes into a new sweep folder, or finish ``resume``.

    The folder is ``out/name`` (a timestamp by default). ``results.csv`` is rewritten after
    every slice of ``seeds_per_slice`` seeds, so an interrupted sweep loses at most the slice
    in training; ``resume`` (an existing sweep folder) reads its ``sweep.toml`` and trains
    only the seeds without rows. ``mesh`` spreads each slice's seeds over its devices (a
    slice of one seed trains data-parallel). Compiled programs are kept in the compilation
    cache (:mod:`aelab.cache`) for the next sweep.
    """
    enable_compilation_cache()
    if resume is not None:
        folder = read_sweep(resume)
        sweep_dir, config, done = folder.path, folder.config, folder.results
    else:
        config = SweepConfig() if config is None else config
        sweep_dir = resolve_run_dir(out, name)
        done = pd.DataFrame()
    datasets = _datasets(config)  # checked, with every variant's first split, before the folder
    interrupts.check()  # a Ctrl-C that Python lost so far: nothing is written yet
    fresh = resume is None
    if fresh:
        try:
            sweep_dir.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create a sweep folder in {str(sweep_dir.parent)!r}: {exc.strerror}; "
                "choose another --out"
            ) from None
        _write_atomic(sweep_dir / "sweep.toml", dump_sweep_config(config, sweep_dir))
    rows = _train_slices(config, datasets, done, sweep_dir, fresh, progress, mesh)
    results = _frame(rows)
    if not (sweep_dir / "results.csv").is_file():
        _write_atomic(sweep_dir / "results.csv", results.to_csv(index=False))
    summary = summarise(results, same_at_lambda_zero())
    _write_atomic(sweep_dir / "summary.csv", summary.to_csv(index=False))
    figure = sweep_dir / "sweep.png"
    tmp = sweep_dir / ".sweep.tmp.png"
    sweep_figure(results).savefig(tmp, dpi=110)
    os.replace(tmp, figure)
    write_report(sweep_dir)
    return SweepResult(sweep_dir, config, results, summary, figure)


def _train_slices(
    config: SweepConfig, datasets: dict, done, sweep_dir: Path, fresh: bool,
    progress: ProgressFn | None, mesh: Mesh | None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every row: ``done``'s, and those of each slice still to train, written to
    ``results.csv`` after every slice. A Ctrl-C keeps the rows of the slices finished."""
    rows: list[dict[str, Any]] = done.to_dict("records") if len(done) else []
    work = _slices(config, done)
    for n, (run, seeds, baselines) in enumerate(work, start=1):
        label = f"slice {n}/{len(work)}"
        slice_progress = None
        if progress is not None:
            slice_progress = lambda phase, d, t, label=label: progress(f"{label}: {phase}", d, t)  # noqa: E731
        try:
            interrupts.check()  # a Ctrl-C lost in the slice before, after its last chunk
            rows += train_slice(
                run, config, datasets[repr(run.data)], seeds, slice_progress, baselines, mesh,
                stop=_lost_ctrl_c,
            )  # fmt: skip
        except KeyboardInterrupt:
            raise SweepInterrupted(sweep_dir, len(rows)) from None
        except AelabError:
            if fresh and not rows:  # nothing finished: leave nothing behind
                shutil.rmtree(sweep_dir, ignore_errors=True)
            raise
        _write_atomic(sweep_dir / "results.csv", _frame(rows).to_csv(index=False))
    try:
        interrupts.check()  # lost in the last slice, after its last chunk of steps
    except KeyboardInterrupt:
        raise SweepInterrupted(sweep_dir, len(rows)) from None
    return rows


def _lost_ctrl_c() -> bool:
    """After every chunk of steps: a Ctrl-C that Python lost stops the sweep now (a slice is
    trained whole or not at all, so there is no state to keep)."""
    interrupts.check()
    return False


def _datasets(config: SweepConfig) -> dict[str, Any]:
    """Every variant's data, by its settings; before training, every variant's split and
    labels of the first seed and its batch size are checked."""
    datasets: dict[str, Any] = {}
    for run in config.variants():
        key = repr(run.data)
        if key not in datasets:
            dataset = load_data(**run.data.loading)[0]
            # A sweep holds every seed's split in memory: a memory-mapped .npy is read once,
            # rather than scaled onto disk again for every seed and label count.
            datasets[key] = dataclasses.replace(dataset, x=np.array(dataset.x))
        first = seed_splits(run, datasets[key], config.seeds[0], config.labels)
        check_batch_size(run.train.batch_size, next(iter(first.values())).n_train)
    return datasets


def _slices(config: SweepConfig, done) -> list[tuple[RunConfig, list[int], bool]]:
    """``(program, seeds, with baselines)`` of every slice still to train."""
    work = []
    codes_done: set[int] = set()
    for run in config.variants():
        # Baselines depend on the data and the code size only: once per code size.
        baselines = run.model.code not in codes_done
        codes_done.add(run.model.code)
        finished = _finished_seeds(done, run, config)
        todo = [s for s in config.seeds if s not in finished]
        # slices as even as they can be: 20 seeds are two of 10, one program (16 and 4: two)
        count = -(-len(todo) // config.seeds_per_slice)  # 0 when every seed is done
        sizes = [len(todo) // count + (part < len(todo) % count) for part in range(count)]
        starts = np.cumsum([0, *sizes])[:-1]
        for start, size in zip(starts, sizes, strict=True):
            work.append((run, todo[start : start + size], baselines))
    return work


def _finished_seeds(done, run: RunConfig, config: SweepConfig) -> set[int]:
    """Seeds whose rows of ``run``'s program are in ``done`` (a slice is saved whole)."""
    if not len(done):
        return set()
    mask = np.array(done["kind"] == "aelab", bool)
    if config.codes:
        mask &= np.array(done["code"].map(setting_text) == str(run.model.code), bool)
    if config.noises:
        kinds = done["noise"].map(lambda v: noise_kind(setting_text(v)))
        mask &= np.array(kinds == noise_kind(run.model.noise), bool)
    return {int(s) for s in done.loc[mask, "seed"]}


def _frame(rows: list[dict[str, Any]]):
    frame = pd.DataFrame(rows)
    frame["labels"] = frame["labels"].map(str)  # "all" or a count, the same after a resume
    front = ["seed", "labels", "kind", "strategy", "recon_weight", "learning_rate", "diverged"]
    front = [c for c in front if c in frame.columns]
    outer = [n[:-1] for n in OUTER if n[:-1] in frame.columns]
    rest = [c for c in METRICS if c in frame.columns]
    return frame[[*front[:2], *outer, *front[2:], *rest]]

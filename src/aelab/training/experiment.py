"""A run, in memory: config -> data -> plan -> trainer -> numbers.

:func:`train_and_evaluate` does the work and returns plain arrays and dicts;
:func:`aelab.run` (:mod:`aelab.outputs.rundir`) writes them into a run folder. Every strategy
starts from the same random initialisation (the one pretraining starts from), so the only
difference between ``supervised`` and ``finetune`` is the pretraining, and between
``finetune`` and ``finetune-recon`` the reconstruction term.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from aelab import prefetch
from aelab.config import RunConfig
from aelab.data import Split, load_data, split_dataset
from aelab.errors import ConfigError
from aelab.models import AbstractModel, Params
from aelab.training.evaluate import run_metrics
from aelab.training.parallel import Mesh
from aelab.training.plan import (
    FINETUNE,
    PRETRAIN,
    PRETRAINED,
    Diverged,
    Interrupted,
    Plan,
    ProgressFn,
    SeedData,
    check_batch_size,
    make_plan,
    train_plan,
)
from aelab.training.program import init_optimizers
from aelab.training.trainer import PhaseResult
from aelab.training.trees import unstack

MAX_SNAPSHOT_BYTES = 2 * 2**30


@dataclass(frozen=True)
class Outcome:
    """Everything a run computed, in memory. Axis M of ``finetune`` follows ``strategies``."""

    config: RunConfig
    split: Split
    model: AbstractModel
    strategies: tuple[str, ...]
    pretrain: PhaseResult | None  # M = 1; None when the run did not pretrain
    finetune: PhaseResult  # M = len(strategies)
    codes: dict[str, np.ndarray]  # "pca", "pretrained" (if any) and each strategy -> (N, code)
    metrics: dict  # as metrics.json holds it: undefined numbers are None
    seconds: dict[str, float]

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages with a model: ``"pretrained"`` when the run pretrained, each strategy."""
        return (PRETRAINED, *self.strategies) if self.pretrain is not None else self.strategies

    def params_of(self, stage: str) -> Params:
        """One model's parameters: ``"pretrained"`` or a strategy name."""
        if stage == PRETRAINED and self.pretrain is not None:
            phase, i = self.pretrain, 0
        else:
            phase, i = self.finetune, self.strategies.index(stage)
        return unstack(phase.params, i)


def load_split(config: RunConfig) -> tuple[Split, int]:
    """The data ``config`` names, split and scaled as its run uses it, and the number of
    rows dropped for missing values."""
    dataset, dropped = load_data(**config.data.loading)
    split = split_dataset(
        dataset,
        config.data.test_size,
        config.split_seed,
        labels=config.data.labels,
        scaling=config.data.scaling,
        impute=config.data.impute,
    )
    return split, dropped


def train_and_evaluate(
    config: RunConfig,
    progress: ProgressFn | None = None,
    stop: Callable[[], bool] | None = None,
    resume: Interrupted | None = None,
    mesh: Mesh | None = None,
) -> Outcome:
    """Run the experiment that ``config`` describes and measure every stage.

    ``stop`` and ``resume``: see :func:`aelab.training.plan.train_plan` (an interrupted run
    raises :class:`Interrupted`; resuming it gives the uninterrupted run's numbers). ``mesh``:
    train data-parallel over its devices."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    split, dropped = load_split(config)
    seconds["data"] = time.perf_counter() - t0

    _check_snapshot_size(config, n_samples=len(split.y))
    check_batch_size(config.train.batch_size, split.n_train)
    _check_streaming(config, split)
    fingerprint = data_fingerprint(split)
    if resume is not None and resume.fingerprint and resume.fingerprint != fingerprint:
        raise ConfigError(
            f"the data of {config.data.dataset!r} is not what the interrupted run trained on "
            "(a file changed since); resuming needs the same data, or start a new run"
        )
    # pretraining only for the strategies that start from it, or as the reference stage
    pretrain = "always" if config.train.pretrained_reference else "needed"
    the_plan = make_plan(
        config, split.x.shape[1], split.dataset.n_classes, pretrain=pretrain,
        input_shape=split.dataset.image_shape,
    )  # fmt: skip
    if resume is not None:
        check_resume(resume, the_plan, n_samples=len(split.y))
    data = [SeedData.from_splits({config.data.labels: split})]
    prefetch.start()  # what measuring and writing import, while XLA compiles and trains
    try:
        trained = train_plan(the_plan, data, progress=progress, stop=stop, resume=resume, mesh=mesh)
    except Interrupted as exc:
        exc.fingerprint = fingerprint
        raise
    except Diverged as exc:  # what a checkpoint of the last good weights needs
        exc.model, exc.info = the_plan.model, split.info()
        raise
    pretrain = trained.pretrain.group(0) if trained.pretrain is not None else None
    finetune = trained.finetune.group(0)
    seconds.update(trained.seconds)

    t0 = time.perf_counter()
    prefetch.wait()
    codes, result = run_metrics(
        the_plan.model, split, config.strategies, None if pretrain is None else pretrain.params,
        finetune.params, finetune.snapshots[0],
    )  # fmt: skip
    result["data"]["n_dropped_missing"] = dropped
    seconds["metrics"] = time.perf_counter() - t0
    return Outcome(
        config, split, the_plan.model, config.strategies, pretrain, finetune, codes, result,
        seconds,
    )  # fmt: skip


def check_resume(resume: Interrupted, plan: Plan, n_samples: int) -> None:
    """Refuse a saved state that does not fit the run it resumes (a damaged ``resume.npz``):
    its phase, step, and every array's shape."""

    def fail(what: str) -> ConfigError:
        return ConfigError(
            f"the interrupted run's saved state does not fit its config ({what}); start a new run"
        )

    phases = {PRETRAIN: plan.pretrain, FINETUNE: plan.finetune}
    phase = phases.get(resume.phase)
    if phase is None or phase.greedy:
        raise fail(f"phase {resume.phase!r}")
    if not 0 < resume.state.done < phase.steps:
        raise fail(f"{resume.state.done} steps done of {phase.steps}")
    saved = [(resume.state, len(phase.members), resume.state.done)]
    if resume.phase == FINETUNE and (resume.pretrain is None) != (plan.pretrain is None):
        raise fail("pretraining")
    if resume.phase == FINETUNE and plan.pretrain is not None:
        saved.append((resume.pretrain, len(plan.pretrain.members), plan.pretrain.steps))
    template = jax.eval_shape(plan.model.init, jax.random.key(0))
    code = plan.model.code
    for state, k, steps in saved:
        expected = [(1, k, *leaf.shape) for leaf in jax.tree.leaves(template)]
        if [np.shape(leaf) for leaf in jax.tree.leaves(state.params)] != expected:
            raise fail("its parameters are not this model's")
        if np.shape(state.history) != (1, k, steps, 4):
            raise fail(f"a history of shape {np.shape(state.history)}")
        t = len(state.snapshot_steps)
        if np.shape(state.snapshots) != (t, 1, k, n_samples, code):
            raise fail(f"snapshots of shape {np.shape(state.snapshots)}")
    optimiser = jax.eval_shape(
        init_optimizers(), resume.state.params,
        np.ones((1, len(phase.members)), np.float32),
    )  # fmt: skip
    if [np.shape(a) for a in resume.state.opt_state] != [
        leaf.shape for leaf in jax.tree.leaves(optimiser)
    ]:
        raise fail("its optimiser state is not this model's")


def data_fingerprint(split: Split) -> str:
    """A digest of exactly what training sees: the scaled inputs, labels and masks."""
    digest = hashlib.sha256()
    for array in (split.x, split.y, split.is_train, split.is_labelled):
        for start in range(0, len(array), 65_536):  # the same digest, a memory-map chunk at a time
            digest.update(np.ascontiguousarray(array[start : start + 65_536]))  # no copy
        digest.update(str(array.shape).encode())
    return digest.hexdigest()


def _check_snapshot_size(config: RunConfig, n_samples: int) -> None:
    """Refuse settings whose code snapshots would not fit comfortably in memory."""
    t = config.train
    per_snapshot = 4 * n_samples * config.model.code  # float32 codes of every sample
    count = (-(-t.pretrain_steps // t.snapshot_every) + 1) * config.pretrains + len(
        config.strategies
    ) * (-(-t.finetune_steps // t.snapshot_every) + 1)
    if count * per_snapshot > MAX_SNAPSHOT_BYTES:
        every = math.ceil(
            per_snapshot
            * (t.pretrain_steps + len(config.strategies) * t.finetune_steps)
            / (MAX_SNAPSHOT_BYTES - per_snapshot * (1 + len(config.strategies)))
        )
        raise ConfigError(
            f"train.snapshot_every={t.snapshot_every} would keep {count:,} snapshots of "
            f"{n_samples:,} codes ({count * per_snapshot / 2**30:.1f} GiB); use "
            f"--snapshot-every {every} or more"
        )


def _check_streaming(config: RunConfig, split: Split) -> None:
    """Data on disk (a memory-mapped ``.npy``) trains only as it can be read: in minibatches
    of shuffled epochs, end to end."""
    if not isinstance(split.x, np.memmap):
        return
    name, train = config.data.dataset, config.train
    if train.batch_size is None:
        raise ConfigError(
            f"{name}: data read from disk trains in minibatches; give --batch-size, e.g. 256"
        )
    if train.sampling != "epochs":
        raise ConfigError(
            f"{name}: data read from disk trains in shuffled epochs; leave --sampling (or "
            "train.sampling) at epochs"
        )
    if train.pretraining == "greedy":
        raise ConfigError(
            f"{name}: greedy pretraining needs the data in memory; use --pretraining end-to-end"
        )

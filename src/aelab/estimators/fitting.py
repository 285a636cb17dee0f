"""How an estimator trains its plan: timed phase by phase (``verbose``), from its fitted
parameters (``warm_start``), watched on held-out samples (``early_stopping``).

Early stopping and warm starts use the trainer's own stop and resume: ``train_plan`` is asked
to stop after every chunk of the watched phase, the parameters it stopped with are scored,
and the same training goes on from there (the numbers are those of one uninterrupted call).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import numpy as np

from aelab.models import Params
from aelab.training.keys import split_keys
from aelab.training.plan import FINETUNE, PRETRAIN, Interrupted, Plan, SeedData, train_plan
from aelab.training.program import init_optimizers
from aelab.training.trainer import PhaseResult, PhaseState
from aelab.training.trees import stack, unstack

TITLES = {PRETRAIN: "pretraining", FINETUNE: "fine-tuning"}
WARM_STREAM = 3  # the random stream of a warm start's model (pretraining is 1, fine-tuning 2)


@dataclass
class Watch:
    """Early stopping, as scikit-learn's ``MLPClassifier``: ``score`` (higher is better) of
    one model's parameters on held-out samples is asked after every chunk of ``phase``;
    training stops once the score has not beaten the best by ``tol`` for more than
    ``patience`` checks in a row, and the best parameters are kept."""

    phase: str
    score: Callable[[Params], float]
    patience: int
    tol: float
    scores: list[float] = field(default_factory=list)
    best_score: float = -np.inf
    best: Params | None = None
    stale: int = 0

    def check(self, params: Params) -> bool:
        """Score ``params``; True when training should stop."""
        score = float(self.score(params))
        self.scores.append(score)
        self.stale = self.stale + 1 if score < self.best_score + self.tol else 0
        if score > self.best_score:
            self.best_score, self.best = score, params
        return self.stale > self.patience


@dataclass(frozen=True)
class Fitted:
    """What an estimator keeps of its training: its model (the last phase's; the best one
    checked, when watched), that phase's loss at every step trained, a line per phase."""

    params: Params
    loss_curve: np.ndarray  # (steps trained,)
    lines: list[str]


class _Clock:
    """Steps and seconds of each phase, from the trainer's progress calls."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.done: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def tick(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if phase != self.phase:
            self.phase, self.start = phase, self.last
        self.done[phase], self.seconds[phase], self.last = done, now - self.start, now


def fit_plan(
    plan: Plan, data: SeedData, *, start: Params | None = None, watch: Watch | None = None
) -> Fitted:
    """Train ``plan`` (one model a phase) on ``data``: from scratch, or with ``start`` the
    last phase's model continues from those parameters (no pretraining), watched or not."""
    last = FINETUNE if plan.finetune is not None else PRETRAIN
    clock = _Clock()
    resume = None if start is None else _warm(plan, start, last)
    stop = None if watch is None else (lambda: clock.phase == watch.phase)
    while True:
        try:
            trained = train_plan(plan, [data], progress=clock.tick, stop=stop, resume=resume)
        except Interrupted as exc:
            params, history, pre = _one(exc.state.params), exc.state.history, exc.pretrain
            if watch.check(params):
                break
            resume = exc
            continue
        result = trained.finetune if last == FINETUNE else trained.pretrain
        params, history, pre = _one(result.params), result.history, trained.pretrain
        if watch is not None:
            watch.check(params)
        break
    losses = history[0, 0, :, 0].astype(np.float64)
    final = {last: losses[-1]}
    if pre is not None and last == FINETUNE and len(pre.history[0, 0]):
        final[PRETRAIN] = pre.history[0, 0, -1, 0]
    lines = [
        f"{TITLES[phase]}: {clock.done[phase]} steps, loss {final[phase]:.4g}, "
        f"{clock.seconds[phase]:.1f} s"
        for phase in (PRETRAIN, FINETUNE)
        if phase in clock.done and phase in final
    ]
    if watch is not None:
        params = watch.best
        lines.append(
            f"validation: best score {watch.best_score:.4g} of {len(watch.scores)} checks"
            + (", stopped early" if len(losses) < getattr(plan, last).steps else "")
        )
    return Fitted(params, losses, lines)


def _one(params: Params) -> Params:
    """The one model of a plan's (1, 1) parameters."""
    return unstack(unstack(params, 0), 0)


def _warm(plan: Plan, start: Params, phase: str) -> Interrupted:
    """A stop at step 0 of ``phase`` with ``start`` as its model and a fresh optimiser:
    resuming from it continues a fitted model."""
    params = stack([stack([start])])  # (1, 1, ...)
    rate = np.full((1, 1), plan.config.train.learning_rate, np.float32)
    key = jax.random.fold_in(jax.random.key(plan.seeds[0]), WARM_STREAM)
    state = PhaseState(
        done=0,
        params=params,
        opt_state=[np.asarray(a) for a in jax.tree.leaves(init_optimizers()(params, rate))],
        keys=split_keys(key, 1, [0])[None],
        history=np.zeros((1, 1, 0, 4)),
        snapshots=np.zeros((0, 1, 1, 0, 0)),
        snapshot_steps=np.zeros(0, int),
    )
    # fine-tuning's starts are computed from a pretrained model before the state replaces
    # them: the fitted one serves
    empty = np.zeros((1, 1, 0, 4))
    pretrained = PhaseResult(params, empty, empty, np.zeros(0, int), np.zeros((1, 1), bool))
    return Interrupted(phase, state, pretrained if phase == FINETUNE else None)

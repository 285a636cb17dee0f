"""Plans: what to train, for a run, a sweep's slice or an estimator, and :func:`train_plan`,
which trains any of them.

A plan has one group of models per seed and up to two phases. Pretraining trains one model
per pretraining setting (learning rate, noise level, penalty weight): the autoencoder, with
cross-entropy weight 0 and reconstruction weight 1, on the training samples and never a
label. Fine-tuning trains one model per strategy and setting, each from the seed's random
initialisation or from the pretrained model with the same fresh head, with its own loss
weights and its label count's masks. ``aelab run`` is a plan of one seed, a sweep's slice a
plan of many, an estimator a plan of one strategy.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import numpy as np

from aelab.config import STRATEGIES, RunConfig, parse_noise
from aelab.errors import ConfigError, TrainingError
from aelab.models import AbstractModel, Params
from aelab.training.feeding import Batch
from aelab.training.greedy import greedy_pretrain
from aelab.training.keys import ORDER_STREAM, key_stack, split_keys
from aelab.training.parallel import Mesh
from aelab.training.program import Weights, decay
from aelab.training.trainer import (
    Models,
    PhaseDiverged,
    PhaseInterrupted,
    PhaseResult,
    PhaseState,
    Schedule,
    train_groups,
)
from aelab.training.trees import stack, to_numpy, unstack

# (phase, steps done, steps in the phase); phases are "pretrain" and "finetune".
ProgressFn = Callable[[str, int, int], None]
PRETRAIN, FINETUNE = "pretrain", "finetune"
_TITLES = {PRETRAIN: "pretraining", FINETUNE: "fine-tuning"}
PRETRAINED = "pretrained"  # what the pretrained model is called (a stage, a checkpoint)


@dataclass(frozen=True)
class Member:
    """One model of a phase, the same in every group (seed).

    Attributes:
        name: what messages and checkpoints call it: a strategy, or ``"pretrained"``.
        labels: its label count, whose labelled samples its cross-entropy sees (``None``:
            every training sample is labelled); pretraining sees no label at all.
        learning_rate: its Adam step size.
        noise: its input noise (``kind:level`` of the program's kind); ``None``: the
            config's own (its level, or none).
        beta: the scale of its family's penalty (a sweep's beta), ``None`` for 1.
        ce_weight, recon_weight: the weights of its loss terms.
        start: the pretraining member it starts from; ``None``: the random initialisation.
        recon_setting: lambda as the grid gave it (``None`` without a reconstruction term).
        setting: the pretraining member of its settings (learning rate, noise, beta), which
            its measures (CKA to the pretrained code, drift) are relative to.
    """

    name: str
    labels: int | None
    learning_rate: float
    noise: str | None
    beta: float | None
    ce_weight: float
    recon_weight: float
    start: int | None = None
    recon_setting: float | None = None
    setting: int = 0


@dataclass(frozen=True)
class Phase:
    """A phase of a plan: its members, its steps and the random stream it draws from
    (``stream`` is folded into each seed's key). Pretraining members all draw the first
    random stream of the phase, as each would alone."""

    name: str
    stream: int
    steps: int
    members: tuple[Member, ...]
    greedy: bool = False

    @property
    def shared_stream(self) -> bool:
        return self.name == PRETRAIN


@dataclass(frozen=True)
class Plan:
    """Everything to train, for every seed of ``seeds``.

    ``config`` holds the settings every model shares (the network, the kind of noise,
    minibatches, snapshot interval); ``model`` is the network they all are. ``snapshots``
    and ``history`` say what to keep; ``stop_on_divergence`` whether a loss that stops being
    finite stops everything (a run) or marks its model (a sweep); ``lr_setting`` is how the
    learning rate is called where the plan came from, for messages.
    """

    config: RunConfig
    model: AbstractModel
    seeds: tuple[int, ...]
    pretrain: Phase | None
    finetune: Phase | None
    snapshots: bool = True
    history: bool = True
    stop_on_divergence: bool = True
    lr_setting: str = "--lr"


@dataclass(frozen=True)
class SeedData:
    """What one seed's models train on: every sample, which are for training, and, per label
    count, which are labelled."""

    x: np.ndarray  # (N, D) scaled; a memory map stays one
    y: np.ndarray  # (N,)
    is_train: np.ndarray  # (N,) bool
    labelled: dict[int | None, np.ndarray]  # label count -> (N,) bool

    @classmethod
    def from_splits(cls, splits: dict) -> SeedData:
        """One seed's splits (``aelab.data.Split``) by label count: the same samples."""
        first = next(iter(splits.values()))
        labelled = {n: s.is_labelled for n, s in splits.items()}
        return cls(first.x, first.y, first.is_train, labelled)


def make_plan(
    config: RunConfig,
    n_inputs: int,
    n_classes: int,
    *,
    seeds: Sequence[int] | None = None,
    labels: Sequence[int | None] | None = None,
    recon_weights: Sequence[float] | None = None,
    learning_rates: Sequence[float] | None = None,
    noises: Sequence[str] = (),
    betas: Sequence[float] = (),
    pretrain: str = "always",
    input_shape: tuple[int, ...] = (),
) -> Plan:
    """The plan of ``config`` over a grid: ``seeds`` (groups), and as models of every group,
    label counts x pretraining settings (learning rate, noise of the config's kind, beta) x
    strategies x lambda (for strategies with a reconstruction term). Unset lists take the
    config's value. ``input_shape``: one sample's image or signal shape (``()`` for a
    table; the convolutional families need one). ``pretrain``: ``"always"`` (a run's figure
    and a sweep's CKA measure against it), ``"needed"`` (only when a strategy starts from it)
    or ``"only"`` (pretraining alone, no fine-tuning).
    """
    t = config.train
    seeds = (config.seed,) if seeds is None else tuple(seeds)
    labels = (config.data.labels,) if labels is None else tuple(labels)
    recon_weights = (t.recon_weight,) if recon_weights is None else tuple(recon_weights)
    learning_rates = (t.learning_rate,) if learning_rates is None else tuple(learning_rates)
    settings = list(itertools.product(learning_rates, noises or [None], betas or [None]))
    family = config.model.spec
    model_config = config.model
    if betas:  # the family's penalty computed with weight 1, each model scaling it
        model_config = dataclasses.replace(model_config, **{family.penalty_weight: 1.0})
    model = model_config.build(n_inputs, n_classes, input_shape)

    members = []
    strategies = [STRATEGIES[s] for s in config.strategies] if pretrain != "only" else []
    for n_labels, setting, strategy in itertools.product(labels, settings, strategies):
        lams = recon_weights if strategy.uses_recon else (None,)
        for lam in lams:
            index = settings.index(setting)
            start = index if strategy.from_pretrained else None
            members.append(
                Member(strategy.name, n_labels, *setting, 1.0, lam or 0.0, start, lam, index)
            )
    needed = pretrain != "needed" or any(m.start is not None for m in members)
    pre = None
    if needed:
        pre_members = tuple(
            Member(PRETRAINED, None, lr, noise, beta, 0.0, 1.0) for lr, noise, beta in settings
        )
        pre = Phase(PRETRAIN, 1, t.pretrain_steps, pre_members, t.pretraining == "greedy")
    fine = Phase(FINETUNE, 2, t.finetune_steps, tuple(members)) if members else None
    return Plan(config, model, seeds, pre, fine)


def check_batch_size(batch_size: int | None, n_train: int) -> None:
    """A minibatch must be smaller than the training part (the CLI's, the sweep's and the
    estimators' rule)."""
    if batch_size is not None and batch_size >= n_train:
        raise ConfigError(
            f"train.batch_size={batch_size} is not smaller than the {n_train:,} training "
            "samples; leave it unset to train on all of them at every step"
        )


class Diverged(TrainingError):
    """A loss stopped being finite; the last parameters known good come with the error:
    ``params`` (one per name of ``names``, leading axis) after ``step`` steps of ``phase``."""

    def __init__(
        self, message: str, phase: str, names: tuple[str, ...], params: Params, step: int
    ) -> None:
        super().__init__(message)
        self.phase, self.names, self.params, self.step = phase, names, params, step
        self.model: AbstractModel | None = None  # set by the run, with the data's info
        self.info: dict = {}


class Interrupted(Exception):  # noqa: N818 (a stop the caller asked for, not an error)
    """Training stopped between two chunks: the phase, its state, and the finished
    pretraining when fine-tuning was the phase stopped."""

    def __init__(self, phase: str, state: PhaseState, pretrain: PhaseResult | None) -> None:
        super().__init__(f"{phase} stopped after {state.done} steps")
        self.phase = phase
        self.state = state
        self.pretrain = pretrain
        self.fingerprint = ""  # of the data it trained on (set by the run)


@dataclass(frozen=True)
class Trained:
    """What :func:`train_plan` leaves: each phase's models, (S, members) each."""

    pretrain: PhaseResult | None
    finetune: PhaseResult | None
    seconds: dict[str, float]


def train_plan(
    plan: Plan,
    data: Sequence[SeedData],
    *,
    progress: ProgressFn | None = None,
    stop: Callable[[], bool] | None = None,
    resume: Interrupted | None = None,
    mesh: Mesh | None = None,
) -> Trained:
    """Train every phase of ``plan`` on ``data`` (one :class:`SeedData` per seed).

    ``stop`` is asked between chunks of steps; when it says True, :class:`Interrupted` is
    raised with the state reached, and ``resume=`` that state finishes the same training with
    the same numbers (greedy pretraining stops only at the end of its phase). With
    ``plan.stop_on_divergence``, a loss that stops being finite raises :class:`Diverged`;
    otherwise the result's ``diverged`` marks the model.
    """
    model = plan.model
    inits = [to_numpy(_init_fn(model)(jax.random.key(seed))) for seed in plan.seeds]
    seconds = {}
    t0 = time.perf_counter()
    pre = None
    if resume is not None and resume.phase == FINETUNE:
        pre = resume.pretrain
    elif plan.pretrain is not None:
        starts = [[init] * len(plan.pretrain.members) for init in inits]
        state = resume.state if resume is not None else None
        try:
            pre = _train_phase(plan, plan.pretrain, starts, data, progress, stop, state, mesh)
        except PhaseInterrupted as exc:
            raise Interrupted(PRETRAIN, exc.state, None) from None
    seconds[PRETRAIN] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fine = None
    if plan.finetune is not None:
        starts = [
            [
                init if m.start is None else model.with_head_of(
                    unstack(unstack(pre.params, s), m.start), init
                )  # the pretrained network, with the head every strategy starts from
                for m in plan.finetune.members
            ]
            for s, init in enumerate(inits)
        ]  # fmt: skip
        state = resume.state if resume is not None and resume.phase == FINETUNE else None
        try:
            fine = _train_phase(plan, plan.finetune, starts, data, progress, stop, state, mesh)
        except PhaseInterrupted as exc:
            raise Interrupted(FINETUNE, exc.state, pre) from None
    seconds[FINETUNE] = time.perf_counter() - t0
    return Trained(pre, fine, seconds)


@functools.cache
def _init_fn(model: AbstractModel) -> Callable:
    return jax.jit(model.init)


def _train_phase(
    plan: Plan,
    phase: Phase,
    starts: list[list[Params]],
    data: Sequence[SeedData],
    progress: ProgressFn | None,
    stop: Callable[[], bool] | None,
    resume: PhaseState | None,
    mesh: Mesh | None,
) -> PhaseResult:
    """One phase of every group: its models and their data, trained by the trainer; a loss
    that stops being finite is the plan's :class:`Diverged` (or only marks its model)."""
    models, batch, phase_keys = _inputs(plan, phase, starts, data)
    t = plan.config.train
    schedule = Schedule(
        steps=phase.steps, chunk=t.snapshot_every, batch_size=t.batch_size,
        sampling=t.sampling, snapshots=plan.snapshots, history=plan.history,
        stop_on_divergence=plan.stop_on_divergence,
    )  # fmt: skip
    layers = len(plan.config.model.hidden) + 1 if phase.greedy else 1
    on_progress = None
    if progress is not None:
        on_progress = lambda done: progress(phase.name, done, phase.steps * layers)  # noqa: E731
    kind = parse_noise(plan.config.model.noise)
    common = {"noise_kind": None if kind is None else kind.kind, "on_progress": on_progress}
    names = tuple(m.name for m in phase.members)
    hint = f"lower the learning rate ({plan.lr_setting}, now {t.learning_rate:g})"
    try:
        if phase.greedy:
            result = greedy_pretrain(
                plan.model, models, batch, schedule, phase_keys, **common, mesh=mesh
            )
        else:
            result = train_groups(
                plan.model, models, batch, schedule, **common, stop=stop, resume=resume, mesh=mesh
            )
    except PhaseDiverged as exc:
        if phase.greedy:  # a layer's weights alone make no checkpoint
            raise TrainingError(
                "training diverged: a layer's reconstruction stopped being a finite number in "
                f"greedy pretraining; {hint}"
            ) from None
        raise Diverged(
            f"training diverged: the loss of {names[exc.model_index]} stopped being a finite "
            f"number at step {exc.step} of {_TITLES[phase.name]}; {hint}",
            _TITLES[phase.name], names, unstack(exc.good_params, exc.group), exc.good_step,
        ) from None  # fmt: skip
    if plan.stop_on_divergence and result.diverged.any():
        _, k = np.argwhere(result.diverged)[0]
        raise TrainingError(
            f"training diverged: the loss of {names[k]} stopped being a finite number in its "
            f"last step of {_TITLES[phase.name]}; {hint}"
        )
    return result


def _inputs(
    plan: Plan, phase: Phase, starts: list[list[Params]], data: Sequence[SeedData]
) -> tuple[Models, Batch, list[jax.Array]]:
    """A phase's models (S groups of its members), their data and masks, and each group's
    key of the phase (``stream`` folded into the seed's key)."""
    members = phase.members
    phase_keys = [jax.random.fold_in(jax.random.key(seed), phase.stream) for seed in plan.seeds]
    # each member's stream: the phase's first for every pretraining member, else its own
    n_keys = 1 if phase.shared_stream else len(members)
    rows = [0 if phase.shared_stream else k for k in range(len(members))]
    keys = np.stack([split_keys(key, n_keys, rows) for key in phase_keys])
    kind = parse_noise(plan.config.model.noise)

    def per_model(values) -> np.ndarray:  # (S, K): one value per member, the same each seed
        return np.tile(np.asarray(values, np.float32), (len(data), 1))

    def level(m: Member) -> float:
        own = parse_noise(m.noise) if m.noise else None
        return own.level if own else (kind.level if kind else 0.0)

    end, span = decay(phase.steps, plan.config.train.lr_decay)
    models = Models(
        params=stack([stack(row) for row in starts]),
        weights=Weights(
            ce=per_model([m.ce_weight for m in members]),
            recon=per_model([m.recon_weight for m in members]),
            penalty=per_model([1.0 if m.beta is None else m.beta for m in members]),
            noise_level=per_model([level(m) for m in members]),
            decay_end=per_model([end] * len(members)),
            decay_span=per_model([span] * len(members)),
        ),
        learning_rate=per_model([m.learning_rate for m in members]),
        keys=jax.random.wrap_key_data(keys),
        order_keys=key_stack([jax.random.fold_in(k, ORDER_STREAM) for k in phase_keys]),
    )
    # pretraining never sees a label: its minibatches are drawn from the training rows
    labelled = [
        [d.is_train if phase.name == PRETRAIN else d.labelled[m.labels] for m in members]
        for d in data
    ]
    batch = Batch(
        data[0].x[None] if len(data) == 1 else np.stack([d.x for d in data]),
        np.stack([d.y for d in data]).astype(np.int32),
        np.stack([[d.is_train] * len(members) for d in data]).astype(np.float32),
        np.asarray(labelled, np.float32),
    )
    return models, batch, phase_keys

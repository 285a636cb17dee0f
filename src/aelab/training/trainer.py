"""The one trainer: a phase of S groups of K models, chunk by chunk.

Steps run inside the compiled program (:mod:`aelab.training.program`) in chunks; between
chunks, and only there, Python looks: it keeps every sample's code (snapshots), checks that
every loss is still a number, moves the progress bar and asks whether to stop. A run is one
group, a sweep's slice one group a seed, an estimator one group of one model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from aelab.models import AbstractModel, Params
from aelab.training.feeding import Batch, Feed, HostFeed, pad_rows
from aelab.training.inference import encode_batched
from aelab.training.keys import ORDER_STREAM, key_stack, split_keys
from aelab.training.parallel import Mesh, host, padded, place, place_tree
from aelab.training.program import Weights, chunk_program, init_optimizers
from aelab.training.trees import to_numpy, unstack


@dataclass(frozen=True)
class Models:
    """S groups of K models at the start of a phase: their parameters and own numbers."""

    params: Params  # leaves (S, K, ...)
    weights: Weights  # (S, K) each
    learning_rate: np.ndarray  # (S, K)
    keys: jax.Array  # (S, K): each model's random stream (noise, dropout, draws)
    order_keys: jax.Array  # (S,): each group's stream of epoch orders


@dataclass(frozen=True)
class Schedule:
    """How a phase runs.

    Attributes:
        steps: training steps.
        chunk: steps between two looks from Python (snapshot, progress, stop, divergence).
        batch_size, sampling: minibatches (:class:`~aelab.training.feeding.Feed`).
        snapshots: keep every sample's code after every chunk (and before the first).
        history: keep every step's losses; else only the last step's.
        stop_on_divergence: a loss that stops being finite stops the phase
            (:class:`PhaseDiverged`); else the phase goes on and marks the model.
    """

    steps: int
    chunk: int
    batch_size: int | None = None
    sampling: str = "epochs"
    snapshots: bool = True
    history: bool = True
    stop_on_divergence: bool = True


@dataclass(frozen=True)
class PhaseResult:
    """What a phase leaves: final parameters and the path that led there.

    The leading axes are the phase's models: (S, K) for groups, or (K,) for :meth:`group`.
    """

    params: Params
    history: np.ndarray  # (..., steps, 4): HISTORY_FIELDS at every step (or the last one)
    snapshots: np.ndarray  # (T, ..., N, code): every sample's code at snapshot_steps
    snapshot_steps: np.ndarray  # (T,) step counts, 0 first, the last step last
    diverged: np.ndarray  # (...) bool: a loss, parameter or code stopped being finite

    def group(self, s: int) -> PhaseResult:
        """Group ``s``'s models alone (leading axis K)."""
        return PhaseResult(
            params=jax.tree.map(lambda a: a[s], self.params),
            history=self.history[s],
            snapshots=self.snapshots[:, s],
            snapshot_steps=self.snapshot_steps,
            diverged=self.diverged[s],
        )


@dataclass(frozen=True)
class PhaseState:
    """A phase stopped between two chunks: everything needed to go on exactly as if it had
    not stopped (host arrays, so it can be saved). Leading axes (S, K)."""

    done: int  # steps finished
    params: Params
    opt_state: list[np.ndarray]  # the optimiser state's leaves, in tree order
    keys: np.ndarray  # key data of every model's random stream
    history: np.ndarray  # (S, K, done, 4)
    snapshots: np.ndarray  # (T, S, K, N, code) so far
    snapshot_steps: np.ndarray  # (T,)


class PhaseDiverged(Exception):  # noqa: N818 (the caller words the error)
    """A loss stopped being finite: the phase stopped at the chunk where it happened. Model
    ``model_index`` of group ``group``, at ``step``; ``good_params`` (S, K) are the last
    parameters known to give finite losses, after ``good_step`` steps."""

    def __init__(
        self, group: int, model_index: int, step: int, good_params: Params, good_step: int
    ) -> None:
        super().__init__(f"model {model_index} of group {group} diverged at step {step}")
        self.group, self.model_index, self.step = group, model_index, step
        self.good_params, self.good_step = good_params, good_step


class PhaseInterrupted(Exception):  # noqa: N818 (a stop the caller asked for, not an error)
    """Raised when ``stop()`` says so after a chunk; ``state`` resumes the phase."""

    def __init__(self, state: PhaseState) -> None:
        super().__init__(f"stopped after {state.done} steps")
        self.state = state


def _nonfinite(tree, axes: int) -> np.ndarray:
    """Which models (the first ``axes`` axes) have a leaf that is not finite everywhere."""
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]
    shape = leaves[0].shape[:axes]
    bad = np.zeros(shape, bool)
    for leaf in leaves:
        bad |= ~np.isfinite(leaf.reshape(*shape, -1)).all(axis=-1)
    return bad


def _first_bad(parts: np.ndarray, done: int) -> tuple[int, int, int] | None:
    """``(group, model, step)`` of the earliest loss that is not finite in a chunk's
    ``parts`` (S, K, n, 4), or ``None``."""
    finite = np.isfinite(parts[..., 0])
    if finite.all():
        return None
    n = finite.shape[-1]
    first = np.where(finite.all(axis=-1), n, (~finite).argmax(axis=-1))  # (S, K)
    s, k = np.unravel_index(int(first.argmin()), first.shape)
    return int(s), int(k), done + int(first[s, k]) + 1


def _pool(batch: Batch, shared: bool) -> Batch:
    """The labelled rows a program streaming from disk keeps on the device (one group); one
    row when every training sample is labelled (the read rows then serve both terms)."""
    masks = np.asarray(batch.label_mask)
    if not (masks == masks[:, :1]).all():
        raise ValueError("the models of a group streamed from disk share their labelled rows")
    labelled = np.flatnonzero(masks[0, 0] > 0)[: 1 if shared else None]
    k = batch.recon_mask.shape[1]
    ones = np.ones((1, k, len(labelled)), np.float32)
    x = np.asarray(batch.x[0][labelled], np.float32)[None]
    return Batch(x, np.asarray(batch.y)[:, labelled], ones, ones)


def train_groups(
    model: AbstractModel,
    models: Models,
    batch: Batch,
    schedule: Schedule,
    *,
    noise_kind: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    resume: PhaseState | None = None,
    mesh: Mesh | None = None,
) -> PhaseResult:
    """Train S groups of K models with Adam for ``schedule.steps`` steps.

    ``batch`` holds each group's data, ``x`` (S, N, D) (a memory-mapped array of one group
    is read from disk a stretch at a time) and ``y`` (S, N), and each model's masks (S, K, N).

    Args:
        noise_kind: the kind of input noise of the reconstruction term (a denoising
            autoencoder); each model's level is its ``weights.noise_level``.
        on_progress: called with the number of steps finished after every chunk.
        stop: asked after every chunk (it may raise to stop at once); True before the last
            raises :class:`PhaseInterrupted` with a state that ``resume=`` finishes exactly.
        mesh: train over its devices: one group data-parallel (the parameters on every
            device, each step's samples split over them), or several groups spread over them.
            The numbers equal one device's up to the order of float sums.
    """
    run = _Training(model, models, batch, schedule, noise_kind, resume, mesh)
    good = (run.params, run.done)  # parameters whose every loss so far was finite, and when
    while run.done < schedule.steps:
        before, start = run.params, run.done
        parts = run.chunk()
        bad = _first_bad(parts, start)
        if bad is not None and schedule.stop_on_divergence:  # stop, keeping good weights
            if np.isfinite(parts[..., 0, 0]).all():  # the chunk started from good ones
                good = (before, start)
            raise PhaseDiverged(*bad, run.trimmed(good[0]), good[1])
        good = (before, start)
        if on_progress is not None:
            on_progress(run.done)  # the losses are on the host: the work is finished, not queued
        if stop is not None and stop() and run.done < schedule.steps:  # asked after every chunk
            raise PhaseInterrupted(run.state())
    return run.result()


class _Training:
    """A phase on its way: its models' state between two chunks, on the devices it trains on."""

    def __init__(self, model, models: Models, batch: Batch, schedule: Schedule, noise_kind,
                 resume: PhaseState | None, mesh: Mesh | None) -> None:  # fmt: skip
        self.model, self.schedule, self.noise_kind = model, schedule, noise_kind
        self.n_groups, n_models = models.learning_rate.shape
        self.n_samples = batch.x.shape[-2]
        shared = schedule.batch_size is None or bool(
            np.array_equal(np.asarray(batch.recon_mask), np.asarray(batch.label_mask))
        )
        streamed = isinstance(batch.x, np.memmap)
        self.feed = Feed(schedule.batch_size, schedule.sampling, shared, streamed)
        if streamed and not self.feed.epochs:
            raise ValueError("data on disk trains in minibatches of shuffled epochs")
        self.params, self.keys = models.params, models.keys
        self.opt_state = init_optimizers()(
            self.params, np.asarray(models.learning_rate, np.float32)
        )
        self.done, self.parts, self.snapshots, self.steps_at = 0, [], [], [0]
        if resume is not None:
            self._resume(resume)
        elif schedule.snapshots:
            self.snapshots = [_codes(model, self.params, batch.x)]
        self.host_feed = HostFeed(
            self.feed, batch, models.order_keys, mesh, self.done, schedule.steps, schedule.chunk
        )
        self.batch = _pool(batch, shared) if streamed else batch
        self.weights, self.mesh, self.group_mesh = models.weights, mesh, None
        if mesh is not None:
            self._place(mesh)
        self.diverged = np.zeros((self.n_groups, n_models), bool)

    def _resume(self, state: PhaseState) -> None:
        self.params, self.done = state.params, state.done
        self.opt_state = jax.tree.unflatten(jax.tree.structure(self.opt_state), state.opt_state)
        self.keys = jax.random.wrap_key_data(state.keys, impl=jax.random.key_impl(self.keys))
        self.parts = [state.history]
        self.snapshots, self.steps_at = list(state.snapshots), list(state.snapshot_steps)

    def _place(self, mesh: Mesh) -> None:
        """Put everything on the mesh: one group's samples split over it (data parallel), or
        the groups spread over it."""
        state = (to_numpy(self.params), self.opt_state, self.keys, self.weights)
        if self.n_groups > 1:
            self.group_mesh = mesh
            grown = _grown((*state, self.batch), mesh, self.n_groups)
            self.params, self.opt_state, self.keys, self.weights, self.batch = place_tree(
                grown, mesh, 0
            )
            self.mesh = None  # the program itself shards nothing
            return
        batch = self.batch
        if self.feed.batch_size is None:  # the full batch's rows split over the devices
            batch = pad_rows(batch, padded(self.n_samples, mesh))
            self.batch = Batch(*(place(np.asarray(a), mesh, axis) for a, axis in zip(
                (batch.x, batch.y, batch.recon_mask, batch.label_mask), (1, 1, 2, 2),
                strict=True)))  # fmt: skip
        else:  # each minibatch is split in the program
            self.batch = place_tree(batch, mesh, None)
        self.params, self.opt_state, self.keys, self.weights = place_tree(state, mesh, None)

    def chunk(self) -> np.ndarray:
        """Train the next chunk; keep its losses, codes and marks; return its losses (S, K,
        n, 4) on the host."""
        n = min(self.schedule.chunk, self.schedule.steps - self.done)
        pieces, codes = [], None
        for count, rows in self.host_feed.pieces(self.done, n):
            # One program of a whole chunk's length (a shorter last chunk leaves the rest of
            # it idle), or from disk of a whole read's (a shorter read comes padded).
            length = rows[0].shape[1] if self.feed.streamed else self.schedule.chunk
            if not self.feed.streamed and rows is not None and length > count:
                rows = np.pad(rows, [(0, 0), (0, length - count), (0, 0)])
            if self.group_mesh is not None and rows is not None:
                rows = place(_grown(rows, self.group_mesh, self.n_groups), self.group_mesh, 0)
            program = chunk_program(
                self.model, length, self.noise_kind, self.feed, self.mesh, self.schedule.snapshots
            )
            self.params, self.opt_state, self.keys, piece, codes = program(
                self.params, self.opt_state, self.keys, self.weights, self.batch, rows,
                np.int32(count),
            )  # fmt: skip
            pieces.append(host(piece)[: self.n_groups, :, :count])
        parts = np.concatenate(pieces, axis=2)
        self.done += n
        self.diverged |= ~np.isfinite(parts[..., 0]).all(axis=-1)
        self.parts.append(parts if self.schedule.history else parts[:, :, -1:])
        if self.schedule.snapshots:
            if self.feed.streamed:
                codes = _codes(self.model, self.params, self.host_feed.reader.x[None])
            self.snapshots.append(host(codes)[: self.n_groups, :, : self.n_samples])
            self.steps_at.append(self.done)
        return parts

    def trimmed(self, params: Params) -> Params:
        """Parameters on the host, without the groups added to fill a mesh."""
        return jax.tree.map(lambda a: host(a)[: self.n_groups], params)

    def _kept(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """History, snapshots and their steps so far (empty ones when not kept)."""
        shape = (*self.diverged.shape, 0, 4)
        history = np.concatenate(self.parts, axis=2) if self.parts else np.zeros(shape)
        if not self.schedule.snapshots:
            return history, np.zeros((0, *shape[:2])), np.zeros(0, int)
        return history, np.stack(self.snapshots), np.asarray(self.steps_at)

    def state(self) -> PhaseState:
        history, snapshots, steps = self._kept()
        return PhaseState(
            done=self.done,
            params=self.trimmed(self.params),
            opt_state=[host(leaf)[: self.n_groups] for leaf in jax.tree.leaves(self.opt_state)],
            keys=host(jax.random.key_data(self.keys))[: self.n_groups],
            history=history,
            snapshots=snapshots,
            snapshot_steps=steps,
        )

    def result(self) -> PhaseResult:
        params = self.trimmed(self.params)
        history, snapshots, steps = self._kept()
        diverged = self.diverged | _nonfinite(params, 2)
        if len(snapshots):
            diverged |= ~np.isfinite(snapshots[-1]).all(axis=(-2, -1))
        return PhaseResult(params, history, snapshots, steps, diverged)


def _codes(model: AbstractModel, params: Params, x: np.ndarray) -> np.ndarray:
    """Every sample's code (S, K, N, code) of each group's models on its own data."""
    return np.stack([encode_batched(model, unstack(params, s), x[s]) for s in range(len(x))])


def _grown(tree, mesh: Mesh, n_groups: int):
    """``tree`` with copies of its first group added until the groups fill ``mesh`` evenly
    (they are independent: the copies' results are dropped)."""
    fill = padded(n_groups, mesh) - n_groups

    def grow(a):
        if fill == 0:
            return a
        if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            return jax.numpy.concatenate([a, jax.numpy.repeat(a[:1], fill, 0)])
        a = np.asarray(a)
        return np.concatenate([a, np.repeat(a[:1], fill, 0)])

    return jax.tree.map(grow, tree)


def train_phase(
    model: AbstractModel,
    params: Params,
    batch: Batch,
    *,
    ce_weight: np.ndarray,
    recon_weight: np.ndarray,
    learning_rate: float,
    steps: int,
    snapshot_every: int,
    key: jax.Array | None = None,
    noise=None,
    batch_size: int | None = None,
    sampling: str = "epochs",
    on_progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    resume: PhaseState | None = None,
    mesh: Mesh | None = None,
) -> PhaseResult:
    """Train M models (leading axis of ``params``) on one ``batch`` (``x`` (N, D), masks (N,))
    at a constant learning rate: :func:`train_groups` with one group, for tests and benchmarks
    (runs, sweeps and estimators go through :mod:`aelab.training.plan`). ``ce_weight``,
    ``recon_weight`` (M,) weigh each model's loss terms; ``key`` gives each model a random
    stream (split from it) and the group its epoch order (folded from it); ``noise`` is a
    :class:`~aelab.config.Noise`. The result has leading axis M."""
    ce_weight = np.asarray(ce_weight, np.float32)
    m = len(ce_weight)
    key = jax.random.key(0) if key is None else key
    ones = np.ones((1, m), np.float32)
    models = Models(
        params=jax.tree.map(lambda a: np.asarray(a)[None], params),
        weights=Weights(
            ce=ce_weight[None],
            recon=np.asarray(recon_weight, np.float32)[None],
            penalty=ones,
            noise_level=ones * (0.0 if noise is None else noise.level),
            decay_end=ones * np.inf,  # never: a constant learning rate
            decay_span=ones,
        ),  # fmt: skip
        learning_rate=ones * np.float32(learning_rate),
        keys=jax.random.wrap_key_data(split_keys(key, m, list(range(m)))[None]),
        order_keys=key_stack([jax.random.fold_in(key, ORDER_STREAM)]),
    )
    shape = (1, m, len(batch.y))  # every model sees the batch's masks
    masks = np.broadcast_to(np.asarray(batch.recon_mask, np.float32), shape)
    labels = np.broadcast_to(np.asarray(batch.label_mask, np.float32), shape)
    x = batch.x[None] if isinstance(batch.x, np.memmap) else np.asarray(batch.x)[None]
    grouped = Batch(x, np.asarray(batch.y)[None], masks, labels)
    schedule = Schedule(steps, snapshot_every, batch_size, sampling)
    result = train_groups(
        model, models, grouped, schedule, noise_kind=None if noise is None else noise.kind,
        on_progress=on_progress, stop=stop, resume=resume, mesh=mesh,
    )  # fmt: skip
    return result.group(0)

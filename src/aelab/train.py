"""Compiled, vectorised training: many models, one program, no Python in the step.

One training phase minimises ``ce_weight * cross-entropy + recon_weight * reconstruction error``
for a batch of M models at once (``jax.vmap``); pretraining is the phase with ``ce_weight = 0``,
and each fine-tuning strategy is one model of the batch with its own weights. Steps run inside
``jax.jit(lax.scan)`` in chunks of ``snapshot_every`` steps; between chunks, and only there,
Python records every sample's code and moves the progress bar.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from aelab.corruption import Noise, corrupt
from aelab.losses import cross_entropy, masked_mean, reconstruction_error
from aelab.models import Model, Params

HISTORY_FIELDS = ("loss", "cross_entropy", "reconstruction", "penalty")


@dataclass(frozen=True)
class Batch:
    """The whole dataset as one full batch, with the masks that pick what each loss sees."""

    x: jax.Array  # (N, D)
    y: jax.Array  # (N,) int
    recon_mask: jax.Array  # (N,) float, samples in the reconstruction term
    label_mask: jax.Array  # (N,) float, samples in the cross-entropy

    @classmethod
    def from_split(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        is_train: np.ndarray,
        is_labelled: np.ndarray | None = None,
    ) -> Batch:
        """All samples; the reconstruction sees the training samples (``is_train``), the
        cross-entropy the labelled ones (``is_labelled``, all training samples by default)."""
        recon = jnp.asarray(is_train, jnp.float32)
        labels = recon if is_labelled is None else jnp.asarray(is_labelled, jnp.float32)
        return cls(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32), recon, labels)


jax.tree_util.register_dataclass(
    Batch, data_fields=["x", "y", "recon_mask", "label_mask"], meta_fields=[]
)


def draw_minibatch(key: jax.Array, batch: Batch, size: int, shared: bool) -> Batch:
    """A random minibatch of ``batch``, drawn with replacement inside the compiled step.

    ``size`` samples come from the reconstruction rows; unless ``shared`` (every training
    sample is labelled, so one draw serves both terms), ``size`` more come from the labelled
    rows and only they enter the cross-entropy, as in the ladder network's training. Drawing
    through the masks keeps the shapes fixed, so models whose masks differ share one program.
    """
    k_recon, k_label = jax.random.split(key)
    n = batch.x.shape[0]
    idx = jax.random.choice(k_recon, n, (size,), p=batch.recon_mask)
    ones = jnp.ones(size, jnp.float32)
    if shared:
        return Batch(batch.x[idx], batch.y[idx], ones, ones)
    labelled = jax.random.choice(k_label, n, (size,), p=batch.label_mask)
    idx = jnp.concatenate([idx, labelled])
    zeros = jnp.zeros(size, jnp.float32)
    return Batch(
        batch.x[idx],
        batch.y[idx],
        jnp.concatenate([ones, zeros]),
        jnp.concatenate([zeros, ones]),
    )


@dataclass(frozen=True)
class PhaseResult:
    """What a phase leaves: final parameters and the path that led there (M models)."""

    params: Params  # every leaf has a leading axis M
    history: np.ndarray  # (M, steps, 4): HISTORY_FIELDS at every step, before the update
    snapshots: np.ndarray  # (T, M, N, code): every sample's code at snapshot_steps
    snapshot_steps: np.ndarray  # (T,) step counts, 0 first, the last step last


def objective(
    model: Model,
    params: Params,
    batch: Batch,
    key: jax.Array,
    ce_weight: jax.Array,
    recon_weight: jax.Array,
    noise: Noise | None = None,
    penalty_weight: jax.Array | None = None,
) -> tuple[jax.Array, tuple[jax.Array, Params | None]]:
    """The phase's loss of one model, its parts ``(loss, ce, recon, penalty)``, and the
    running statistics of batch norm after this step (``None`` without batch norm).

    ``penalty_weight`` scales the family's penalty (a sweep's per-model β of a VAE built
    with β = 1); ``None`` leaves it as the model computes it.

    The cross-entropy sees the clean input; with ``noise``, the reconstruction term sees a
    corrupted input and is scored against the clean one (a denoising autoencoder). ``key``
    drives the noise and the model's dropout; nothing random is drawn when neither is set.
    """
    k_noise, k_clean, k_noisy = jax.random.split(key, 3)  # unused ones are compiled away
    # The samples this model may learn from: all training samples when it reconstructs, only
    # the labelled ones when it does not (batch statistics and noise see nothing more).
    rows = jnp.where(recon_weight > 0, batch.recon_mask, batch.label_mask)
    (_, x_hat, logits, penalty), stats = model.train_forward(params, batch.x, k_clean, rows)
    if noise is not None:
        noisy = corrupt(k_noise, batch.x, noise, rows)
        (_, x_hat, _, penalty), _ = model.train_forward(params, noisy, k_noisy, rows)
    recon = reconstruction_error(batch.x, x_hat, batch.recon_mask)
    penalty = masked_mean(penalty, batch.recon_mask)
    if penalty_weight is not None:
        penalty = penalty_weight * penalty
    ce = cross_entropy(logits, batch.y, batch.label_mask)
    loss = ce_weight * ce + recon_weight * (recon + penalty)
    return loss, (jnp.stack([loss, ce, recon, penalty]), stats)


def _optimizer(learning_rate: float | jax.Array) -> optax.GradientTransformation:
    # The learning rate lives in the optimiser state, so models of one batch may differ in it.
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)


@functools.cache
def _chunk_fn(
    model: Model,
    n_steps: int,
    noise: Noise | None,
    batch_size: int | None = None,
    shared: bool = True,
    grouped: bool = False,
) -> Callable:
    """A compiled function running ``n_steps`` steps of M models; cached per shape.

    ``batch_size`` ``None`` trains full-batch; otherwise every step draws a minibatch
    (:func:`draw_minibatch`). ``grouped``: S groups of K models (leading axes (S, K)), each
    group with its own data (``x`` (S, N, D), ``y`` (S, N)) and each model with its own masks
    (S, K, N); a group's data is shared by its models, never copied.
    """

    # A deterministic full-batch model with no input noise draws nothing: leave the key
    # alone, so the step compiles and runs without random-number kernels.
    random = noise is not None or model.uses_randomness or batch_size is not None

    def one_model(
        params, opt_state, key, ce_weight, recon_weight, batch, noise_level=None, beta=None
    ):
        # A sweep's models carry their own noise level and β (arrays); a run's are static.
        noise_here = (
            noise if noise is None or noise_level is None else Noise(noise.kind, noise_level)
        )
        opt = _optimizer(opt_state.hyperparams["learning_rate"])
        grad_fn = jax.value_and_grad(objective, argnums=1, has_aux=True)

        def step(carry, _):
            params, opt_state, key = carry
            key, step_key = jax.random.split(key) if random else (key, key)
            seen = batch
            if batch_size is not None:
                step_key, draw_key = jax.random.split(step_key)
                seen = draw_minibatch(draw_key, batch, batch_size, shared)
            (_, (parts, stats)), grads = grad_fn(
                model, params, seen, step_key, ce_weight, recon_weight, noise_here, beta
            )
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            if stats is not None:  # running statistics are replaced, never trained
                params = {**params, "stats": stats}
            return (params, opt_state, key), parts

        (params, opt_state, key), parts = jax.lax.scan(
            step, (params, opt_state, key), length=n_steps
        )
        # A sweep's groups keep no snapshots: only a run pays for every sample's code.
        codes = None if grouped else model.encode(params, batch.x)
        return params, opt_state, key, parts, codes

    if not grouped:
        return jax.jit(jax.vmap(one_model, in_axes=(0, 0, 0, 0, 0, None)))
    own_masks = Batch(None, None, 0, 0)  # type: ignore[arg-type]  # in_axes, not data
    in_group = jax.vmap(one_model, in_axes=(0, 0, 0, 0, 0, own_masks, 0, 0))
    return jax.jit(jax.vmap(in_group, in_axes=(0, 0, 0, 0, 0, 0, 0, 0)))


@functools.cache
def _apply_fn(model: Model) -> Callable:
    return jax.jit(jax.vmap(model.apply, in_axes=(0, None)))


@functools.cache
def _opt_init_fn() -> Callable:
    return jax.jit(jax.vmap(lambda params, lr: _optimizer(lr).init(params)))


def train_groups(
    model: Model,
    params: Params,
    batch: Batch,
    *,
    ce_weight: np.ndarray,
    recon_weight: np.ndarray,
    learning_rate: np.ndarray,
    steps: int,
    keys: jax.Array,
    chunk: int | None = None,
    noise: Noise | None = None,
    noise_level: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    batch_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[Params, np.ndarray]:
    """Train S groups of K models at once: a sweep's slice in one compiled program.

    Every leaf of ``params`` and ``keys`` has leading axes (S, K); ``ce_weight``,
    ``recon_weight`` and ``learning_rate`` are (S, K), and so are ``noise_level`` (each
    model's level of ``noise``'s kind; ``noise.level`` by default) and ``beta`` (each model's
    weight of the family's penalty; 1 by default). ``batch`` holds each group's data,
    ``x`` (S, N, D) and ``y`` (S, N), and each model's masks (S, K, N). Steps run in chunks of
    ``chunk`` (all at once by default); ``on_progress`` hears after each. Returns the final
    parameters and the last step's ``HISTORY_FIELDS`` (S, K, 4).
    """
    lr = np.asarray(learning_rate, np.float32)
    flat = jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), params)
    opt_state = jax.tree.map(
        lambda a: a.reshape(*lr.shape, *a.shape[1:]), _opt_init_fn()(flat, lr.reshape(-1))
    )
    shared = batch_size is None or bool(
        np.array_equal(np.asarray(batch.recon_mask), np.asarray(batch.label_mask))
    )
    ce = np.asarray(ce_weight, np.float32)
    recon = np.asarray(recon_weight, np.float32)
    level = np.full(lr.shape, 0.0 if noise is None else noise.level, np.float32)
    if noise_level is not None:
        level = np.asarray(noise_level, np.float32)
    weight = np.ones(lr.shape, np.float32) if beta is None else np.asarray(beta, np.float32)
    done, last = 0, None
    chunk = steps if chunk is None else chunk
    while done < steps:
        n = min(chunk, steps - done)
        run_chunk = _chunk_fn(model, n, noise, batch_size, shared, grouped=True)
        params, opt_state, keys, parts, _ = run_chunk(
            params, opt_state, keys, ce, recon, batch, level, weight
        )
        done += n
        last = parts[:, :, -1]
        if on_progress is not None:
            jax.block_until_ready(last)
            on_progress(done)
    return to_numpy(params), np.asarray(last)


def to_numpy(tree: Params) -> Params:
    """The same pytree with NumPy leaves (host memory), e.g. to slice or save it cheaply."""
    return jax.tree.map(np.asarray, tree)


def stack(trees: list[Params]) -> Params:
    """Stack parameter pytrees along a new leading axis: a batch of models."""
    return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


def unstack(tree: Params, i: int) -> Params:
    """Model ``i`` of a batch of models."""
    return jax.tree.map(lambda a: a[i], tree)


def apply_batched(
    model: Model, params: Params, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, reconstructions, logits)`` of M models (leading axis of ``params``) on ``x``."""
    return tuple(np.asarray(a) for a in _apply_fn(model)(params, x))


@dataclass(frozen=True)
class PhaseState:
    """A phase stopped between two chunks: everything needed to go on exactly as if it had
    not stopped (host arrays, so it can be saved)."""

    done: int  # steps finished
    params: Params  # (M, ...) leaves
    opt_state: list[np.ndarray]  # the optimiser state's leaves, in tree order
    keys: np.ndarray  # (M, ...) key data of every model's random stream
    history: np.ndarray  # (M, done, 4)
    snapshots: np.ndarray  # (T, M, N, code) so far
    snapshot_steps: np.ndarray  # (T,)


class PhaseDiverged(Exception):  # noqa: N818 (the caller words the error)
    """Raised by :func:`train_phase` when a loss stops being finite: training stops at the
    chunk where it happened, and the last parameters known good are kept."""

    def __init__(self, model_index: int, step: int, good_params: Params, good_step: int) -> None:
        super().__init__(f"model {model_index} diverged at step {step}")
        self.model_index, self.step = model_index, step
        self.good_params, self.good_step = good_params, good_step


class PhaseInterrupted(Exception):  # noqa: N818 (a stop the caller asked for, not an error)
    """Raised by :func:`train_phase` when ``stop()`` says so after a chunk."""

    def __init__(self, state: PhaseState) -> None:
        super().__init__(f"stopped after {state.done} steps")
        self.state = state


def train_phase(
    model: Model,
    params: Params,
    batch: Batch,
    *,
    ce_weight: np.ndarray,
    recon_weight: np.ndarray,
    learning_rate: float,
    steps: int,
    snapshot_every: int,
    key: jax.Array | None = None,
    noise: Noise | None = None,
    batch_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    resume: PhaseState | None = None,
) -> PhaseResult:
    """Train M models (leading axis of ``params``) with Adam for ``steps`` steps.

    Args:
        ce_weight, recon_weight: (M,) weights of the two loss terms, one pair per model.
        key: randomness of input noise, dropout and minibatches, split into one stream per
            model; only needed when one of them is used.
        noise: input corruption of the reconstruction term (a denoising autoencoder).
        batch_size: ``None`` trains on the whole batch every step; a number draws that many
            samples a step (and as many labelled ones when not every sample is labelled), so
            the history then holds minibatch losses.
        on_progress: called with the number of steps finished after every chunk.
        stop: asked after every chunk; when it says True, the phase raises
            :class:`PhaseInterrupted` with its state.
        resume: a state from :class:`PhaseInterrupted`: go on from there (``params`` and
            ``key`` are then only templates); the result equals an uninterrupted phase's.
    """
    ce_weight = np.asarray(ce_weight, np.float32)
    recon_weight = np.asarray(recon_weight, np.float32)
    lr = np.full(ce_weight.shape, learning_rate, np.float32)
    opt_state = _opt_init_fn()(params, lr)
    keys = jax.random.split(jax.random.key(0) if key is None else key, len(lr))
    if resume is not None:
        params = resume.params
        opt_state = jax.tree.unflatten(jax.tree.structure(opt_state), resume.opt_state)
        keys = jax.random.wrap_key_data(resume.keys, impl=jax.random.key_impl(keys))
    # One draw serves both loss terms when every training sample is labelled.
    shared = batch_size is None or bool(
        np.array_equal(np.asarray(batch.recon_mask), np.asarray(batch.label_mask))
    )

    snapshots = [apply_batched(model, params, batch.x)[0]]
    steps_at = [0]
    parts = []
    done = 0
    if resume is not None:
        snapshots, steps_at = list(resume.snapshots), list(resume.snapshot_steps)
        parts, done = [resume.history], resume.done
    good = (params, done)  # parameters whose every loss so far was finite, and their step
    while done < steps:
        n = min(snapshot_every, steps - done)
        run_chunk = _chunk_fn(model, n, noise, batch_size, shared)
        before = params
        params, opt_state, keys, chunk_parts, codes = run_chunk(
            params, opt_state, keys, ce_weight, recon_weight, batch
        )
        finite = np.isfinite(np.asarray(chunk_parts)[..., 0])  # (M, n)
        if not finite.all():  # stop at once, keeping the last weights known good
            first = np.where(finite.all(axis=1), n, (~finite).argmax(axis=1))
            i = int(first.argmin())
            if finite[:, 0].all():  # this chunk's starting weights gave finite losses
                good = (before, done)
            raise PhaseDiverged(i, done + int(first[i]) + 1, to_numpy(good[0]), good[1])
        good = (before, done)
        done += n
        parts.append(chunk_parts)
        snapshots.append(codes)
        steps_at.append(done)
        if on_progress is not None:
            jax.block_until_ready(codes)  # so the bar shows finished work, not queued work
            on_progress(done)
        if stop is not None and done < steps and stop():
            raise PhaseInterrupted(
                PhaseState(
                    done=done,
                    params=to_numpy(params),
                    opt_state=[np.asarray(leaf) for leaf in jax.tree.leaves(opt_state)],
                    keys=np.asarray(jax.random.key_data(keys)),
                    history=np.concatenate([np.asarray(p) for p in parts], axis=1),
                    snapshots=np.stack([np.asarray(s) for s in snapshots]),
                    snapshot_steps=np.asarray(steps_at),
                )
            )
    return PhaseResult(
        params=to_numpy(params),
        history=np.concatenate([np.asarray(p) for p in parts], axis=1),
        snapshots=np.stack([np.asarray(s) for s in snapshots]),
        snapshot_steps=np.asarray(steps_at),
    )

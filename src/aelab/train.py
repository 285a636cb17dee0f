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
from jax.sharding import NamedSharding, PartitionSpec

from aelab.corruption import Noise, corrupt
from aelab.losses import cross_entropy, masked_mean, reconstruction_error
from aelab.models import Model, Params
from aelab.parallel import AXIS, Mesh, constrain, host, padded, place_tree

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
        cross-entropy the labelled ones (``is_labelled``, all training samples by default).
        A memory-mapped ``x`` (a ``.npy`` file) stays where it is: :func:`train_phase` then
        reads each chunk's minibatches from it."""
        recon = jnp.asarray(is_train, jnp.float32)
        labels = recon if is_labelled is None else jnp.asarray(is_labelled, jnp.float32)
        if isinstance(x, np.memmap):  # stays on disk: training reads it chunk by chunk
            return cls(x, np.asarray(y, np.int32), np.asarray(recon), np.asarray(labels))
        return cls(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32), recon, labels)


jax.tree_util.register_dataclass(
    Batch, data_fields=["x", "y", "recon_mask", "label_mask"], meta_fields=[]
)


SAMPLINGS = ("epochs", "draws")
ORDER_STREAM = 0x5EED  # folded into a model's first key: the stream of its epochs' orders


def epoch_order(
    key: jax.Array, mask: jax.Array, n_rows: int, batch_size: int, start: jax.Array, steps: int
) -> jax.Array:
    """The rows of minibatches ``start .. start + steps - 1``, shape ``(steps, batch_size)``.

    Every epoch is a fresh permutation of the ``n_rows`` rows where ``mask`` is set, cut into
    ``n_rows // batch_size`` minibatches (each epoch leaves out a different remainder, as a
    shuffling loader that drops the last batch). Epoch ``e``'s permutation depends only on
    ``key`` and ``e``, so a phase resumed at any step sees the same minibatches.
    """
    per_epoch = n_rows // batch_size
    rows = jnp.nonzero(mask > 0, size=n_rows)[0]
    first = start // per_epoch
    count = -(-steps // per_epoch) + 1  # epochs a run of ``steps`` steps can touch

    def permutation(epoch):
        shuffled = jax.random.permutation(jax.random.fold_in(key, epoch), rows)
        return shuffled[: per_epoch * batch_size]

    order = jax.vmap(permutation)(first + jnp.arange(count)).reshape(-1, batch_size)
    return jax.lax.dynamic_slice_in_dim(order, start - first * per_epoch, steps)


class EpochOrder:
    """Shuffled epochs of the rows where ``mask`` is set, drawn on the host for a run's
    phase: epoch ``e`` is a permutation by a NumPy generator seeded with ``key``'s data and
    ``e``, cut into ``n_rows // batch_size`` minibatches (each epoch leaves out a different
    remainder). Any stretch of steps, from any start, is the same stretch of one stream, so a
    resumed phase sees the same minibatches. Drawing an epoch permutes all its rows once; the
    last two epochs drawn are kept, so the cost is one permutation an epoch."""

    def __init__(self, key: jax.Array, mask: np.ndarray, batch_size: int) -> None:
        self.rows = np.flatnonzero(np.asarray(mask) > 0)
        self.batch_size = batch_size
        self.per_epoch = len(self.rows) // batch_size
        if self.per_epoch == 0:
            raise ValueError(f"batch_size={batch_size} is larger than the {len(self.rows)} rows")
        if len(mask) >= 2**31:
            raise ValueError("epochs index rows with int32: at most 2**31 - 1 rows")
        self.seed = [int(v) for v in np.asarray(jax.random.key_data(key)).ravel()]
        self._epochs: dict[int, np.ndarray] = {}

    def epoch(self, e: int) -> np.ndarray:
        """Epoch ``e``'s minibatches, (n_rows // batch_size, batch_size)."""
        if e not in self._epochs:
            if len(self._epochs) >= 2:
                self._epochs.pop(min(self._epochs))
            shuffled = np.random.default_rng([*self.seed, e]).permutation(self.rows)
            size = self.per_epoch * self.batch_size
            self._epochs[e] = shuffled[:size].reshape(self.per_epoch, self.batch_size)
        return self._epochs[e]

    def steps(self, start: int, count: int) -> np.ndarray:
        """The rows of steps ``start .. start + count - 1``, (count, batch_size) int32."""
        parts, step = [np.empty((0, self.batch_size), np.int32)], start
        while step < start + count:
            e, i = divmod(step, self.per_epoch)
            take = min(self.per_epoch - i, start + count - step)
            parts.append(self.epoch(e)[i : i + take])
            step += take
        return np.concatenate(parts).astype(np.int32)


def take_minibatch(batch: Batch, rows: jax.Array, labelled: jax.Array | None = None) -> Batch:
    """The minibatch of ``batch``'s ``rows``; with ``labelled`` rows as well, the first ones
    enter only the reconstruction and the labelled ones only the cross-entropy."""
    ones = jnp.ones(rows.shape[0], jnp.float32)
    if labelled is None:
        return Batch(batch.x[rows], batch.y[rows], ones, ones)
    idx = jnp.concatenate([rows, labelled])
    zeros = jnp.zeros(rows.shape[0], jnp.float32)
    return Batch(
        batch.x[idx],
        batch.y[idx],
        jnp.concatenate([ones, zeros]),
        jnp.concatenate([zeros, ones]),
    )


def take_streamed(
    x: jax.Array, y: jax.Array, pool: Batch, labelled: jax.Array | None = None
) -> Batch:
    """A minibatch of rows read from disk (``x``, ``y``); with ``labelled`` rows of the
    labelled ``pool`` as well, the read rows enter only the reconstruction and the pool's
    only the cross-entropy."""
    ones = jnp.ones(x.shape[0], jnp.float32)
    if labelled is None:
        return Batch(x, y, ones, ones)
    zeros = jnp.zeros(x.shape[0], jnp.float32)
    return Batch(
        jnp.concatenate([x, pool.x[labelled]]),
        jnp.concatenate([y, pool.y[labelled]]),
        jnp.concatenate([ones, zeros]),
        jnp.concatenate([zeros, ones]),
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
    if shared:
        return take_minibatch(batch, idx)
    return take_minibatch(batch, idx, jax.random.choice(k_label, n, (size,), p=batch.label_mask))


def pad_rows(batch: Batch, rows: int) -> Batch:
    """``batch`` with rows of zeros up to ``rows``, in no mask: no loss ever sees them."""
    extra = rows - batch.x.shape[-2]
    if extra == 0:
        return batch

    def fill(a, axis):
        a = np.asarray(a)
        widths = [(0, 0)] * a.ndim
        widths[axis] = (0, extra)
        return np.pad(a, widths)

    return Batch(
        fill(batch.x, -2), fill(batch.y, -1), fill(batch.recon_mask, -1), fill(batch.label_mask, -1)
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
    sampling: str = "draws",
    n_rows: int = 0,
    mesh: Mesh | None = None,
    streamed: bool = False,
) -> Callable:
    """A compiled function running ``n_steps`` steps of M models; cached per shape.

    ``batch_size`` ``None`` trains full-batch; otherwise every step trains on a minibatch:
    ``sampling="epochs"`` walks through shuffled epochs of the ``n_rows`` reconstruction rows
    (:func:`epoch_order`), ``"draws"`` draws each minibatch with replacement
    (:func:`draw_minibatch`); the extra labelled rows of a model whose samples are not all
    labelled are drawn with replacement either way. ``grouped``: S groups of K models (leading
    axes (S, K)), each group with its own data (``x`` (S, N, D), ``y`` (S, N)) and each model
    with its own masks (S, K, N); a group's data is shared by its models, never copied.
    In epochs, a run passes each step's rows, (n_steps, batch_size) from
    :class:`EpochOrder`, as ``start``; a sweep's groups pass the first step's number and draw
    the order in the program (:func:`epoch_order`). ``mesh``: shard every minibatch's samples
    over its devices (data parallelism; a full batch is sharded where its arrays are placed,
    before the call). ``streamed``: the rows of every step come from the host, ``(xs, ys)`` of
    shapes (n_steps, batch_size, D) and (n_steps, batch_size) as ``start``, and ``batch`` holds
    only the labelled pool (see :func:`take_streamed`); no codes are returned.
    """
    shard = constrain(mesh)

    # A deterministic full-batch model with no input noise draws nothing: leave the key
    # alone, so the step compiles and runs without random-number kernels.
    random = noise is not None or model.uses_randomness or batch_size is not None
    epochs = batch_size is not None and sampling == "epochs"

    def one_model(
        params,
        opt_state,
        key,
        order_key,
        ce_weight,
        recon_weight,
        batch,
        start,
        noise_level=None,
        beta=None,
    ):
        # A sweep's models carry their own noise level and β (arrays); a run's are static.
        noise_here = (
            noise if noise is None or noise_level is None else Noise(noise.kind, noise_level)
        )
        opt = _optimizer(opt_state.hyperparams["learning_rate"])
        grad_fn = jax.value_and_grad(objective, argnums=1, has_aux=True)

        def step(carry, rows):
            params, opt_state, key = carry
            key, step_key = jax.random.split(key) if random else (key, key)
            if streamed:  # this step's rows came from the host
                xb, yb = rows
                labelled = None
                if not shared:  # the labelled pool (``batch``) is on the device
                    step_key, draw_key = jax.random.split(step_key)
                    n = batch.x.shape[0]
                    labelled = jax.random.randint(draw_key, (batch_size,), 0, n)
                seen = shard(take_streamed(xb, yb, batch, labelled))
                return update(params, opt_state, key, step_key, seen)
            seen = batch
            if epochs:
                labelled = None
                if not shared:  # uniform over the labelled rows, as from a streamed pool
                    step_key, draw_key = jax.random.split(step_key)
                    pick = jax.random.randint(draw_key, (batch_size,), 0, n_labelled)
                    labelled = labelled_rows[pick]
                seen = shard(take_minibatch(batch, rows, labelled))
            elif batch_size is not None:
                step_key, draw_key = jax.random.split(step_key)
                seen = shard(draw_minibatch(draw_key, batch, batch_size, shared))
            return update(params, opt_state, key, step_key, seen)

        def update(params, opt_state, key, step_key, seen):
            (_, (parts, stats)), grads = grad_fn(
                model, params, seen, step_key, ce_weight, recon_weight, noise_here, beta
            )
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            if stats is not None:  # running statistics are replaced, never trained
                params = {**params, "stats": stats}
            return (params, opt_state, key), parts

        if streamed:
            (params, opt_state, key), parts = jax.lax.scan(
                step, (params, opt_state, key), start, length=n_steps
            )
            return params, opt_state, key, parts, None
        order = labelled_rows = n_labelled = None
        if epochs:  # a run's order comes from the host (EpochOrder); a sweep's is drawn here
            order = (
                epoch_order(order_key, batch.recon_mask, n_rows, batch_size, start, n_steps)
                if grouped
                else start
            )
            n = batch.x.shape[0]
            labelled_rows = jnp.nonzero(batch.label_mask > 0, size=n)[0]
            n_labelled = jnp.sum(batch.label_mask > 0)
        (params, opt_state, key), parts = jax.lax.scan(
            step, (params, opt_state, key), order, length=n_steps
        )
        # A sweep's groups keep no snapshots: only a run pays for every sample's code.
        codes = None if grouped else model.encode(params, batch.x)
        return params, opt_state, key, parts, codes

    if not grouped:  # a run's models share one order of minibatches
        return jax.jit(jax.vmap(one_model, in_axes=(0, 0, 0, None, 0, 0, None, None)))
    own_masks = Batch(None, None, 0, 0)  # type: ignore[arg-type]  # in_axes, not data
    in_group = jax.vmap(one_model, in_axes=(0, 0, 0, 0, 0, 0, own_masks, None, 0, 0))
    return jax.jit(jax.vmap(in_group, in_axes=(0, 0, 0, 0, 0, 0, 0, None, 0, 0)))


def _rows_per_model(batch: Batch, batch_size: int | None, sampling: str) -> int:
    """The number of reconstruction rows every model walks through in epochs (0 when it
    does not); the programs need it as a shape, so all models must have the same."""
    if batch_size is None or sampling != "epochs":
        return 0
    counts = np.unique(np.asarray(batch.recon_mask).sum(axis=-1))
    if len(counts) != 1:
        raise ValueError(f"epochs need the same number of training rows in every model: {counts}")
    return int(counts[0])


def _order_keys(keys: jax.Array) -> jax.Array:
    """Every model's stream of epoch orders, apart from its stream of steps."""
    fold = jax.vmap(lambda k: jax.random.fold_in(k, ORDER_STREAM))
    for _ in range(keys.ndim - 1):
        fold = jax.vmap(fold)
    return fold(keys)


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
    sampling: str = "epochs",
    on_progress: Callable[[int], None] | None = None,
    mesh: Mesh | None = None,
) -> tuple[Params, np.ndarray]:
    """Train S groups of K models at once: a sweep's slice in one compiled program.

    Every leaf of ``params`` and ``keys`` has leading axes (S, K); ``ce_weight``,
    ``recon_weight`` and ``learning_rate`` are (S, K), and so are ``noise_level`` (each
    model's level of ``noise``'s kind; ``noise.level`` by default) and ``beta`` (each model's
    weight of the family's penalty; 1 by default). ``batch`` holds each group's data,
    ``x`` (S, N, D) and ``y`` (S, N), and each model's masks (S, K, N). Steps run in chunks of
    ``chunk`` (all at once by default); ``on_progress`` hears after each. ``batch_size`` and
    ``sampling`` are :func:`train_phase`'s. ``mesh`` spreads the groups over its devices
    (groups are independent, so they need no communication; S is padded to a multiple of the
    device count with copies of the first group, whose results are dropped). Returns the
    final parameters and the last step's ``HISTORY_FIELDS`` (S, K, 4).
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
    n_rows = _rows_per_model(batch, batch_size, sampling)
    order_keys = _order_keys(keys)
    s_count = lr.shape[0]
    if mesh is not None:
        fill = padded(s_count, mesh) - s_count

        def grow(a):  # the first group again, ``fill`` times
            return a if fill == 0 else jax.numpy.concatenate([a, jax.numpy.repeat(a[:1], fill, 0)])

        params, opt_state, keys, order_keys, batch = jax.tree.map(
            grow, (params, opt_state, keys, order_keys, batch)
        )
        ce, recon, level, weight = (
            np.concatenate([a, np.repeat(a[:1], fill, 0)]) for a in (ce, recon, level, weight)
        )
        params, opt_state, keys, order_keys, batch, ce, recon, level, weight = place_tree(
            (params, opt_state, keys, order_keys, batch, ce, recon, level, weight), mesh, True
        )
    done, last = 0, None
    chunk = steps if chunk is None else chunk
    while done < steps:
        n = min(chunk, steps - done)
        run_chunk = _chunk_fn(
            model, n, noise, batch_size, shared, grouped=True, sampling=sampling, n_rows=n_rows
        )
        params, opt_state, keys, parts, _ = run_chunk(
            params, opt_state, keys, order_keys, ce, recon, batch, np.int32(done), level, weight
        )
        done += n
        last = parts[:, :, -1]
        if on_progress is not None:
            jax.block_until_ready(last)
            on_progress(done)
    params = jax.tree.map(lambda a: a[:s_count], to_numpy(params))
    return params, host(last)[:s_count]


def to_numpy(tree: Params) -> Params:
    """The same pytree with NumPy leaves (host memory), e.g. to slice or save it cheaply;
    arrays sharded over devices or hosts are gathered whole."""
    return jax.tree.map(host, tree)


def stack(trees: list[Params]) -> Params:
    """Stack parameter pytrees along a new leading axis: a batch of models."""
    return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


def unstack(tree: Params, i: int) -> Params:
    """Model ``i`` of a batch of models."""
    return jax.tree.map(lambda a: a[i], tree)


APPLY_ROWS = 65_536  # rows evaluated at a time: bounded device memory for any data size


def apply_batched(
    model: Model, params: Params, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, reconstructions, logits)`` of M models (leading axis of ``params``) on ``x``,
    ``APPLY_ROWS`` rows at a time."""
    blocks = [
        tuple(host(a) for a in _apply_fn(model)(params, np.asarray(x[i : i + APPLY_ROWS])))
        for i in range(0, len(x), APPLY_ROWS)
    ]
    return tuple(np.concatenate(parts, axis=1) for parts in zip(*blocks, strict=True))


@functools.cache
def _errors_fn(model: Model) -> Callable:
    def one(params, x):
        codes, recon, logits = model.apply(params, x)
        return codes, jnp.mean((recon - x) ** 2, axis=-1), logits

    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def errors_batched(
    model: Model, params: Params, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`apply_batched`, with each sample's mean squared reconstruction error
    (M, N) in place of the reconstructions: what data too large for (M, N, D) needs."""
    blocks = [
        tuple(host(a) for a in _errors_fn(model)(params, np.asarray(x[i : i + APPLY_ROWS])))
        for i in range(0, len(x), APPLY_ROWS)
    ]
    return tuple(np.concatenate(parts, axis=1) for parts in zip(*blocks, strict=True))


@functools.cache
def _encode_fn(model: Model) -> Callable:
    return jax.jit(jax.vmap(model.encode, in_axes=(0, None)))


def encode_batched(model: Model, params: Params, x: np.ndarray) -> np.ndarray:
    """The codes (M, N, code) of M models on ``x``, ``APPLY_ROWS`` rows at a time."""
    return np.concatenate(
        [
            host(_encode_fn(model)(params, np.asarray(x[i : i + APPLY_ROWS])))
            for i in range(0, len(x), APPLY_ROWS)
        ],
        axis=1,
    )


READ_BYTES = 64 * 2**20  # rows read from disk at a time, as float32


class _Feeder:
    """Minibatches of shuffled epochs (an :class:`EpochOrder`) read from a host
    (memory-mapped) array a stretch of steps at a time; the labelled rows stay on the device."""

    def __init__(self, batch: Batch, orders: EpochOrder, mesh, shared: bool) -> None:
        self.x, self.y = batch.x, np.asarray(batch.y, np.int32)
        self.orders, self.batch_size, self.mesh = orders, orders.batch_size, mesh
        # The labelled pool the labelled half of each minibatch is drawn from (only when not
        # every training sample is labelled: then the read rows serve both terms).
        labelled = np.flatnonzero(np.asarray(batch.label_mask) > 0)[: 1 if shared else None]
        ones = np.ones(len(labelled), np.float32)
        self.pool = Batch(np.asarray(self.x[labelled], np.float32), self.y[labelled], ones, ones)

    def segments(self, done: int, steps: int, snapshot_every: int):
        """``(start, count)`` of the reads from step ``done`` to ``steps``: at most
        ``READ_BYTES`` of rows each, never across a snapshot."""
        per_read = max(1, READ_BYTES // (4 * self.batch_size * self.x.shape[1]))
        while done < steps:
            end = min(steps, (done // snapshot_every + 1) * snapshot_every)
            for start in range(done, end, per_read):
                yield start, min(per_read, end - start)
            done = end

    def read(self, start: int, steps: int) -> tuple[jax.Array, jax.Array] | None:
        """The rows of steps ``start .. start + steps - 1``: x (steps, B, D), y (steps, B).
        Nothing here waits for the device, so a read runs while it trains."""
        if steps == 0:
            return None
        idx = self.orders.steps(start, steps)

        def rows(index) -> np.ndarray:  # a block of the minibatches, read in file order
            wanted = idx[index[:2]] if index else idx
            unique, where = np.unique(wanted, return_inverse=True)
            block = np.asarray(self.x[unique], np.float32)[where.ravel()]
            return block.reshape(*wanted.shape, -1)

        if self.mesh is None:
            return jnp.asarray(rows(())), jnp.asarray(self.y[idx])
        # Each device's share of every minibatch (a process reads only its own devices'), or,
        # when the batch does not split evenly, every row on every device: the step shards it.
        even = self.batch_size % self.mesh.size == 0
        sharding = NamedSharding(self.mesh, PartitionSpec(None, AXIS) if even else PartitionSpec())
        shape = (*idx.shape, self.x.shape[1])
        xs = jax.make_array_from_callback(shape, sharding, rows)
        ys = jax.make_array_from_callback(idx.shape, sharding, lambda i: self.y[idx[i]])
        return xs, ys


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
    sampling: str = "epochs",
    on_progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    resume: PhaseState | None = None,
    mesh: Mesh | None = None,
) -> PhaseResult:
    """Train M models (leading axis of ``params``) with Adam for ``steps`` steps.

    Args:
        ce_weight, recon_weight: (M,) weights of the two loss terms, one pair per model.
        key: randomness of input noise, dropout and minibatches, split into one stream per
            model; only needed when one of them is used.
        noise: input corruption of the reconstruction term (a denoising autoencoder).
        batch_size: ``None`` trains on the whole batch every step; a number trains each step
            on that many training samples (and as many labelled ones, drawn with
            replacement, when not every sample is labelled), so the history then holds
            minibatch losses.
        sampling: how minibatches pick their training samples: ``"epochs"`` goes through
            a fresh permutation of them every epoch (:class:`EpochOrder`, one NumPy
            permutation an epoch, drawn on the host), ``"draws"`` draws each minibatch with
            replacement inside the compiled program.
        on_progress: called with the number of steps finished after every chunk.
        stop: asked after every chunk; when it says True, the phase raises
            :class:`PhaseInterrupted` with its state.
        resume: a state from :class:`PhaseInterrupted`: go on from there (``params`` and
            ``key`` are then only templates); the result equals an uninterrupted phase's.
        mesh: train data-parallel over its devices (:mod:`aelab.parallel`): the parameters
            on every device, the samples of each step (the full batch, or each minibatch)
            split over them. The numbers equal one device's up to the order of float sums.
    """
    ce_weight = np.asarray(ce_weight, np.float32)
    recon_weight = np.asarray(recon_weight, np.float32)
    lr = np.full(ce_weight.shape, learning_rate, np.float32)
    opt_state = _opt_init_fn()(params, lr)
    keys = jax.random.split(jax.random.key(0) if key is None else key, len(lr))
    # One order of minibatches for every model of the phase (strategies then differ in
    # nothing but their losses), from ``key`` alone, so a resumed phase has the same.
    order_key = jax.random.fold_in(jax.random.key(0) if key is None else key, ORDER_STREAM)
    if resume is not None:
        params = resume.params
        opt_state = jax.tree.unflatten(jax.tree.structure(opt_state), resume.opt_state)
        keys = jax.random.wrap_key_data(resume.keys, impl=jax.random.key_impl(keys))
    # One draw serves both loss terms when every training sample is labelled.
    shared = batch_size is None or bool(
        np.array_equal(np.asarray(batch.recon_mask), np.asarray(batch.label_mask))
    )

    # (a resumed phase has its snapshots: encoding every sample again would be wasted work)
    snapshots = [] if resume is not None else [encode_batched(model, params, batch.x)]
    steps_at = [0]
    n_samples = batch.x.shape[0]
    n_rows = _rows_per_model(batch, batch_size, sampling)
    orders = feeder = None
    if n_rows:  # shuffled epochs, drawn on the host
        orders = EpochOrder(order_key, np.asarray(batch.recon_mask), batch_size)
    if isinstance(batch.x, np.memmap):  # rows stay on disk; each chunk reads its minibatches
        if orders is None:
            raise ValueError("data on disk trains in minibatches of shuffled epochs")
        feeder = _Feeder(batch, orders, mesh, shared)
        batch = feeder.pool
    if mesh is not None:  # the same program, its arrays spread over the mesh
        full = batch_size is None
        batch = place_tree(pad_rows(batch, padded(n_samples, mesh)) if full else batch, mesh, full)
        params, opt_state, keys, order_key = place_tree(
            (to_numpy(params), opt_state, keys, order_key), mesh, sharded=False
        )
    parts = []
    done = 0
    if resume is not None:
        snapshots, steps_at = list(resume.snapshots), list(resume.snapshot_steps)
        parts, done = [resume.history], resume.done
    good = (params, done)  # parameters whose every loss so far was finite, and their step
    if feeder is not None:  # reads of a bounded size, each while the device trains the last
        reads = feeder.segments(done, steps, snapshot_every)
        ahead = feeder.read(*next(reads))
    while done < steps:
        n = min(snapshot_every, steps - done)
        before = params
        if feeder is None:
            run_chunk = _chunk_fn(
                model, n, noise, batch_size, shared, sampling=sampling, n_rows=n_rows, mesh=mesh
            )
            feed = np.int32(done) if orders is None else orders.steps(done, n)
            params, opt_state, keys, chunk_parts, codes = run_chunk(
                params, opt_state, keys, order_key, ce_weight, recon_weight, batch, feed
            )
        else:
            pieces = []
            while sum(p.shape[1] for p in pieces) < n:
                rows = ahead
                run_chunk = _chunk_fn(
                    model, rows[1].shape[0], noise, batch_size, shared, mesh=mesh, streamed=True
                )
                params, opt_state, keys, piece, _ = run_chunk(
                    params, opt_state, keys, order_key, ce_weight, recon_weight, batch, rows
                )
                ahead = feeder.read(*next(reads, (0, 0)))  # the next rows, while it trains
                pieces.append(piece)
            chunk_parts = jnp.concatenate(pieces, axis=1)
            codes = encode_batched(model, params, feeder.x)
        chunk_parts, codes = host(chunk_parts), host(codes)[:, :n_samples]
        finite = np.isfinite(chunk_parts[..., 0])  # (M, n)
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
            on_progress(done)  # the codes are on the host: the work is finished, not queued
        if stop is not None and done < steps and stop():
            raise PhaseInterrupted(
                PhaseState(
                    done=done,
                    params=to_numpy(params),
                    opt_state=[host(leaf) for leaf in jax.tree.leaves(opt_state)],
                    keys=host(jax.random.key_data(keys)),
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

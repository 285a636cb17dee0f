"""Feeding the training steps: the full batch, minibatches of shuffled epochs or of draws with
replacement, or minibatches read from disk a stretch at a time.

A :class:`Batch` holds the data and the masks that pick what each loss term sees. Its arrays
have the leading axes of what trains them: a phase of S groups of K models has ``x`` (S, N, D)
and ``y`` (S, N), one group's data shared by its models, and masks (S, K, N), each model's own.
Inside the compiled step, :func:`select` gives one model its step's samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from aelab.training.parallel import AXIS, Mesh

READ_BYTES = 64 * 2**20  # rows read from disk at a time, as float32


@dataclass(frozen=True)
class Batch:
    """Samples, labels and the masks that pick what each loss term sees."""

    x: jax.Array  # (..., N, D)
    y: jax.Array  # (..., N) int
    recon_mask: jax.Array  # (..., N) float, samples in the reconstruction term
    label_mask: jax.Array  # (..., N) float, samples in the cross-entropy

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
        A memory-mapped ``x`` (a ``.npy`` file) stays where it is: training then reads each
        stretch's minibatches from it."""
        recon = jnp.asarray(is_train, jnp.float32)
        labels = recon if is_labelled is None else jnp.asarray(is_labelled, jnp.float32)
        if isinstance(x, np.memmap):  # stays on disk: training reads it chunk by chunk
            return cls(x, np.asarray(y, np.int32), np.asarray(recon), np.asarray(labels))
        return cls(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32), recon, labels)


jax.tree_util.register_dataclass(
    Batch, data_fields=["x", "y", "recon_mask", "label_mask"], meta_fields=[]
)


@dataclass(frozen=True)
class Feed:
    """How every step picks its samples (static: it shapes the compiled program).

    ``batch_size`` ``None`` trains on the full batch. Otherwise each step trains on
    ``batch_size`` training samples: with ``sampling="epochs"`` the next minibatch of a
    shuffled epoch (its rows come from the host, :class:`EpochOrder`), with ``"draws"`` drawn
    with replacement in the step. Unless ``shared`` (every training sample is labelled, so one
    minibatch serves both terms), each step also draws ``batch_size`` labelled samples for the
    cross-entropy, uniformly with replacement. ``streamed``: the rows come from disk with each
    step (:class:`DiskReader`); the batch on the device holds the labelled pool only.
    """

    batch_size: int | None = None
    sampling: str = "epochs"
    shared: bool = True
    streamed: bool = False

    @property
    def epochs(self) -> bool:
        return self.batch_size is not None and self.sampling == "epochs"


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


def labelled_rows(batch: Batch) -> tuple[jax.Array, jax.Array]:
    """The rows of a model's labelled samples (first, padded to N) and how many there are:
    what an epoch's minibatch draws its labelled half from (found once a chunk)."""
    n = batch.x.shape[0]
    return jnp.nonzero(batch.label_mask > 0, size=n)[0], jnp.sum(batch.label_mask > 0)


def select(
    feed: Feed, batch: Batch, rows, key: jax.Array, labelled_pool=None
) -> tuple[Batch, jax.Array]:
    """One model's samples of one step, and what is left of its step ``key``.

    ``rows``: the step's part of the host feed: nothing (full batch, draws), the rows of the
    epoch's minibatch (B,), or the rows read from disk ``(x (B, D), y (B,))``. Draws split
    the key first, so each model draws from its own stream. ``labelled_pool``: the model's
    :func:`labelled_rows`, for epochs when not every training sample is labelled.
    """
    if feed.batch_size is None:
        return batch, key
    if feed.streamed or feed.epochs:
        labelled = None
        if not feed.shared:  # uniform over the labelled rows (of the pool, when streamed)
            key, draw_key = jax.random.split(key)
            if feed.streamed:
                labelled = jax.random.randint(draw_key, (feed.batch_size,), 0, batch.x.shape[0])
            else:
                pool, n_labelled = labelled_pool
                pick = jax.random.randint(draw_key, (feed.batch_size,), 0, n_labelled)
                labelled = pool[pick]
        if feed.streamed:
            return take_streamed(*rows, batch, labelled), key
        return take_minibatch(batch, rows, labelled), key
    key, draw_key = jax.random.split(key)
    return draw_minibatch(draw_key, batch, feed.batch_size, feed.shared), key


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


class EpochOrder:
    """Shuffled epochs of the rows where ``mask`` is set, drawn on the host: epoch ``e`` is a
    permutation by a NumPy generator seeded with ``key``'s data and ``e``, cut into
    ``n_rows // batch_size`` minibatches (each epoch leaves out a different remainder, as a
    shuffling loader that drops the last batch). Any stretch of steps, from any start, is the
    same stretch of one stream, so a resumed phase sees the same minibatches. Drawing an epoch
    permutes all its rows once; the last two epochs drawn are kept, so the cost is one
    permutation an epoch."""

    def __init__(self, key: jax.Array | np.ndarray, mask: np.ndarray, batch_size: int) -> None:
        # ``key``: a key, or its key data
        data = key if isinstance(key, np.ndarray) else jax.random.key_data(key)
        self.rows = np.flatnonzero(np.asarray(mask) > 0)
        self.batch_size = batch_size
        self.per_epoch = len(self.rows) // batch_size
        if self.per_epoch == 0:
            raise ValueError(f"batch_size={batch_size} is larger than the {len(self.rows)} rows")
        if len(mask) >= 2**31:
            raise ValueError("epochs index rows with int32: at most 2**31 - 1 rows")
        self.seed = [int(v) for v in np.asarray(data).ravel()]
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


class HostFeed:
    """What the host gives the program for each stretch of steps of S groups: nothing (full
    batch, draws), each group's epoch rows (S, n, B), or rows read from disk (one group).

    Epochs walk through the rows where each group's reconstruction mask is set, in an order
    drawn from the group's ``order_keys`` (S,): every model of a group sees the same
    minibatches, so models differ only in what they were asked to differ in. ``done``,
    ``steps`` and ``chunk`` are the phase's: data on disk is read ahead along them.
    """

    def __init__(
        self,
        feed: Feed,
        batch: Batch,
        order_keys: jax.Array | None,
        mesh: Mesh | None,
        done: int,
        steps: int,
        chunk: int,
    ) -> None:
        self.orders: list[EpochOrder] = []
        self.reader: DiskReader | None = None
        if feed.epochs:
            masks = np.asarray(batch.recon_mask)  # (S, K, N)
            if not (masks == masks[:, :1]).all():
                raise ValueError("the models of a group walk through the same training rows")
            seeds = np.asarray(jax.random.key_data(order_keys))  # (S, key data): no indexing
            self.orders = [
                EpochOrder(seed, mask, feed.batch_size)
                for seed, mask in zip(seeds, masks[:, 0], strict=True)
            ]
        if feed.streamed:
            self.reader = DiskReader(
                batch.x[0], np.asarray(batch.y[0]), self.orders[0], mesh, done, steps, chunk
            )

    def pieces(self, done: int, count: int) -> Iterator[tuple[int, object]]:
        """``(steps, rows)`` of the stretch of ``count`` steps from step ``done``: one piece,
        or for data on disk reads of at most ``READ_BYTES`` each."""
        if self.reader is not None:
            yield from self.reader.pieces(count)
        elif self.orders:
            yield count, np.stack([order.steps(done, count) for order in self.orders])
        else:
            yield count, None


class DiskReader:
    """Minibatches of shuffled epochs (an :class:`EpochOrder`) read from a host
    (memory-mapped) array ``x`` (N, D), into arrays with a group axis of 1.

    Reads hold at most ``READ_BYTES`` of rows, in file order, and never cross a chunk's end;
    each is made while the device trains the one before (steps ``done`` to ``steps`` of a
    phase whose chunks end every ``chunk`` steps)."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        order: EpochOrder,
        mesh: Mesh | None,
        done: int,
        steps: int,
        chunk: int,
    ) -> None:
        self.x, self.y, self.order, self.mesh = x, np.asarray(y, np.int32), order, mesh
        self.batch_size = order.batch_size
        self.per_read = min(chunk, max(1, READ_BYTES // (4 * self.batch_size * x.shape[1])))
        self._segments = self._plan(done, steps, chunk)
        self._ahead = self._next()

    def _next(self) -> tuple[int, object]:
        """The next read's steps and rows."""
        start, steps = next(self._segments, (0, 0))
        return steps, self.read(start, steps)

    def _plan(self, done: int, steps: int, chunk: int) -> Iterator[tuple[int, int]]:
        while done < steps:
            end = min(steps, (done // chunk + 1) * chunk)
            for start in range(done, end, self.per_read):
                yield start, min(self.per_read, end - start)
            done = end

    def pieces(self, count: int) -> Iterator[tuple[int, object]]:
        """The reads covering the next ``count`` steps; when the program of one is on its way
        (the caller asks for the next), the next read is made while the device trains."""
        covered = 0
        while covered < count:
            steps, rows = self._ahead
            yield steps, rows
            self._ahead = self._next()
            covered += steps

    def read(self, start: int, steps: int):
        """The rows of steps ``start .. start + steps - 1``: x (1, R, B, D), y (1, R, B), R
        ``per_read`` (a shorter read is padded with row 0, which the program's idle steps
        never use: every read runs one program); ``None`` for no steps. Nothing here waits
        for the device."""
        if steps == 0:
            return None
        idx = self.order.steps(start, steps)[None]  # (1, steps, B)
        idx = np.pad(idx, [(0, 0), (0, self.per_read - steps), (0, 0)])

        def rows(index) -> np.ndarray:  # a block of the minibatches, read in file order
            wanted = idx[index[:3]] if index else idx
            unique, where = np.unique(wanted, return_inverse=True)
            block = np.asarray(self.x[unique], np.float32)[where.ravel()]
            return block.reshape(*wanted.shape, -1)

        if self.mesh is None:
            return jnp.asarray(rows(())), jnp.asarray(self.y[idx])
        # Each device's share of every minibatch (a process reads only its own devices'), or,
        # when the batch does not split evenly, every row on every device: the step shards it.
        even = self.batch_size % self.mesh.size == 0
        spec = PartitionSpec(None, None, AXIS) if even else PartitionSpec()
        sharding = NamedSharding(self.mesh, spec)
        xs = jax.make_array_from_callback((*idx.shape, self.x.shape[1]), sharding, rows)
        ys = jax.make_array_from_callback(idx.shape, sharding, lambda i: self.y[idx[i]])
        return xs, ys

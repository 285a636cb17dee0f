"""Euclidean distances between the rows of codes, as the metrics of a code need them: the votes
of each held-out row's k nearest fitted rows, and each row's summed distance to every class.

Both give scikit-learn's answers, fast. Large inputs run on the JAX device in float32, a block
of ``BLOCK`` rows at a time (memory stays bounded for any N); NumPy then settles in float64
whatever float32 cannot: which of a row's nearest neighbours come first when they lie within
float32's error of one another, and every distance of a row that has a near-duplicate (float32's
``|a|^2 + |b|^2 - 2 a.b`` loses all its digits there). Neighbours that tie across classes even
in float64 are left to scikit-learn (its choice follows its search order). The neighbours of
small inputs are found in float64 directly: compiling would take longer. Rows are centred
first, which changes no distance and makes float32's error smaller.

Imports JAX: import this module only to measure a code.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from aelab.analysis.threads import one_thread

BLOCK = 256  # rows of a block: one (BLOCK, N) matrix of distances at a time (faster than 1,024)
SMALL = 20_000_000  # rows x rows x features up to which no program is compiled
CANDIDATES = 16  # nearest rows the float32 pass proposes for each row, float64 picks from
_U32, _U64 = 2.0**-24, 2.0**-53  # float32's and float64's unit roundoff
_HIGHEST = jax.lax.Precision.HIGHEST  # full float32 products on GPUs too (no TF32)


def _error(dims: int, unit: float = _U32) -> float:
    """A bound on the rounding error of ``|a|^2 + |b|^2 - 2 a.b`` (float32's by default),
    relative to ``|a|^2 + |b|^2``: products summed over ``dims`` features, the inputs, the sum."""
    return (2 * dims + 16) * unit


def _blocks(x: jax.Array, block: int) -> jax.Array:
    """``x`` (N, ...) zero-padded to whole blocks: (ceil(N / block), block, ...)."""
    padded = jnp.pad(x, [(0, -len(x) % block)] + [(0, 0)] * (x.ndim - 1))
    return padded.reshape(-1, block, *x.shape[1:])


def _sq_norms(x: jax.Array) -> jax.Array:
    return jnp.sum(x * x, axis=1)


@partial(jax.jit, static_argnames=("count", "block"))
def _candidates32(queries: jax.Array, points: jax.Array, count: int, block: int):
    """Each query row's ``count`` nearest points in float32: their squared distances in
    ascending order and their indices, both (Q, count)."""
    points_sq = _sq_norms(points)

    def one(rows: jax.Array) -> tuple[jax.Array, jax.Array]:
        cross = jnp.dot(rows, points.T, precision=_HIGHEST)  # (block, P)
        neg, index = jax.lax.top_k(-(_sq_norms(rows)[:, None] + points_sq - 2 * cross), count)
        return -neg, index

    d2, index = jax.lax.map(one, _blocks(queries, block))
    n = len(queries)
    return d2.reshape(-1, count)[:n], index.reshape(-1, count)[:n]


@partial(jax.jit, static_argnames=("block",))
def _class_sums32(x: jax.Array, onehot: jax.Array, block: int):
    """Each row's float32 sums of distances to the rows of each class (N, C), and whether the
    row has a near-duplicate (N,): another row within 4 times float32's error, whose distance
    float32 cannot measure (it can be off by ``sqrt(error)``; elsewhere it is close).

    Distances are symmetric: each pair of blocks of rows is measured once, for both."""
    n, close_enough = len(x), 4 * _error(x.shape[1])
    rows, hot = _blocks(x, block), _blocks(onehot, block)  # a padded row has no class
    sq, real = _blocks(_sq_norms(x), block), _blocks(jnp.ones(n, bool), block)
    count = len(rows)

    def add(carry: tuple[jax.Array, jax.Array], pair: jax.Array) -> tuple[tuple, None]:
        sums, close = carry  # (blocks, block, C), (blocks, block)
        i, j = pair[0], pair[1]
        scale = sq[i][:, None] + sq[j]  # (block, block)
        d2 = scale - 2 * jnp.dot(rows[i], rows[j].T, precision=_HIGHEST)
        itself = (i == j) & jnp.eye(block, dtype=bool)
        d = jnp.where(itself, 0.0, jnp.sqrt(jnp.maximum(d2, 0.0)))
        near = (d2 < close_enough * scale) & ~itself & real[i][:, None] & real[j]
        sums = sums.at[i].add(jnp.dot(d, hot[j], precision=_HIGHEST))
        sums = sums.at[j].add(jnp.where(i == j, 0.0, jnp.dot(d.T, hot[i], precision=_HIGHEST)))
        close = close.at[i].set(close[i] | near.any(axis=1))
        return (sums, close.at[j].set(close[j] | near.any(axis=0))), None

    pairs = jnp.array([(i, j) for i in range(count) for j in range(i, count)])
    start = (jnp.zeros(hot.shape, x.dtype), jnp.zeros(real.shape, bool))
    (sums, close), _ = jax.lax.scan(add, start, pairs)
    return sums.reshape(-1, hot.shape[-1])[:n], close.reshape(-1)[:n]


def _sq_distances64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances (A, B) of float64 rows, clipped at 0 like scikit-learn's."""
    d2 = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1) - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0, out=d2)


def _votes(d2: np.ndarray, labels: np.ndarray, k: int, tol: float, n_classes: int):
    """Votes per class (R, C) of each row's ``k`` nearest among squared distances ``d2`` (R, M)
    to points of ``labels`` (R, M), and whether the vote is ambiguous (R,): points of
    different classes tie (within ``tol``) for the last places, so rounding decides."""
    kth = np.partition(d2, k - 1, axis=1)[:, k - 1 : k]  # (R, 1)
    inside, edge = d2 < kth - tol, np.abs(d2 - kth) <= tol  # the k-th point is on the edge
    n_in, n_edge = inside.sum(axis=1), edge.sum(axis=1)
    take_all = n_in + n_edge == k  # every point on the edge is one of the k
    lowest = np.where(edge, labels, n_classes).min(axis=1)
    ambiguous = ~take_all & (lowest != np.where(edge, labels, -1).max(axis=1))
    counts = np.zeros((len(d2), n_classes))
    rows, cols = np.nonzero(inside | (edge & take_all[:, None]))
    np.add.at(counts, (rows, labels[rows, cols]), 1.0)
    # otherwise the edge's points share one class: the k - n_in places left all go to it
    counts[np.arange(len(d2)), np.minimum(lowest, n_classes - 1)] += np.where(take_all, 0, k - n_in)
    return counts, ambiguous


def knn_votes(
    queries: np.ndarray, points: np.ndarray, labels: np.ndarray, k: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Votes per class (Q, C) of each query row's ``k`` nearest ``points`` (P, d) by Euclidean
    distance, whose classes are ``labels`` (P,) in 0..C-1, and which rows are ambiguous (Q,):
    their last neighbours tie with points of another class, and scikit-learn's choice among
    them follows its own rounding and search order, so the caller asks scikit-learn."""
    with one_thread():
        return _knn_votes(queries, points, labels, k, n_classes)


def _knn_votes(
    queries: np.ndarray, points: np.ndarray, labels: np.ndarray, k: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    raw = max(_max_sq(queries), _max_sq(points))
    centre = np.asarray(points, np.float64).mean(axis=0)
    q64, p64 = np.asarray(queries, np.float64) - centre, np.asarray(points, np.float64) - centre
    # a tie: closer than 4 times float64's rounding, of ours or of scikit-learn's (uncentred)
    tol = 4 * _error(q64.shape[1], _U64) * (raw + _max_sq(q64) + _max_sq(p64))
    count = min(max(CANDIDATES, 3 * k), len(points))
    if q64.size * len(points) <= SMALL or count == len(points):
        return _knn_exact(q64, p64, labels, k, tol, n_classes)
    d2_32, index = (
        np.asarray(a)
        for a in _candidates32(
            jnp.asarray(q64.astype(np.float32)), jnp.asarray(p64.astype(np.float32)), count, BLOCK
        )
    )
    bound = _error(q64.shape[1]) * (np.sum(q64 * q64, axis=1) + _max_sq(p64))
    # float32 settles a row whose k-th and (k+1)-th nearest lie farther apart than its error
    clear = d2_32[:, k] - d2_32[:, k - 1] > 2 * bound
    votes = labels[index[:, :k]] + n_classes * np.arange(len(q64))[:, None]  # (Q, k)
    counts = np.bincount(votes[clear].ravel(), minlength=len(q64) * n_classes)
    counts = counts.reshape(len(q64), n_classes).astype(np.float64)
    ambiguous, rest = np.zeros(len(q64), bool), np.flatnonzero(~clear)
    if len(rest):
        counts[rest], ambiguous[rest] = _knn_candidates(
            q64[rest], p64, labels, index[rest], d2_32[rest, -1] - bound[rest], k, tol, n_classes
        )
    return counts, ambiguous


def _knn_candidates(q64, p64, labels, index, beyond, k, tol, n_classes):
    """:func:`knn_votes` in float64 among each query row's candidate points ``index`` (Q, M),
    when all others are ``beyond`` (Q,) that far; against every point when that is not sure."""
    counts, ambiguous = np.zeros((len(q64), n_classes)), np.zeros(len(q64), bool)
    sure = np.zeros(len(q64), bool)
    for start in range(0, len(q64), BLOCK):
        rows = np.arange(start, min(start + BLOCK, len(q64)))
        diff = p64[index[rows]] - q64[rows, None]  # (block, M, d)
        exact = np.einsum("rcd,rcd->rc", diff, diff)
        kth = np.partition(exact, k - 1, axis=1)[:, k - 1]
        ok = beyond[rows] > kth + tol  # no other point is among the k, nor ties with them
        sure[rows] = ok
        votes = _votes(exact[ok], labels[index[rows[ok]]], k, tol, n_classes)
        counts[rows[ok]], ambiguous[rows[ok]] = votes
    redo = np.flatnonzero(~sure)
    if len(redo):
        counts[redo], ambiguous[redo] = _knn_exact(q64[redo], p64, labels, k, tol, n_classes)
    return counts, ambiguous


def _max_sq(x: np.ndarray) -> float:
    return float(np.max(np.sum(np.square(x, dtype=np.float64), axis=1)))


def _knn_exact(q64, p64, labels, k, tol, n_classes) -> tuple[np.ndarray, np.ndarray]:
    """:func:`knn_votes` in float64 against every point, a block of query rows at a time."""
    parts = [
        _votes(
            d2 := _sq_distances64(q64[start : start + BLOCK], p64),
            np.broadcast_to(labels, d2.shape),
            k,
            tol,
            n_classes,
        )
        for start in range(0, len(q64), BLOCK)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def class_distance_sums(x: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Each row's sum of Euclidean distances to the rows of each class (N, C), in float64;
    ``labels`` (N,) are 0..C-1 and a row is at distance 0 from itself."""
    with one_thread():
        return _class_distance_sums(x, labels, n_classes)


def _class_distance_sums(x: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    x64 = np.asarray(x, np.float64)
    x64 = x64 - x64.mean(axis=0)
    onehot = np.eye(n_classes)[labels]  # (N, C)
    block = min(BLOCK, len(x64))
    sums32, close = _class_sums32(
        jnp.asarray(x64.astype(np.float32)), jnp.asarray(onehot.astype(np.float32)), block
    )
    sums = np.asarray(sums32, np.float64)
    redo = np.flatnonzero(np.asarray(close))
    if len(redo):
        sums[redo] = _class_sums64(x64, redo, onehot)
    return sums


def _class_sums64(x64: np.ndarray, rows: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """:func:`class_distance_sums` of ``rows`` in float64, a block of them at a time."""
    out = np.empty((len(rows), onehot.shape[1]))
    for start in range(0, len(rows), BLOCK):
        some = rows[start : start + BLOCK]
        d = np.sqrt(_sq_distances64(x64[some], x64))
        d[np.arange(len(some)), some] = 0.0
        out[start : start + BLOCK] = d @ onehot
    return out

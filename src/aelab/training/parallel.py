"""Several devices and several hosts, on JAX's own runtime: one ``jax.sharding.Mesh``.

A plan of one seed (a run, a sweep's slice of one seed) trains data-parallel: the parameters
are replicated on every device of the mesh, and the samples of each step are sharded over it
(the full batch's rows, or each minibatch's rows), so every device computes its share of the
loss and XLA sums the gradients. A plan of several seeds spreads its seeds over the devices
instead. The same compiled step serves one device and many; only where its arrays live
changes.

Several hosts join through :func:`connect` (``jax.distributed.initialize``) before anything
else touches JAX; the mesh then spans every process's devices, and each process puts only
its own shard of the samples on its devices (:func:`place`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"
JOIN_SECONDS = 60  # a process that does not join (or stops answering) ends the run then


def connect(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """Join a multi-process run (``jax.distributed.initialize``); call before any other JAX
    use. Missing values come from the usual environment (``JAX_COORDINATOR_ADDRESS``,
    ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``, or a cluster JAX detects, such as SLURM)."""
    coordinator = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and "JAX_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["JAX_NUM_PROCESSES"])
    if process_id is None and "JAX_PROCESS_ID" in os.environ:
        process_id = int(os.environ["JAX_PROCESS_ID"])
    # CPU devices of different processes talk through gloo's collectives (GPUs use NCCL;
    # the setting does not touch them). Asking for the backend here would start it too early.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    explicit = num_processes is not None and process_id is not None
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        # Given every number, look for no cluster manager (SLURM, Open MPI, ...); without
        # them, JAX asks the one it finds.
        cluster_detection_method="deactivate" if explicit else None,
        initialization_timeout=JOIN_SECONDS,
        heartbeat_timeout_seconds=JOIN_SECONDS,
    )


def device_mesh(devices: list | None = None, count: int | None = None) -> Mesh | None:
    """A one-axis mesh over ``devices`` (every device of JAX's default backend, all hosts
    included), or over the first ``count`` of them; ``None`` when that is a single device,
    which trains exactly as without a mesh."""
    devices = list(jax.devices() if devices is None else devices)
    if count is not None:
        if not 1 <= count <= len(devices):
            raise ValueError(f"count={count}: there are {len(devices)} devices")
        devices = devices[:count]
    if len(devices) == 1:
        return None
    return Mesh(np.array(devices), (AXIS,))


def padded(n: int, mesh: Mesh | None) -> int:
    """``n`` rounded up to a whole number of rows on every device of ``mesh``."""
    size = 1 if mesh is None else mesh.size
    return -(-n // size) * size


def place(array: np.ndarray, mesh: Mesh, axis: int | None) -> jax.Array:
    """``array`` (host memory, the same on every process) as a global array on ``mesh``:
    split along ``axis`` over the devices, or (``None``) a copy on every device. Each process
    reads only the part its own devices hold."""
    spec = PartitionSpec() if axis is None else PartitionSpec(*[None] * axis, AXIS)
    return jax.make_array_from_callback(
        array.shape, NamedSharding(mesh, spec), lambda index: np.asarray(array[index])
    )


def place_tree(tree, mesh: Mesh, axis: int | None):
    """:func:`place` every leaf of ``tree``; PRNG keys travel as their key data."""

    def one(leaf):
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            data = place(np.asarray(jax.random.key_data(leaf)), mesh, axis)
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
        return place(np.asarray(leaf), mesh, axis)

    return jax.tree.map(one, tree)


def constrain(mesh: Mesh | None) -> Callable:
    """Inside a compiled step: shard an array's first axis (its samples) over ``mesh``."""
    if mesh is None:
        return lambda tree: tree
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    return lambda tree: jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, sharding), tree)


def host(array) -> np.ndarray:
    """A global array's whole value in this process's memory, wherever its shards live."""
    if not isinstance(array, jax.Array) or array.is_fully_addressable:
        return np.asarray(array)
    if array.is_fully_replicated:
        return np.asarray(array.addressable_data(0))
    return np.asarray(multihost_utils.process_allgather(array, tiled=True))

"""The devices and hosts ``aelab run`` and ``aelab sweep`` train on. It imports JAX: the
commands import it when they start training, so that ``--help`` starts no JAX."""

from __future__ import annotations

import os

import jax
from jax.experimental import multihost_utils

from aelab.errors import AelabError, ConfigError
from aelab.training.parallel import connect as join
from aelab.training.parallel import device_mesh


def connect(
    coordinator: str | None, num_processes: int | None, process_id: int | None
) -> tuple[int, int] | None:
    """Join a multi-process run when asked to (by an option or ``JAX_COORDINATOR_ADDRESS``);
    return ``(process id, process count)``, or ``None`` for a run of one process."""
    asked = (coordinator, num_processes, process_id) != (None, None, None)
    if not asked and "JAX_COORDINATOR_ADDRESS" not in os.environ:
        return None
    address = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS", "")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"--coordinator {address!r}: give process 0's address as HOST:PORT, e.g. "
            "10.0.0.1:12345, the same in every process"
        )
    if num_processes is not None and num_processes < 1:
        raise ConfigError(f"--num-processes {num_processes}: give the number of processes, >= 1")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ConfigError(
            f"--process-id {process_id}: number the {num_processes} processes 0 to "
            f"{num_processes - 1}, each once"
        )
    try:
        join(address, num_processes, process_id)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AelabError(f"could not join the run at {address}: {first}") from None
    return jax.process_index(), jax.process_count()


def use_devices(device: str, count: int | None):
    """Make ``device`` JAX's default device and return the mesh of the ``count`` devices to
    train on (``None`` for one); ``gpu`` without a visible GPU is a user error."""
    try:
        devices = jax.devices(None if device == "auto" else device)
    except RuntimeError:
        raise ConfigError(
            f"--device {device}: JAX sees no {device.upper()} here; for NVIDIA GPUs install the "
            "CUDA build (pip install 'aelab[cuda]'), or use --device cpu"
        ) from None
    if device != "auto":
        jax.config.update("jax_default_device", devices[0])
    if count is not None and not 1 <= count <= len(devices):
        kind = devices[0].platform.upper()
        raise ConfigError(
            f"--devices {count}: JAX sees {len(devices)} {kind} device"
            f"{'s' if len(devices) > 1 else ''} here; use a number from 1 to {len(devices)}"
        )
    return device_mesh(devices, count)


def all_done(what: str) -> None:
    """Wait until every process of a multi-process run gets here (none may leave while
    another still needs it); ``what`` names the meeting point."""
    multihost_utils.sync_global_devices(what)

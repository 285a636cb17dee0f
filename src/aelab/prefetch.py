"""Importing, in a background thread, the modules a run needs only after its training.

scikit-learn (the reference projection, the probe), matplotlib (the figures), pandas and their
dependencies take 1–2 s to import: a run's measuring and writing need them, its training does
not. While XLA compiles and the device trains, the main thread leaves Python's interpreter lock
free, so a thread can import them in the meantime. The main thread calls :func:`wait` before it
imports any of them itself: two threads importing one package at once could each find the
other's modules half-initialised.
"""

from __future__ import annotations

import importlib
import threading

# What measuring and writing a run import (aelab.training.evaluate, aelab.outputs).
AFTER_TRAINING = (
    "sklearn.decomposition",
    "sklearn.linear_model",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "matplotlib.figure",
    "matplotlib.lines",
    "matplotlib.colors",
    "matplotlib.image",
    "matplotlib.backends.backend_agg",
    "PIL.Image",
)

_thread: threading.Thread | None = None
_lock = threading.Lock()


def _load(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the main thread imports it again and reports why
            return


def start(modules: tuple[str, ...] = AFTER_TRAINING) -> None:
    """Begin importing ``modules`` in a daemon thread (once per process)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(
                target=_load, args=(modules,), name="aelab-prefetch", daemon=True
            )
            _thread.start()


def wait() -> None:
    """Return when the background imports are done (at once when none were started)."""
    if _thread is not None:
        _thread.join()


__all__ = ["AFTER_TRAINING", "start", "wait"]

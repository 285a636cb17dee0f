"""Ctrl-C at any moment, even when Python loses it.

Python turns SIGINT into a ``KeyboardInterrupt`` wherever the main thread happens to be.
Raised inside a garbage-collector callback (JAX keeps one), a ``__del__`` method or a callback
from compiled code, it is printed as "Exception ignored in ..." and dropped, and the program
goes on as if nothing happened. So the command line also *remembers* every SIGINT
(:func:`catching`), and code that must not miss one asks :func:`check` at its safe points,
which raises the ``KeyboardInterrupt`` again.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

_received = [0]  # SIGINTs received while catching() was in force


def _handle(signum, frame) -> None:
    _received[0] += 1
    raise KeyboardInterrupt


@contextlib.contextmanager
def catching() -> Iterator[None]:
    """While in force, SIGINT raises ``KeyboardInterrupt`` as Python's own handler does, and is
    remembered for :func:`check`. Only in the main thread, and only where SIGINT has Python's
    own handler (a SIGINT the caller ignores stays ignored); elsewhere nothing changes."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _received[0] = 0
    hook = sys.unraisablehook
    signal.signal(signal.SIGINT, _handle)
    sys.unraisablehook = _quiet(hook)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = hook
        _received[0] = 0


def _quiet(hook):
    """``hook`` but for a lost ``KeyboardInterrupt``: no "Exception ignored" traceback, since
    it is remembered and acted on."""

    def quiet(unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    return quiet


def check() -> None:
    """A safe point: raise ``KeyboardInterrupt`` if a SIGINT came since :func:`catching` came in
    force (one that stopped the program never lets it get here: this one was lost)."""
    if _received[0]:
        raise KeyboardInterrupt


__all__ = ["catching", "check"]

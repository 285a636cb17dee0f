"""XLA settings that aelab changes, set through ``XLA_FLAGS`` before JAX starts its backend.

One setting: YNNPACK's reduction fusions are off. jaxlib 0.10 runs small reductions (a batch
norm's means, a bias's gradient) through YNNPACK by default, and on CPU they make the ladder
network's step about four times slower (``BENCHMARKS.md``, "Issue 13, seventh session").
The default run's numbers are the same with them on or off.

Only for the jaxlib versions it was measured on (an unknown flag in ``XLA_FLAGS`` stops
XLA), never over a user's own setting of the flag, and only before JAX's backend starts
(``import aelab`` before the first JAX computation of the process).
"""

from __future__ import annotations

import os
import re
from importlib.util import find_spec
from pathlib import Path

YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
MEASURED_JAXLIB = ("0.10.",)  # versions whose XLA knows the flag and was measured with it


def jaxlib_version() -> str | None:
    """The installed jaxlib's version, read from its ``version.py`` without importing it
    (``importlib.metadata`` alone would add 25 ms to ``import aelab``); ``None`` if unknown."""
    try:
        spec = find_spec("jaxlib")
        folder = Path(next(iter(spec.submodule_search_locations)))
        text = (folder / "version.py").read_text(encoding="utf-8")
    except (AttributeError, TypeError, StopIteration, OSError, ValueError):
        return None
    found = re.search(r'^_version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else None


def tune_xla() -> bool:
    """Add ``--xla_cpu_experimental_ynn_fusion_type=-reduce`` to ``XLA_FLAGS``; return whether
    it was added (not for another jaxlib, nor when the user's flags set it already)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if YNN_FLAG.lstrip("-") in flags:
        return False
    version = jaxlib_version()
    if version is None or not version.startswith(MEASURED_JAXLIB):
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {YNN_FLAG}=-reduce".strip()
    return True


__all__ = ["YNN_FLAG", "jaxlib_version", "tune_xla"]

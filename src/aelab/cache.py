"""JAX's compilation cache for aelab: compiled training programs kept between runs, so that a
second run skips most compiling. A cached program is the same program: the numbers do not
change.

``AELAB_COMPILATION_CACHE`` names the folder (default ``$XDG_CACHE_HOME/aelab/xla``, that is
``~/.cache/aelab/xla``) or is ``off``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Programs that compile faster than this are not worth a file (JAX's default is 1 s, which
# would keep none of a small run's programs).
MIN_COMPILE_SECONDS = 0.05


def compilation_cache_dir() -> Path | None:
    """The folder ``AELAB_COMPILATION_CACHE`` asks for (``None``: off)."""
    setting = os.environ.get("AELAB_COMPILATION_CACHE", "")
    if setting.strip().lower() == "off":
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aelab" / "xla"


def enable_compilation_cache() -> Path | None:
    """Turn JAX's compilation cache on in the folder of :func:`compilation_cache_dir`; return
    that folder (``None``: off, nothing changed).

    Before JAX is imported this imports nothing: it sets the environment variables JAX reads
    when it is imported (``JAX_COMPILATION_CACHE_DIR``,
    ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``), so that commands that train nothing
    never start JAX. Once JAX is imported it sets JAX's configuration instead.
    """
    folder = compilation_cache_dir()
    if folder is None:
        return None
    if "jax" in sys.modules:
        import jax  # already imported: too late for the environment, and free to import

        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    else:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)
        os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(MIN_COMPILE_SECONDS)
    return folder


__all__ = ["MIN_COMPILE_SECONDS", "compilation_cache_dir", "enable_compilation_cache"]

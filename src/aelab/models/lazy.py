"""``jax`` and ``jax.numpy`` for the model families, imported when a model first uses them.

The families' declarations (names, settings, help texts) are read by ``aelab.config`` and by
the command line's options and help, none of which needs JAX, and importing JAX takes a
second or more. So the modules of this package take ``jax`` and ``jnp`` from here: stand-ins
that import the real module at their first attribute look-up (``jnp.zeros``, ``jax.random``)
and hand every look-up to it. Module-level code of this package therefore looks nothing up in
JAX: type aliases are strings and activations are found by name when a model runs.

Why stand-ins rather than the alternatives: splitting each family file into a JAX-free
declaration and a network would double the files a family needs; ``importlib``'s
``LazyLoader`` would put a half-made ``jax`` into ``sys.modules`` that every other
``import jax`` shares, and cannot defer ``jax.numpy`` (finding a submodule imports its
package). The stand-ins change nothing outside this package: JAX is in ``sys.modules`` only
once it is really imported, by the ordinary import system. Type checkers see the real modules.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class LazyModule:
    """A stand-in for the module ``name``: imports it at the first attribute look-up and
    hands every look-up to it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr in ("_name", "_module"):  # not set yet (a copy): no recursion
            raise AttributeError(attr)
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<module {self._name!r}, {state}>"


if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax = LazyModule("jax")
    jnp = LazyModule("jax.numpy")

__all__ = ["LazyModule", "jax", "jnp"]

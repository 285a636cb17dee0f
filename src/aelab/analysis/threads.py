"""One thread for the small NumPy, SciPy and scikit-learn computations of measuring (kNN,
probes, baselines): on a busy 2-core machine their thread pools fight over the cores."""

from __future__ import annotations

import sys

from threadpoolctl import ThreadpoolController

_POOLS: list = [None, -1]  # threadpoolctl's controller, and len(sys.modules) when it was made


def one_thread(user_api: str | None = "blas"):
    """A context in which the thread pools of ``user_api`` ("blas", "openmp"; None: both) run
    one thread. NumPy's matrix products: once JAX or SciPy is imported, a product of 256 x 16
    by 16 x 900 took 10-16 ms on two OpenBLAS threads of a busy 2-core machine, and 0.1 ms on
    one. (JAX's programs keep their own threads.) Finding the pools lists every loaded
    library, about 10 ms, so it is done again only when modules were imported since."""
    if _POOLS[1] != len(sys.modules):
        _POOLS[:] = [ThreadpoolController(), len(sys.modules)]
    return _POOLS[0].limit(limits=1, user_api=user_api)

"""A batch of models is one parameter pytree with leading axes: stacking models, taking one,
and bringing them to the host."""

from __future__ import annotations

import jax
import numpy as np

from aelab.models import Params
from aelab.training.parallel import host


def to_numpy(tree: Params) -> Params:
    """The same pytree with NumPy leaves (host memory), e.g. to slice or save it cheaply;
    arrays sharded over devices or hosts are gathered whole."""
    return jax.tree.map(host, tree)


def stack(trees: list[Params]) -> Params:
    """Stack parameter pytrees along a new leading axis: a batch of models."""
    return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


def unstack(tree: Params, i: int) -> Params:
    """Model ``i`` of a batch of models."""
    return jax.tree.map(lambda a: a[i], tree)

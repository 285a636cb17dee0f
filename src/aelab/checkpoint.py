"""Checkpoints as plain ``.npz`` arrays: loading one never executes code (no pickle).

A checkpoint holds the model's description (JSON text) and one array per parameter, named by
its place in the parameter tree (``encoder.0.w``). Loading rebuilds the model, checks every
array against the shapes the model expects, and names whatever does not fit.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import jax
import numpy as np

from aelab.errors import CheckpointError
from aelab.models import Autoencoder, Params

_FORMAT = "aelab-checkpoint-1"


def _leaf_name(path) -> str:
    return ".".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def save_checkpoint(path: str | Path, model: Autoencoder, params: Params) -> None:
    """Write ``params`` of ``model`` (one model, no leading batch axis) to ``path``."""
    meta = {"format": _FORMAT, "family": "autoencoder", "model": dataclasses.asdict(model)}
    arrays = {
        _leaf_name(p): np.asarray(leaf)
        for p, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
    }
    with open(path, "wb") as f:
        np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)


def load_checkpoint(path: str | Path) -> tuple[Autoencoder, Params]:
    """Read a checkpoint written by :func:`save_checkpoint`; return the model and parameters."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or not an aelab checkpoint ({exc})"
        ) from None
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"unknown format {meta.get('format')!r}")
        fields = meta["model"]
        fields["hidden"] = tuple(fields["hidden"])
        model = Autoencoder(**fields)
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has no valid model description ({exc})"
        ) from None

    template = jax.eval_shape(model.init, jax.random.key(0))
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = []
    for p, spec in paths:
        name = _leaf_name(p)
        if name not in arrays:
            raise CheckpointError(f"checkpoint {str(path)!r} lacks parameter {name!r}")
        value = arrays.pop(name)
        if value.shape != spec.shape or value.dtype != spec.dtype:
            raise CheckpointError(
                f"checkpoint {str(path)!r}: parameter {name!r} has shape {value.shape} "
                f"{value.dtype}, the model needs {spec.shape} {spec.dtype}"
            )
        leaves.append(value)
    if arrays:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has unexpected arrays {sorted(arrays)}; "
            "it was not written for this model"
        )
    return model, jax.tree_util.tree_unflatten(treedef, leaves)

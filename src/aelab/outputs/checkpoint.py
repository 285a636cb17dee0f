"""Checkpoints as plain ``.npz`` arrays: loading one never executes code (no pickle).

A checkpoint holds a JSON description (the model, and facts about the data it was trained on)
and one array per parameter, named by its place in the parameter tree (``encoder.0.w``).
Loading rebuilds the model, reads each array's header, checks its shape and type against the
model before reading its data, and names whatever does not fit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

from aelab.errors import CheckpointError
from aelab.models import FAMILIES, AbstractModel, Params, family_of

_FORMAT = "aelab-checkpoint-1"
_META = "__meta__"
_MAX_META_BYTES = 1 << 20
# What a damaged or foreign file can raise while it is read; each becomes a CheckpointError.
_CORRUPT = (
    OSError, ValueError, TypeError, KeyError, AttributeError, OverflowError, zipfile.BadZipFile
)  # fmt: skip


def _leaf_name(path) -> str:
    return ".".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def parameter_arrays(params: Params) -> dict[str, np.ndarray]:
    """Every parameter of ``params`` as a NumPy array, named by its place in the tree
    (``encoder.0.w``, ``stats.encoder.0.mean``): the names checkpoints and exports use."""
    return {
        _leaf_name(p): np.asarray(leaf)
        for p, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
    }


def save_checkpoint(
    path: str | Path, model: AbstractModel, params: Params, info: dict[str, Any] | None = None
) -> None:
    """Write ``params`` of ``model`` (one model, no leading batch axis) to ``path``.

    ``info`` is JSON-ready data kept beside the model, e.g. the scaling of the inputs;
    :func:`checkpoint_info` reads it back.
    """
    meta = {
        "format": _FORMAT,
        "family": family_of(model).name,
        "model": dataclasses.asdict(model),
        "info": info or {},
    }
    arrays = parameter_arrays(params)
    with open(path, "wb") as f:
        np.savez(f, **{_META: np.array(json.dumps(meta))}, **arrays)


def _read_array(zf: zipfile.ZipFile, name: str, shape=None, dtype=None) -> np.ndarray:
    """One array of the archive; its header is checked before any data is read."""
    with zf.open(f"{name}.npy") as f:
        version = np.lib.format.read_magic(f)
        header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        found_shape, fortran, found_dtype = header(f)
        if found_dtype.hasobject:
            raise CheckpointError(f"array {name!r} holds Python objects; refusing to load it")
        if name == _META:
            if found_shape != () or found_dtype.itemsize > _MAX_META_BYTES:
                raise CheckpointError(f"{_META} is not a short JSON text")
        elif found_shape != shape or found_dtype != dtype:
            raise CheckpointError(
                f"parameter {name!r} has shape {found_shape} {found_dtype}, the model needs "
                f"{shape} {dtype}"
            )
        count = int(np.prod(found_shape))
        data = np.frombuffer(f.read(count * found_dtype.itemsize), dtype=found_dtype)
        if data.size != count:
            raise CheckpointError(f"array {name!r} is truncated")
        return data.reshape(found_shape, order="F" if fortran else "C")


def _read_meta(zf: zipfile.ZipFile) -> dict[str, Any]:
    meta = json.loads(str(_read_array(zf, _META)[()]))
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise CheckpointError("it has no aelab checkpoint description")
    return meta


@contextlib.contextmanager
def _archive(path: str | Path) -> Iterator[zipfile.ZipFile]:
    """Open a checkpoint; whatever a damaged or foreign file raises becomes CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            yield zf
    except CheckpointError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r}: {exc}") from None
    except _CORRUPT as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or not an aelab checkpoint ({exc})"
        ) from None


def load_checkpoint(path: str | Path) -> tuple[AbstractModel, Params]:
    """Read a checkpoint written by :func:`save_checkpoint`; return the model and parameters.

    Raises:
        CheckpointError: the file is missing, is not an aelab checkpoint, or does not match
            the model it describes. Nothing in the file is ever executed.
    """
    with _archive(path) as zf:
        meta = _read_meta(zf)
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["model"].items()}
        family = FAMILIES.get(meta["family"])
        if family is None:
            raise CheckpointError(
                f"it holds a model of family {meta['family']!r}, which this aelab does not know"
            )
        model = family.model(**fields)
        template = jax.eval_shape(model.init, jax.random.key(0))
        paths, treedef = jax.tree_util.tree_flatten_with_path(template)
        expected = {_leaf_name(p) for p, _ in paths}
        found = {n.removesuffix(".npy") for n in zf.namelist()} - {_META}
        if found != expected:
            raise CheckpointError(
                f"its arrays {sorted(found)} are not the parameters of the model it "
                f"describes ({sorted(expected)})"
            )
        leaves = [_read_array(zf, _leaf_name(p), spec.shape, spec.dtype) for p, spec in paths]
    return model, jax.tree_util.tree_unflatten(treedef, leaves)


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    """What a checkpoint says about its data: ``feature_names``, ``class_names``,
    ``scaler_mean`` and ``scaler_scale`` (raw inputs ``x`` become ``(x - mean) / scale``); for
    a table that was encoded, also ``raw_features``, ``categories`` and ``impute_values``
    (:meth:`aelab.data.Split.info`)."""
    with _archive(path) as zf:
        return dict(_read_meta(zf).get("info", {}))

import io
import json
import zipfile

import jax
import numpy as np
import pytest

from aelab.errors import CheckpointError
from aelab.models.autoencoder import Autoencoder
from aelab.outputs.checkpoint import checkpoint_info, load_checkpoint, save_checkpoint

MODEL = Autoencoder(n_inputs=5, n_classes=3, hidden=(6,), code=2)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.npz"
    save_checkpoint(path, MODEL, MODEL.init(jax.random.key(3)), info={"class_names": ["a"]})
    return path


def test_round_trip_gives_identical_predictions(saved):
    model, loaded = load_checkpoint(saved)
    assert model == MODEL
    x = np.random.default_rng(0).normal(size=(9, 5)).astype(np.float32)
    params = MODEL.init(jax.random.key(3))
    for a, b in zip(MODEL.apply(params, x), model.apply(loaded, x), strict=True):
        np.testing.assert_array_equal(a, b)
    assert checkpoint_info(saved) == {"class_names": ["a"]}


def test_a_tampered_parameter_is_named(tmp_path):
    params = MODEL.init(jax.random.key(0))
    params["head"]["w"] = np.zeros((3, 3), np.float32)
    save_checkpoint(tmp_path / "m.npz", MODEL, params)
    with pytest.raises(CheckpointError, match=r"parameter 'head.w' has shape \(3, 3\)"):
        load_checkpoint(tmp_path / "m.npz")


def _rewrite(source, target, meta=None, extra=None):
    """Copy a checkpoint, replacing its description and adding raw archive members."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "__meta__.npy" and meta is not None:
                buf = io.BytesIO()
                np.save(buf, np.array(json.dumps(meta)))
                data = buf.getvalue()
            zout.writestr(item, data)
        for item, data in (extra or {}).items():
            zout.writestr(item, data)


def _meta(saved):
    with zipfile.ZipFile(saved) as zf, zf.open("__meta__.npy") as f:
        return json.loads(str(np.load(f)))


@pytest.mark.parametrize(
    "change",
    [
        lambda m: 3,
        lambda m: [m],
        lambda m: {**m, "format": "other"},
        lambda m: {**m, "model": {**m["model"], "n_inputs": -4}},
        lambda m: {**m, "model": {**m["model"], "n_inputs": "5"}},
        lambda m: {**m, "model": {**m["model"], "hidden": [1.5]}},
        lambda m: {**m, "model": {**m["model"], "activation": "nope"}},
        lambda m: {**m, "model": {**m["model"], "n_inputs": 10**12}},
        lambda m: {**m, "model": {"n_inputs": 5}},
    ],
)
def test_a_crafted_description_is_refused(saved, tmp_path, change):
    target = tmp_path / "crafted.npz"
    _rewrite(saved, target, meta=change(_meta(saved)))
    with pytest.raises(CheckpointError, match=r"crafted.npz"):
        load_checkpoint(target)


def test_an_array_declaring_a_huge_shape_is_refused_before_reading(saved, tmp_path):
    target = tmp_path / "huge.npz"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": (10**14,)}
    )
    with zipfile.ZipFile(saved) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "head.w.npy":
                data = b"\x93NUMPY\x01\x00" + buf.getvalue()[8:]
            zout.writestr(item, data)
    with pytest.raises(CheckpointError, match=r"'head.w' has shape \(100000000000000,\)"):
        load_checkpoint(target)


def test_an_extra_array_is_refused(saved, tmp_path):
    target = tmp_path / "extra.npz"
    _rewrite(saved, target, extra={"payload.npy": b"\x93NUMPY"})
    with pytest.raises(CheckpointError, match=r"not the parameters of the model"):
        load_checkpoint(target)


def test_garbage_and_pickles_are_refused_without_running_them(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match=r"corrupt or not an aelab checkpoint"):
        load_checkpoint(tmp_path / "junk.npz")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match=r"corrupt or not an aelab checkpoint"):
        load_checkpoint(tmp_path / "plain.npy")
    np.savez(tmp_path / "pickled.npz", __meta__=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(CheckpointError, match=r"holds Python objects; refusing to load it"):
        load_checkpoint(tmp_path / "pickled.npz")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=r"does not exist"):
        load_checkpoint(tmp_path / "none.npz")

import jax
import numpy as np
import pytest

from aelab.checkpoint import load_checkpoint, save_checkpoint
from aelab.errors import CheckpointError
from aelab.models import Autoencoder

MODEL = Autoencoder(n_inputs=5, n_classes=3, hidden=(6,), code=2)


def test_round_trip_gives_identical_predictions(tmp_path):
    params = MODEL.init(jax.random.key(3))
    save_checkpoint(tmp_path / "m.npz", MODEL, params)
    model, loaded = load_checkpoint(tmp_path / "m.npz")
    assert model == MODEL
    x = np.random.default_rng(0).normal(size=(9, 5)).astype(np.float32)
    for a, b in zip(MODEL.apply(params, x), model.apply(loaded, x), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_tampered_parameter_is_named(tmp_path):
    params = MODEL.init(jax.random.key(0))
    params["head"]["w"] = np.zeros((3, 3), np.float32)
    save_checkpoint(tmp_path / "m.npz", MODEL, params)
    with pytest.raises(CheckpointError, match=r"parameter 'head.w' has shape \(3, 3\)"):
        load_checkpoint(tmp_path / "m.npz")


def test_garbage_and_pickles_are_refused_without_running_them(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match=r"corrupt or not an aelab checkpoint"):
        load_checkpoint(tmp_path / "junk.npz")
    np.savez(tmp_path / "pickled.npz", __meta__=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(CheckpointError, match=r"corrupt or not an aelab checkpoint"):
        load_checkpoint(tmp_path / "pickled.npz")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=r"does not exist"):
        load_checkpoint(tmp_path / "none.npz")

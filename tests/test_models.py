"""The shared contract every model family must pass: shapes, determinism, init, consistency.

Every family of the registry is in it (a new family's file brings it here), beside hand-made
variants of the families (deep, dropout, batch norm, other activations)."""

import jax
import numpy as np
import pytest

from aelab.config import ModelConfig
from aelab.models import FAMILIES as REGISTRY
from aelab.models import family_of
from aelab.models.autoencoder import Autoencoder
from aelab.models.ladder import LadderNetwork
from aelab.models.vae import VariationalAutoencoder

VARIANTS = [
    Autoencoder(n_inputs=4, n_classes=3),  # the original
    Autoencoder(n_inputs=6, n_classes=2, hidden=(8, 5), code=3, activation="relu"),
    Autoencoder(n_inputs=5, n_classes=4, code=1, code_activation="tanh"),
    Autoencoder(n_inputs=3, n_classes=2, code=2, dropout=0.3, output_activation="tanh"),
    VariationalAutoencoder(n_inputs=4, n_classes=3, hidden=(6,), code=2, beta=2.0),
    Autoencoder(n_inputs=4, n_classes=3, hidden=(5,), batch_norm=True, dropout=0.1),
    VariationalAutoencoder(n_inputs=4, n_classes=3, hidden=(5,), batch_norm=True),
    LadderNetwork(n_inputs=4, n_classes=3, hidden=(5,), code=2, weights=(1.0, 0.1, 0.1, 0.1)),
]
# ... and every other registered family, as its config builds it (on signals of 4 samples
# and with one convolution: the convolutional families need a shape, the others ignore both)
FAMILIES = VARIANTS + [
    ModelConfig(family=name, hidden=(5,), conv=(6,)).build(4, 3, (4,))
    for name, family in REGISTRY.items()
    if family.model not in {type(m) for m in VARIANTS}
]


@pytest.mark.parametrize("model", FAMILIES)
def test_shapes(model):
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(7, model.n_inputs)).astype(np.float32)
    z, x_hat, logits = model.apply(params, x)
    assert z.shape == (7, model.code)
    assert x_hat.shape == x.shape
    assert logits.shape == (7, model.n_classes)
    np.testing.assert_allclose(z, model.encode(params, x))
    if family_of(model).decodes:  # a ladder decodes from every layer, not z alone
        np.testing.assert_allclose(x_hat, model.decode(params, z))


@pytest.mark.parametrize("model", FAMILIES)
def test_hidden_layers_are_the_encoder_s_layers_with_the_code_last(model):
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(7, model.n_inputs)).astype(np.float32)
    layers = model.hidden_layers(params, x)
    convolutions = len(getattr(model, "conv", ()))  # feature maps first, flattened
    assert len(layers) == convolutions + len(model.hidden) + 1
    assert [h.shape for h in layers[convolutions:]] == [(7, w) for w in (*model.hidden, model.code)]
    assert all(h.ndim == 2 and h.shape[0] == 7 for h in layers)
    np.testing.assert_allclose(layers[-1], model.encode(params, x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("model", FAMILIES)
def test_init_is_determined_by_the_key(model):
    a, b, c = (model.init(jax.random.key(s)) for s in (0, 0, 1))
    same = [np.array_equal(u, v) for u, v in zip(*map(jax.tree.leaves, (a, b)), strict=True)]
    other = [np.array_equal(u, v) for u, v in zip(*map(jax.tree.leaves, (a, c)), strict=True)]
    assert all(same) and not all(other)


def test_original_network_layout_and_init_bounds():
    params = Autoencoder(n_inputs=4, n_classes=3).init(jax.random.key(0))
    (enc,), (dec,) = params["encoder"], params["decoder"]
    assert enc["w"].shape == (4, 2) and dec["w"].shape == (2, 4)
    assert params["head"]["w"].shape == (2, 3)
    assert np.abs(enc["w"]).max() <= 1 / np.sqrt(4)  # PyTorch nn.Linear's default range
    assert np.abs(dec["w"]).max() <= 1 / np.sqrt(2)


def test_sigmoid_code_is_in_the_unit_interval():
    model = Autoencoder(n_inputs=4, n_classes=3)
    z = model.encode(model.init(jax.random.key(0)), 10 * np.ones((3, 4), np.float32))
    assert (np.asarray(z) > 0).all() and (np.asarray(z) < 1).all()


def test_dropout_acts_only_in_training_mode():
    model = Autoencoder(n_inputs=6, n_classes=2, code=4, dropout=0.5)  # dropout on the code
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    evaluation = [np.asarray(a) for a in model.apply(params, x)]
    np.testing.assert_array_equal(evaluation[0], model.encode(params, x))
    train_a = model.apply(params, x, jax.random.key(1))
    train_b = model.apply(params, x, jax.random.key(1))
    train_c = model.apply(params, x, jax.random.key(2))
    np.testing.assert_array_equal(train_a[0], train_b[0])
    assert not np.array_equal(train_a[0], train_c[0])
    dropped = np.asarray(train_a[0]) == 0
    assert 0.35 < dropped.mean() < 0.65  # about half of the code units are dropped
    kept = ~dropped
    np.testing.assert_allclose(np.asarray(train_a[0])[kept], 2 * evaluation[0][kept], rtol=1e-5)


def _tiny_batch(model, n=40):
    from aelab.training.feeding import Batch

    rng = np.random.default_rng(0)
    y = np.arange(n) % model.n_classes
    centres = rng.normal(size=(model.n_classes, model.n_inputs))
    x = (centres[y] + 0.3 * rng.normal(size=(n, model.n_inputs))).astype(np.float32)
    return x, Batch.from_split(x, y, np.arange(n) % 4 != 0)


@pytest.mark.parametrize("model", FAMILIES)
def test_the_loss_goes_down_and_a_checkpoint_gives_identical_predictions(model, tmp_path):
    from aelab.outputs.checkpoint import load_checkpoint, save_checkpoint
    from aelab.training.trainer import train_phase
    from aelab.training.trees import stack, to_numpy, unstack

    x, batch = _tiny_batch(model)
    init = to_numpy(model.init(jax.random.key(0)))
    # Two models, as in the next test: the same program (shapes and chunk), compiled once.
    result = train_phase(
        model, stack([init, init]), batch, ce_weight=np.ones(2), recon_weight=np.ones(2),
        learning_rate=0.01, steps=200, snapshot_every=50, key=jax.random.key(1),
    )  # fmt: skip
    loss = result.history[0, :, 0]
    assert loss[-10:].mean() < 0.7 * loss[:10].mean()
    params = unstack(result.params, 0)
    save_checkpoint(tmp_path / "m.npz", model, params)
    loaded_model, loaded = load_checkpoint(tmp_path / "m.npz")
    assert loaded_model == model
    for a, b in zip(model.apply(params, x), loaded_model.apply(loaded, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("model", FAMILIES)
def test_a_model_trains_the_same_whatever_its_batch_neighbours_do(model):
    """vmap keeps models apart: weights, optimiser state, random streams, batch statistics."""
    from aelab.training.trainer import train_phase
    from aelab.training.trees import stack, to_numpy

    _, batch = _tiny_batch(model)
    inits = [to_numpy(model.init(jax.random.key(s))) for s in (0, 1, 2)]
    common = {"learning_rate": 0.01, "steps": 50, "snapshot_every": 50, "key": jax.random.key(3)}
    a = train_phase(
        model, stack(inits[:2]), batch, ce_weight=np.ones(2), recon_weight=np.array([0.0, 1.0]),
        **common,
    )  # fmt: skip
    b = train_phase(
        model, stack([inits[2], inits[1]]), batch, ce_weight=np.array([0.0, 1.0]),
        recon_weight=np.ones(2), **common,
    )  # fmt: skip
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_allclose(u[1], v[1], rtol=1e-5, atol=1e-6)

import jax
import numpy as np
import pytest

from aelab.data import load_dataset, split_dataset
from aelab.models.autoencoder import Autoencoder
from aelab.training.feeding import Batch
from aelab.training.greedy import greedy_pretrain
from aelab.training.program import Weights
from aelab.training.trainer import Models, Schedule, train_phase
from aelab.training.trees import stack, to_numpy, unstack

DEEP = Autoencoder(n_inputs=4, n_classes=3, hidden=(8, 6), code=2, activation="tanh")


@pytest.fixture(scope="module")
def iris():
    split = split_dataset(load_dataset("iris"), 0.5, seed=0)
    return split, Batch.from_split(split.x, split.y, split.is_train)


def test_layer_models_mirror_the_stack():
    levels = DEEP.layers()
    assert [(m.n_inputs, m.code) for m in levels] == [(4, 8), (8, 6), (6, 2)]
    assert [m.code_activation for m in levels] == ["tanh", "tanh", "sigmoid"]
    assert [m.output_activation for m in levels] == ["linear", "tanh", "tanh"]


def _greedy(model, batch, steps=300, learning_rates=(0.01,), **kw):
    """Greedy pretraining of one seed's models, one per learning rate (each alone)."""
    init = to_numpy(model.init(jax.random.key(0)))
    k = len(learning_rates)
    ones, zeros = np.ones((1, k), np.float32), np.zeros((1, k), np.float32)
    models = Models(
        params=jax.tree.map(lambda a: np.stack([a] * k)[None], init),
        weights=Weights(
            ce=zeros, recon=ones, penalty=ones, noise_level=zeros,
            decay_end=np.inf * ones, decay_span=ones,
        ),  # fmt: skip
        learning_rate=np.asarray([learning_rates], np.float32),
        keys=None,  # each layer's keys come from the phase's key
        order_keys=None,
    )
    mask = np.stack([np.asarray(batch.recon_mask)] * k)[None]
    grouped = Batch(np.asarray(batch.x)[None], np.asarray(batch.y)[None], mask, mask)
    phase_keys = [jax.random.key(1)]
    result = greedy_pretrain(model, models, grouped, Schedule(steps, 100), phase_keys, **kw)
    return init, result.group(0)


def test_greedy_pretraining_trains_every_layer_and_reconstructs(iris):
    split, batch = iris
    seen = []
    init, result = _greedy(DEEP, batch, on_progress=seen.append)
    assert seen[-1] == 900 and seen == sorted(seen)
    assert result.history.shape == (1, 900, 4)
    assert list(result.snapshot_steps) == [600, 700, 800, 900]
    params = unstack(result.params, 0)
    for a, b in zip(
        jax.tree.leaves(params["encoder"]), jax.tree.leaves(init["encoder"]), strict=True
    ):
        assert not np.array_equal(a, b)
    np.testing.assert_array_equal(params["head"]["w"], init["head"]["w"])
    x = split.x[split.is_train]
    mse = float(np.mean((np.asarray(DEEP.decode(params, DEEP.encode(params, x))) - x) ** 2))
    assert mse < 0.5  # 1.0 would be a constant guess
    np.testing.assert_allclose(result.snapshots[-1, 0], DEEP.encode(params, split.x), atol=1e-5)


def test_with_one_layer_greedy_is_end_to_end(iris):
    _, batch = iris
    model = Autoencoder(n_inputs=4, n_classes=3)
    init, greedy = _greedy(model, batch)
    e2e = train_phase(
        model, stack([init]), batch, ce_weight=np.zeros(1), recon_weight=np.ones(1),
        learning_rate=0.01, steps=300, snapshot_every=100,
    )  # fmt: skip
    for a, b in zip(jax.tree.leaves(greedy.params), jax.tree.leaves(e2e.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_each_model_of_a_greedy_phase_trains_as_if_alone(iris):
    _, batch = iris
    _, both = _greedy(DEEP, batch, steps=100, learning_rates=(0.01, 0.003))
    _, alone = _greedy(DEEP, batch, steps=100, learning_rates=(0.003,))
    for a, b in zip(jax.tree.leaves(both.params), jax.tree.leaves(alone.params), strict=True):
        np.testing.assert_allclose(a[1], b[0], rtol=1e-5, atol=1e-6)

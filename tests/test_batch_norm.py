import jax
import numpy as np

from aelab.data import load_dataset, split_dataset
from aelab.models.autoencoder import Autoencoder
from aelab.outputs.checkpoint import load_checkpoint, save_checkpoint
from aelab.training.feeding import Batch
from aelab.training.trainer import train_phase
from aelab.training.trees import stack, to_numpy, unstack

# A linear code makes the normalised pre-activation visible in the code itself.
BN = Autoencoder(n_inputs=4, n_classes=3, code=3, code_activation="linear", batch_norm=True)
X = np.random.default_rng(0).normal(2.0, 3.0, size=(40, 4)).astype(np.float32)
ROWS = (np.arange(40) < 30).astype(np.float32)


def test_training_normalises_with_the_training_rows_only():
    params = BN.init(jax.random.key(0))
    (z, *_), stats = BN.train_forward(params, X, jax.random.key(1), ROWS)
    z = np.asarray(z)
    np.testing.assert_allclose(z[:30].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:30].std(axis=0), 1, atol=1e-3)
    moved = X.copy()
    moved[30:] += 100.0  # held-out rows far away: the training rows' code must not change
    (z2, *_), stats2 = BN.train_forward(params, moved, jax.random.key(1), ROWS)
    np.testing.assert_allclose(np.asarray(z2)[:30], z[:30], rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree.leaves(stats), jax.tree.leaves(stats2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_running_statistics_follow_the_batch_with_momentum():
    params = BN.init(jax.random.key(0))
    (_, _, _, _), stats = BN.train_forward(params, X, jax.random.key(1), ROWS)
    a = X[:30] @ np.asarray(params["encoder"][0]["w"])  # no bias before batch norm
    new = stats["encoder"][0]
    np.testing.assert_allclose(new["mean"], 0.1 * a.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new["var"], 0.9 + 0.1 * a.var(axis=0), rtol=1e-4)


def test_training_updates_the_running_statistics_and_evaluation_uses_them():
    split = split_dataset(load_dataset("iris"), 0.5, seed=0)
    batch = Batch.from_split(split.x, split.y, split.is_train)
    model = Autoencoder(n_inputs=4, n_classes=3, hidden=(8,), batch_norm=True)
    init = to_numpy(model.init(jax.random.key(0)))
    result = train_phase(
        model, stack([init]), batch, ce_weight=np.zeros(1), recon_weight=np.ones(1),
        learning_rate=0.01, steps=300, snapshot_every=100, key=jax.random.key(1),
    )  # fmt: skip
    params = unstack(result.params, 0)
    hidden = split.x[split.is_train] @ params["encoder"][0]["w"]
    running = params["stats"]["encoder"][0]
    np.testing.assert_allclose(running["mean"], hidden.mean(axis=0), rtol=0.05, atol=0.05)
    np.testing.assert_allclose(running["var"], hidden.var(axis=0), rtol=0.1, atol=0.05)
    evaluation = np.asarray(model.encode(params, split.x))
    training = np.asarray(model.encode(params, split.x, jax.random.key(2)))
    assert not np.allclose(evaluation, training)  # batch vs running statistics
    np.testing.assert_allclose(result.snapshots[-1, 0], evaluation, atol=1e-6)


def test_batch_norm_checkpoints_keep_the_running_statistics(tmp_path):
    params = BN.init(jax.random.key(0))
    params["stats"]["encoder"][0]["mean"] = np.array([1.0, 2.0, 3.0], np.float32)
    save_checkpoint(tmp_path / "bn.npz", BN, params)
    model, loaded = load_checkpoint(tmp_path / "bn.npz")
    np.testing.assert_array_equal(loaded["stats"]["encoder"][0]["mean"], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(model.encode(loaded, X), BN.encode(params, X), atol=1e-6)


def test_evaluation_reconstructs_as_well_as_training_after_long_training():
    """Running statistics must not lag behind what training normalises with: a bias before
    batch norm, moved by Adam on numerical noise, once made evaluation 15 times worse."""
    split = split_dataset(load_dataset("digits"), 0.5, seed=0)
    batch = Batch.from_split(split.x, split.y, split.is_train)
    model = Autoencoder(64, 10, hidden=(32,), code=2, activation="relu", batch_norm=True)
    init = to_numpy(model.init(jax.random.key(0)))
    result = train_phase(
        model, stack([init]), batch, ce_weight=np.zeros(1), recon_weight=np.ones(1),
        learning_rate=0.01, steps=1500, snapshot_every=500, key=jax.random.key(1),
    )  # fmt: skip
    params, x = unstack(result.params, 0), split.x[split.is_train]
    (_, trained, _, _), _ = model.train_forward(params, x, jax.random.key(2))
    _, evaluated, _ = model.apply(params, x)
    train_mse = float(np.mean((np.asarray(trained) - x) ** 2))
    eval_mse = float(np.mean((np.asarray(evaluated) - x) ** 2))
    assert eval_mse < 1.1 * train_mse

"""Few labels: the cross-entropy sees the labelled samples, the reconstruction all of them."""

import jax
import numpy as np
import pytest

import aelab
from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.data import load_dataset, split_dataset
from aelab.errors import ConfigError
from aelab.models.autoencoder import Autoencoder
from aelab.training.feeding import Batch
from aelab.training.trainer import train_phase
from aelab.training.trees import stack, to_numpy


def test_labels_per_class_are_a_seeded_subset_of_the_training_part():
    split = split_dataset(load_dataset("iris"), 0.5, seed=0, labels=4)
    assert (split.is_labelled <= split.is_train).all()
    assert np.bincount(split.y[split.is_labelled]).tolist() == [4, 4, 4]
    again = split_dataset(load_dataset("iris"), 0.5, seed=0, labels=4)
    other = split_dataset(load_dataset("iris"), 0.5, seed=1, labels=4)
    assert np.array_equal(split.is_labelled, again.is_labelled)
    assert not np.array_equal(split.is_labelled, other.is_labelled)


def test_more_labels_than_samples_is_refused():
    with pytest.raises(ConfigError, match=r"data.labels=30 needs 30 training samples of each"):
        split_dataset(load_dataset("iris"), 0.5, seed=0, labels=30)


@pytest.fixture(scope="module")
def few_labels():
    split = split_dataset(load_dataset("iris"), 0.5, seed=0, labels=3)
    return split, Batch.from_split(split.x, split.y, split.is_train, split.is_labelled)


# Full batch, and minibatches of 8 in shuffled epochs or drawn with replacement.
MINIBATCHES = [None, (8, "epochs"), (8, "draws")]


def _train(model, batch, recon, minibatch=None):
    init = to_numpy(model.init(jax.random.key(0)))
    size, sampling = (None, "epochs") if minibatch is None else minibatch
    return train_phase(
        model, stack([init]), batch, ce_weight=np.ones(1), recon_weight=np.array([recon]),
        learning_rate=0.01, steps=100, snapshot_every=100, key=jax.random.key(1),
        batch_size=size, sampling=sampling,
    ).params  # fmt: skip


@pytest.mark.parametrize(
    ("batch_norm", "batch_size"), [(False, None)] + [(True, m) for m in MINIBATCHES]
)
def test_unlabelled_labels_are_never_read(few_labels, batch_norm, batch_size):
    split, batch = few_labels
    model = Autoencoder(4, 3, hidden=(6,), batch_norm=batch_norm)
    scrambled = np.where(split.is_labelled, split.y, (split.y + 1) % 3)
    other = Batch.from_split(split.x, scrambled, split.is_train, split.is_labelled)
    for a, b in zip(
        jax.tree.leaves(_train(model, batch, 1.0, batch_size)),
        jax.tree.leaves(_train(model, other, 1.0, batch_size)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch_size", MINIBATCHES)
def test_a_model_without_reconstruction_sees_only_the_labelled_samples(few_labels, batch_size):
    """Its batch statistics too: moving the unlabelled inputs changes nothing for it."""
    split, batch = few_labels
    model = Autoencoder(4, 3, hidden=(6,), batch_norm=True)
    moved_x = np.where((split.is_train & ~split.is_labelled)[:, None], split.x + 5.0, split.x)
    moved = Batch.from_split(moved_x, split.y, split.is_train, split.is_labelled)
    same = zip(
        jax.tree.leaves(_train(model, batch, 0.0, batch_size)),
        jax.tree.leaves(_train(model, moved, 0.0, batch_size)),
        strict=True,
    )
    assert all(np.array_equal(a, b) for a, b in same)
    changed = zip(
        jax.tree.leaves(_train(model, batch, 1.0, batch_size)),
        jax.tree.leaves(_train(model, moved, 1.0, batch_size)),
        strict=True,
    )
    assert not all(np.array_equal(a, b) for a, b in changed)


@pytest.mark.parametrize("batch_size", MINIBATCHES)
def test_held_out_samples_never_reach_training(few_labels, batch_size):
    split, batch = few_labels
    model = Autoencoder(4, 3, hidden=(6,), batch_norm=True)
    test = ~split.is_train
    moved = Batch.from_split(
        np.where(test[:, None], split.x + 5.0, split.x),
        np.where(test, (split.y + 1) % 3, split.y),
        split.is_train,
        split.is_labelled,
    )
    for a, b in zip(
        jax.tree.leaves(_train(model, batch, 1.0, batch_size)),
        jax.tree.leaves(_train(model, moved, 1.0, batch_size)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_a_run_with_few_labels_says_how_many_of_each(tmp_path):
    config = RunConfig(
        data=DataConfig(labels=3),
        train=TrainConfig(pretrain_steps=200, finetune_steps=200, snapshot_every=100),
    )
    result = aelab.run(config, out=tmp_path, name="few")
    data = result.metrics["data"]
    assert (data["n_labelled"], data["n_unlabelled"], data["n_test"]) == (9, 66, 75)
    for values in result.metrics["strategies"].values():
        assert 0 <= values["unlabelled_accuracy"] <= 1
    with np.load(result.run_dir / "latents.npz") as z:
        assert z["is_labelled"].sum() == 9

"""Minibatches: drawn inside the compiled step, only from the rows each loss may see."""

import jax
import numpy as np
import pytest
from click.testing import CliRunner

from aelab.cli import app
from aelab.config import RunConfig, TrainConfig
from aelab.data import load_dataset, split_dataset
from aelab.errors import ConfigError
from aelab.models.autoencoder import Autoencoder
from aelab.training.experiment import train_and_evaluate
from aelab.training.feeding import Batch, EpochOrder, draw_minibatch
from aelab.training.program import HISTORY_FIELDS
from aelab.training.trainer import train_phase
from aelab.training.trees import stack, to_numpy


@pytest.fixture(scope="module")
def few_labels():
    split = split_dataset(load_dataset("iris"), 0.5, seed=0, labels=3)
    return split, Batch.from_split(split.x, split.y, split.is_train, split.is_labelled)


def _indexed(split, labelled=True) -> Batch:
    """The split with each sample's row number as its only feature: draws say their rows."""
    rows = np.arange(len(split.y), dtype=np.float32)[:, None]
    return Batch.from_split(rows, split.y, split.is_train, split.is_labelled if labelled else None)


def _rows(drawn: Batch) -> np.ndarray:
    return np.asarray(drawn.x)[..., 0].astype(int)


def test_a_drawn_minibatch_takes_recon_rows_then_labelled_rows(few_labels):
    split, _ = few_labels
    drawn = draw_minibatch(jax.random.key(0), _indexed(split), 40, shared=False)
    assert drawn.x.shape == (80, 1)
    rows = _rows(drawn)
    assert split.is_train[rows].all()
    assert split.is_labelled[rows[40:]].all()
    assert not split.is_labelled[rows[:40]].all()  # unlabelled ones are drawn too
    np.testing.assert_array_equal(drawn.y, split.y[rows])
    np.testing.assert_array_equal(drawn.recon_mask, np.repeat([1.0, 0.0], 40))
    np.testing.assert_array_equal(drawn.label_mask, np.repeat([0.0, 1.0], 40))


def test_with_every_label_one_draw_serves_both_terms():
    split = split_dataset(load_dataset("iris"), 0.5, seed=0)
    drawn = draw_minibatch(jax.random.key(3), _indexed(split, labelled=False), 30, shared=True)
    assert drawn.x.shape == (30, 1)
    assert split.is_train[_rows(drawn)].all()
    assert np.asarray(drawn.recon_mask).sum() == np.asarray(drawn.label_mask).sum() == 30


def test_draws_cover_the_training_rows_evenly(few_labels):
    split, _ = few_labels
    batch = _indexed(split)
    keys = jax.random.split(jax.random.key(1), 200)
    drawn = jax.vmap(lambda k: draw_minibatch(k, batch, 16, shared=False).x)(keys)
    counts = np.bincount(np.asarray(drawn).ravel().astype(int), minlength=len(split.y))
    assert counts[~split.is_train].sum() == 0
    # 3,200 labelled draws over 9 samples and 3,200 recon draws over 75: each labelled one is
    # drawn about 356 + 43 times, each other training one about 43 times.
    unlabelled = counts[split.is_train & ~split.is_labelled]
    assert unlabelled.min() > 15 and unlabelled.max() < 80
    assert (counts[split.is_labelled] > 300).all()


def test_an_epoch_is_a_permutation_of_the_training_rows(few_labels):
    split, _ = few_labels
    mask = split.is_train.astype(np.float32)  # 75 rows: 4 minibatches of 16 an epoch, 11 left out
    order = EpochOrder(jax.random.key(0), mask, 16).steps(0, 12)
    assert order.shape == (12, 16)
    assert split.is_train[order].all()
    epochs = order.reshape(3, 64)
    for rows in epochs:
        assert len(np.unique(rows)) == 64  # no row twice in an epoch
    assert len({tuple(sorted(rows)) for rows in epochs}) == 3  # a different 11 left out
    assert not np.array_equal(np.sort(epochs[0]), epochs[0])  # shuffled
    # Any stretch of steps, from any start, is the same stretch of one stream.
    later = EpochOrder(jax.random.key(0), mask, 16).steps(5, 7)
    np.testing.assert_array_equal(later, order[5:])
    other = EpochOrder(jax.random.key(1), mask, 16).steps(0, 12)
    assert not np.array_equal(other, order)


def _train(batch, key, batch_size=8, steps=400, sampling="epochs", snapshot_every=100):
    model = Autoencoder(4, 3, hidden=(6,))
    init = to_numpy(model.init(jax.random.key(0)))
    return train_phase(
        model, stack([init, init]), batch, ce_weight=np.array([0.0, 1.0]),
        recon_weight=np.array([1.0, 1.0]), learning_rate=0.01, steps=steps,
        snapshot_every=snapshot_every, key=key, batch_size=batch_size, sampling=sampling,
    )  # fmt: skip


@pytest.mark.parametrize("sampling", ["epochs", "draws"])
def test_minibatch_training_is_seeded_and_learns(few_labels, sampling):
    _, batch = few_labels
    a, b, c = (_train(batch, jax.random.key(k), sampling=sampling) for k in (0, 0, 1))
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(u, v)
    assert not all(
        np.array_equal(u, v)
        for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(c.params), strict=True)
    )
    loss = a.history[..., HISTORY_FIELDS.index("loss")]
    assert (loss[:, -50:].mean(axis=1) < 0.5 * loss[:, :10].mean(axis=1)).all()


@pytest.mark.parametrize("sampling", ["epochs", "draws"])
def test_chunks_do_not_change_the_minibatches(few_labels, sampling):
    """Snapshots every 37 steps (chunks cutting epochs anywhere) train the same models."""
    _, batch = few_labels
    a = _train(batch, jax.random.key(0), steps=150, sampling=sampling)
    b = _train(batch, jax.random.key(0), steps=150, sampling=sampling, snapshot_every=37)
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_epochs_and_draws_differ_and_sampling_is_validated(few_labels):
    _, batch = few_labels
    a = _train(batch, jax.random.key(0), steps=20, sampling="epochs")
    b = _train(batch, jax.random.key(0), steps=20, sampling="draws")
    assert not np.array_equal(a.history, b.history)
    with pytest.raises(
        ConfigError,
        match=r"train.sampling: unknown sampling .shuffle.; choose one of draws, epochs",
    ):
        TrainConfig(sampling="shuffle")


def test_batch_size_is_validated():
    with pytest.raises(ConfigError, match=r"train.batch_size must be an integer >= 1, got 0"):
        TrainConfig(batch_size=0)
    config = RunConfig(train=TrainConfig(batch_size=75, pretrain_steps=2, finetune_steps=2))
    with pytest.raises(ConfigError, match=r"batch_size=75 is not smaller than the 75 training"):
        train_and_evaluate(config)


def test_cli_trains_with_minibatches(tmp_path):
    args = ["run", "--out", str(tmp_path), "--pretrain-steps", "50", "--finetune-steps", "50"]
    result = CliRunner().invoke(app, [*args, "--batch-size", "16", "--name", "mb", "-q"])
    assert result.exit_code == 0, result.output
    assert "batch_size = 16" in (tmp_path / "mb" / "config.toml").read_text()
    assert RunConfig.from_dict({"train": {"batch_size": 16}}).train.batch_size == 16

import jax
import numpy as np
import pytest

from aelab.config import Noise
from aelab.data import load_dataset, split_dataset
from aelab.models.autoencoder import Autoencoder
from aelab.training.feeding import Batch
from aelab.training.program import HISTORY_FIELDS
from aelab.training.trainer import train_phase
from aelab.training.trees import stack, to_numpy, unstack


@pytest.fixture(scope="module")
def iris():
    split = split_dataset(load_dataset("iris"), 0.5, seed=0)
    return split, Batch.from_split(split.x, split.y, split.is_train)


MODEL = Autoencoder(n_inputs=4, n_classes=3)


def _init(seed=0):
    return to_numpy(MODEL.init(jax.random.key(seed)))


def _train(params, batch, ce, recon, steps=120, every=50, lr=0.01, **kw):
    return train_phase(
        MODEL, params, batch, ce_weight=np.array(ce), recon_weight=np.array(recon),
        learning_rate=lr, steps=steps, snapshot_every=every, **kw,
    )  # fmt: skip


def test_losses_go_down(iris):
    _, batch = iris
    result = _train(stack([_init(), _init()]), batch, [0.0, 1.0], [1.0, 1.0], steps=300)
    loss = result.history[..., HISTORY_FIELDS.index("loss")]
    assert (loss[:, -1] < 0.5 * loss[:, 0]).all()


def test_snapshots_cover_every_chunk_and_the_last_step(iris):
    split, batch = iris
    result = _train(stack([_init()]), batch, [0.0], [1.0], steps=120, every=50)
    assert list(result.snapshot_steps) == [0, 50, 100, 120]
    assert result.snapshots.shape == (4, 1, 150, 2)
    assert result.history.shape == (1, 120, 4)
    final_code = MODEL.encode(unstack(result.params, 0), split.x)
    np.testing.assert_allclose(result.snapshots[-1, 0], final_code, atol=1e-6)


def test_chunking_does_not_change_the_result(iris):
    _, batch = iris
    a = _train(stack([_init()]), batch, [1.0], [1.0], steps=120, every=50)
    b = _train(stack([_init()]), batch, [1.0], [1.0], steps=120, every=120)
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_models_of_a_batch_train_as_if_alone(iris):
    _, batch = iris
    together = _train(stack([_init(0), _init(1)]), batch, [1.0, 1.0], [0.0, 2.0])
    alone = _train(stack([_init(1)]), batch, [1.0], [2.0])
    for u, v in zip(jax.tree.leaves(together.params), jax.tree.leaves(alone.params), strict=True):
        np.testing.assert_allclose(u[1], v[0], rtol=1e-5, atol=1e-6)


def test_a_zero_weight_leaves_its_part_of_the_network_untouched(iris):
    _, batch = iris
    start = _init()
    result = _train(stack([start, start]), batch, [0.0, 1.0], [1.0, 0.0])
    pretrain, classify = unstack(result.params, 0), unstack(result.params, 1)
    np.testing.assert_array_equal(pretrain["head"]["w"], start["head"]["w"])
    np.testing.assert_array_equal(classify["decoder"][0]["w"], start["decoder"][0]["w"])
    assert not np.array_equal(classify["encoder"][0]["w"], start["encoder"][0]["w"])


def test_progress_reports_each_chunk(iris):
    _, batch = iris
    seen = []
    _train(stack([_init()]), batch, [0.0], [1.0], steps=120, every=50, on_progress=seen.append)
    assert seen == [50, 100, 120]


def test_held_out_samples_do_not_influence_training(iris):
    split, batch = iris
    moved = Batch.from_split(
        np.where(split.is_train[:, None], split.x, 99.0), split.y, split.is_train
    )
    a = _train(stack([_init()]), batch, [1.0], [1.0])
    b = _train(stack([_init()]), moved, [1.0], [1.0])
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(u, v)


def test_the_key_matters_only_when_something_is_random(iris):
    _, batch = iris
    runs = [_train(stack([_init()]), batch, [1.0], [1.0], key=jax.random.key(k)) for k in (0, 1)]
    for u, v in zip(*(jax.tree.leaves(r.params) for r in runs), strict=True):
        np.testing.assert_array_equal(u, v)
    noise = Noise("gaussian", 0.3)
    noisy = [
        _train(stack([_init()]), batch, [1.0], [1.0], key=jax.random.key(k), noise=noise)
        for k in (0, 0, 1)
    ]
    same = zip(*(jax.tree.leaves(r.params) for r in noisy[:2]), strict=True)
    assert all(np.array_equal(u, v) for u, v in same)
    other = zip(*(jax.tree.leaves(r.params) for r in noisy[1:]), strict=True)
    assert not all(np.array_equal(u, v) for u, v in other)


def test_a_denoising_autoencoder_learns_to_reconstruct_clean_inputs(iris):
    split, batch = iris
    result = _train(
        stack([_init()]), batch, [0.0], [1.0], steps=1500, every=500,
        key=jax.random.key(0), noise=Noise("mask", 0.25),
    )  # fmt: skip
    params = unstack(result.params, 0)
    x = split.x[split.is_train]
    mse = float(np.mean((np.asarray(MODEL.decode(params, MODEL.encode(params, x))) - x) ** 2))
    assert mse < 0.2  # the clean data reconstructs well (it is 1.0 for a constant guess)


def test_a_diverging_phase_stops_and_keeps_the_last_good_parameters(iris, monkeypatch):
    """A loss that stops being finite stops the phase at that chunk; the parameters kept are
    the last ones known to give finite losses: here the start of the chunk that diverged."""
    import aelab.training.trainer as trainer

    _, batch = iris
    real, calls = trainer.chunk_program, []

    def poisoned(*args, **kwargs):
        fn = real(*args, **kwargs)

        def run(*a):
            out = fn(*a)
            calls.append(1)
            if len(calls) == 3:  # the third chunk's 7th step of model 1 is not a number
                parts = np.asarray(out[3]).copy()
                parts[0, 1, 6, 0] = np.nan  # (group, model, step, loss)
                out = (*out[:3], parts, out[4])
            return out

        return run

    monkeypatch.setattr(trainer, "chunk_program", poisoned)
    with pytest.raises(trainer.PhaseDiverged) as info:
        _train(stack([_init(), _init()]), batch, [1.0, 1.0], [0.0, 1.0], steps=200, every=20)
    assert len(calls) == 3  # stopped at once, not after all 10 chunks
    assert (info.value.model_index, info.value.step, info.value.good_step) == (1, 47, 40)
    monkeypatch.undo()
    forty = _train(stack([_init(), _init()]), batch, [1.0, 1.0], [0.0, 1.0], steps=40, every=20)
    good = unstack(info.value.good_params, info.value.group)  # the group's models
    for u, v in zip(jax.tree.leaves(good), jax.tree.leaves(forty.params), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)

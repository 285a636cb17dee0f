import jax
import numpy as np
import pytest

from aelab.config import ModelConfig, RunConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.models.ladder import LadderNetwork, ladder_weights
from aelab.training.experiment import train_and_evaluate

LADDER = LadderNetwork(n_inputs=4, n_classes=3, hidden=(6,), code=2, weights=(1.0, 0.5, 0.2, 0.1))
X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
ROWS = (np.arange(20) < 15).astype(np.float32)
# One compiled forward pass (op by op, each of its hundreds of operations compiles alone).
FORWARD = jax.jit(LADDER.train_forward)


def test_layout_and_the_reference_combinator_start():
    params = LADDER.init(jax.random.key(0))
    assert [e["w"].shape for e in params["encoder"]] == [(4, 6), (6, 2), (2, 3)]
    assert [d["w"].shape for d in params["decoder"]] == [(6, 4), (2, 6), (3, 2)]
    assert [c["a"].shape for c in params["combinator"]] == [(10, 4), (10, 6), (10, 2), (10, 3)]
    a = np.asarray(params["combinator"][1]["a"])
    assert (a[[1, 6]] == 1).all() and (np.delete(a, [1, 6], axis=0) == 0).all()


def test_the_combinator_at_its_start_gives_zero_and_copies_when_v_is_one():
    from aelab.models.ladder import combine

    z, u = np.full((2, 3), 2.0, np.float32), np.ones((2, 3), np.float32)
    start = np.zeros((10, 3), np.float32)
    start[[1, 6]] = 1
    np.testing.assert_array_equal(combine(start, z, u), 0)  # mu = 0, v = 0
    copy = start.copy()
    copy[9] = 1  # a10: v = 1, mu = 0 -> z^ = z~
    np.testing.assert_array_equal(combine(copy, z, u), z)


def test_the_corrupted_path_is_random_and_the_clean_one_is_not():
    params = LADDER.init(jax.random.key(0))
    (code_a, xa, la, pa), stats = FORWARD(params, X, jax.random.key(1), ROWS)
    (code_b, xb, lb, pb), _ = FORWARD(params, X, jax.random.key(2), ROWS)
    np.testing.assert_array_equal(code_a, code_b)  # the clean code
    assert not np.array_equal(la, lb)  # the corrupted logits the cross-entropy sees
    assert jax.tree.structure(stats) == jax.tree.structure(params["stats"])
    assert pa.shape == (20,) and (np.asarray(pa) >= -np.asarray(
        np.mean((xa - X) ** 2, axis=1)
    ) - 1e-6).all()  # fmt: skip


def test_held_out_rows_shape_neither_statistics_nor_costs_of_training_rows():
    params = LADDER.init(jax.random.key(0))
    moved = X.copy()
    moved[15:] = 50.0
    (_, xa, _, pa), sa = FORWARD(params, X, jax.random.key(1), ROWS)
    (_, xb, _, pb), sb = FORWARD(params, moved, jax.random.key(1), ROWS)
    np.testing.assert_allclose(np.asarray(pa)[:15], np.asarray(pb)[:15], rtol=1e-5, atol=1e-6)
    for u, v in zip(jax.tree.leaves(sa), jax.tree.leaves(sb), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_gamma_weights_keep_only_the_top_cost():
    assert ladder_weights("gamma", 4) == (0.0, 0.0, 0.0, 1.0)
    assert ladder_weights("default", 3) == (1.0, 0.1, 0.1)
    assert ladder_weights("1,2,3", 3) == (1.0, 2.0, 3.0)
    with pytest.raises(ValueError):
        ladder_weights("1,2", 3)


def test_a_ladder_run_classifies_iris():
    config = RunConfig(
        strategies=("supervised", "joint"),
        model=ModelConfig(family="ladder", hidden=(8,), activation="relu"),
        train=TrainConfig(pretrain_steps=300, finetune_steps=1000, snapshot_every=100),
    )
    outcome = train_and_evaluate(config)
    for name in ("supervised", "joint"):
        assert outcome.metrics["strategies"][name]["test_accuracy"] >= 0.85, name


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"noise": "gaussian:0.3"}, r"ladder adds its own Gaussian noise"),
        ({"dropout": 0.2}, r"ladder adds its own Gaussian noise"),
        ({"ladder_weights": "1,2"}, r"model.ladder_weights: cannot use '1,2'.*3 comma-separated"),
        ({"ladder_noise": -1}, r"model.ladder_noise must be >= 0"),
    ],
)
def test_ladder_settings_are_checked(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(family="ladder", **kwargs)

"""The learning rate's linear decay (``train.lr_decay``), against optax's own schedules."""

import jax
import numpy as np
import optax
import pytest

from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.data import load_dataset, split_dataset
from aelab.errors import ConfigError
from aelab.training.feeding import Batch
from aelab.training.plan import SeedData, make_plan, train_plan
from aelab.training.program import Weights, objective

STEPS, LR = 40, 0.01


@pytest.fixture(scope="module")
def iris():
    return split_dataset(load_dataset("iris"), 0.5, seed=0)


def _pretrained(split, lr_decay: float) -> dict:
    """The autoencoder after ``STEPS`` steps of pretraining with aelab's plan."""
    config = RunConfig(
        data=DataConfig(dataset="iris"),
        train=TrainConfig(learning_rate=LR, pretrain_steps=STEPS, lr_decay=lr_decay),
    )
    plan = make_plan(config, 4, 3, pretrain="only")
    data = SeedData(split.x, split.y, split.is_train, {None: split.is_train})
    trained = train_plan(plan, [data])
    return jax.tree.map(lambda a: np.asarray(a)[0, 0], trained.pretrain.params)


def _reference(model, split, schedule) -> dict:
    """The same steps in a plain loop of ``optax.adam`` with ``schedule``."""
    batch = Batch.from_split(split.x, split.y, split.is_train)
    one = np.ones((), np.float32)
    weights = Weights(0 * one, one, one, 0 * one, one, one)  # reconstruction only

    def loss(params):
        return objective(model, params, batch, jax.random.key(0), weights)[0]

    opt = optax.adam(schedule)

    @jax.jit
    def step(params, state):
        updates, state = opt.update(jax.grad(loss)(params), state, params)
        return optax.apply_updates(params, updates), state

    params = model.init(jax.random.key(0))
    state = opt.init(params)
    for _ in range(STEPS):
        params, state = step(params, state)
    return params


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_the_decay_is_optax_linear_schedule_over_the_last_steps(iris, share):
    model = make_plan(RunConfig(), 4, 3).model
    span = int(share * STEPS)
    decayed = optax.join_schedules(
        [optax.constant_schedule(LR), optax.linear_schedule(LR, 0.0, span)], [STEPS - span]
    )
    ours = _pretrained(iris, share)
    expected = _reference(model, iris, decayed)
    ours, expected, constant = (
        jax.tree.leaves(p) for p in (ours, expected, _reference(model, iris, LR))
    )
    for a, b in zip(ours, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    # the check can tell: a constant rate ends far from the decayed one
    assert max(np.abs(a - c).max() for a, c in zip(ours, constant, strict=True)) > 1e-3


def test_no_decay_keeps_the_rate_constant(iris):
    ours = _pretrained(iris, 0.0)
    expected = _reference(make_plan(RunConfig(), 4, 3).model, iris, LR)
    for a, b in zip(*map(jax.tree.leaves, (ours, expected)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)


@pytest.mark.parametrize(
    ("bad", "says"),
    [(-0.1, "between 0 and 1 .*try 0.5"), (1.5, "between 0 and 1 .*try 0.5"),
     ("half", "a finite number, got 'half'"), (float("nan"), "a finite number, got nan")],
)  # fmt: skip
def test_a_decay_outside_0_to_1_is_refused_with_the_fix(bad, says):
    with pytest.raises(ConfigError, match=r"^train\.lr_decay must be " + says):
        TrainConfig(lr_decay=bad)

"""The compiled training program: many models, one program, no Python in the step.

A phase trains S groups of K models: every parameter leaf has leading axes (S, K). Each
group has its own data (a seed's split), each model its own loss weights, learning rate,
noise level, penalty scale and masks (``jax.vmap`` twice). :func:`chunk_program` compiles
``n_steps`` steps of all of them as one ``lax.scan``, cached per shape and setting;
:mod:`aelab.training.trainer` runs it chunk by chunk.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

from aelab.config.noise import Noise
from aelab.models import AbstractModel, Params
from aelab.training.corruption import corrupt
from aelab.training.feeding import Batch, Feed, labelled_rows, select
from aelab.training.losses import cross_entropy, masked_mean, reconstruction_error
from aelab.training.parallel import Mesh, constrain

HISTORY_FIELDS = ("loss", "cross_entropy", "reconstruction", "penalty")


@dataclass(frozen=True)
class Weights:
    """A model's numbers (each (S, K) for a phase): the weights of its loss terms, the scale
    of its family's penalty (a sweep's beta), the level of its input noise, and its learning
    rate's linear decay: full until ``decay_end - decay_span`` updates of the phase, zero at
    ``decay_end`` (:func:`decay`)."""

    ce: jax.Array
    recon: jax.Array
    penalty: jax.Array
    noise_level: jax.Array
    decay_end: jax.Array
    decay_span: jax.Array


jax.tree_util.register_dataclass(
    Weights,
    data_fields=["ce", "recon", "penalty", "noise_level", "decay_end", "decay_span"],
    meta_fields=[],
)


def decay(steps: int, share: float) -> tuple[float, float]:
    """``(decay_end, decay_span)`` of a phase of ``steps`` updates whose last ``share`` of
    them take the learning rate linearly to zero; ``share`` 0 keeps it constant (an end that
    never comes, so that a resumed or longer phase keeps its rate too)."""
    if share <= 0:
        return float("inf"), 1.0
    return float(steps), share * steps


def objective(
    model: AbstractModel,
    params: Params,
    batch: Batch,
    key: jax.Array,
    weights: Weights,
    noise_kind: str | None = None,
) -> tuple[jax.Array, tuple[jax.Array, Params | None]]:
    """One model's loss, its parts ``(loss, ce, recon, penalty)``, and the running statistics
    of batch norm after this step (``None`` without batch norm).

    ``loss = ce_weight * cross-entropy + recon_weight * (reconstruction error + penalty)``,
    where ``penalty`` is the family's own term times ``weights.penalty``. The cross-entropy
    sees the clean input and the labelled samples (``label_mask``); the reconstruction term
    and the penalty see the training samples (``recon_mask``). With a ``noise_kind``, the
    reconstruction term sees a corrupted input and is scored against the clean one (a
    denoising autoencoder). ``key`` drives the noise and the model's own randomness.
    """
    k_noise, k_clean, k_noisy = jax.random.split(key, 3)  # unused ones are compiled away
    # The samples this model may learn from: all training samples when it reconstructs, only
    # the labelled ones when it does not (batch statistics and noise see nothing more).
    rows = jnp.where(weights.recon > 0, batch.recon_mask, batch.label_mask)
    (_, x_hat, logits, penalty), stats = model.train_forward(params, batch.x, k_clean, rows)
    if noise_kind is not None:
        noisy = corrupt(k_noise, batch.x, Noise(noise_kind, weights.noise_level), rows)
        (_, x_hat, _, penalty), _ = model.train_forward(params, noisy, k_noisy, rows)
    recon = reconstruction_error(batch.x, x_hat, batch.recon_mask)
    penalty = weights.penalty * masked_mean(penalty, batch.recon_mask)
    ce = cross_entropy(logits, batch.y, batch.label_mask)
    loss = weights.ce * ce + weights.recon * (recon + penalty)
    return loss, (jnp.stack([loss, ce, recon, penalty]), stats)


def optimizer(learning_rate: float | jax.Array) -> optax.GradientTransformation:
    """Adam; the learning rate lives in its state, so the models of a phase may differ in it."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)


def _update(opt: optax.GradientTransformation, grads, state, params, weights: Weights):
    """``opt``'s update at this step's learning rate: the model's own rate (which the state
    keeps) times the decay's factor, exactly 1 without a decay (the numbers stay the same)."""
    factor = jnp.clip((weights.decay_end - state.count) / weights.decay_span, 0.0, 1.0)
    base = state.hyperparams["learning_rate"]
    now = state._replace(hyperparams={**state.hyperparams, "learning_rate": base * factor})
    updates, state = opt.update(grads, now, params)
    return updates, state._replace(hyperparams={**state.hyperparams, "learning_rate": base})


@functools.cache
def init_optimizers() -> Callable:
    """The optimiser states (S, K) of parameters (S, K, ...) and learning rates (S, K)."""
    one = jax.vmap(lambda params, lr: optimizer(lr).init(params))
    return jax.jit(jax.vmap(one))


def _model_step(model: AbstractModel, noise_kind: str | None, feed: Feed, mesh: Mesh | None):
    """One model's training step: ``(params, opt_state, key, weights, batch, step_rows,
    pool)`` to ``((params, opt_state, key), parts)``."""
    shard = constrain(mesh)
    # A deterministic full-batch model with no input noise draws nothing: leave the key
    # alone, so the step compiles and runs without random-number kernels.
    random = noise_kind is not None or model.uses_randomness or feed.batch_size is not None
    grad_fn = jax.value_and_grad(objective, argnums=1, has_aux=True)

    def train(params, opt_state, key, weights, batch, step_rows, pool):
        opt = optimizer(opt_state.hyperparams["learning_rate"])
        key, step_key = jax.random.split(key) if random else (key, key)
        seen, step_key = select(feed, batch, step_rows, step_key, pool)
        if feed.batch_size is not None:
            seen = shard(seen)
        (_, (parts, stats)), grads = grad_fn(model, params, seen, step_key, weights, noise_kind)
        updates, opt_state = _update(opt, grads, opt_state, params, weights)
        params = optax.apply_updates(params, updates)
        if stats is not None:  # running statistics are replaced, never trained
            params = {**params, "stats": stats}
        return (params, opt_state, key), parts

    return train


@functools.cache
def chunk_program(
    model: AbstractModel,
    n_steps: int,
    noise_kind: str | None,
    feed: Feed,
    mesh: Mesh | None = None,
    snapshots: bool = True,
) -> Callable:
    """A compiled function running up to ``n_steps`` steps of S groups of K models.

    It maps ``(params, opt_state, keys, weights, batch, rows, active)`` to ``(params,
    opt_state, keys, parts, codes)``: parameters, optimiser states and random streams (S, K)
    after the first ``active`` steps (the others leave everything as it was, so a phase's
    last, shorter chunk runs the same program), each step's ``HISTORY_FIELDS`` (S, K,
    n_steps, 4; zeros after ``active``), and with ``snapshots`` the code of every sample of
    its group (S, K, N, code). ``batch`` holds each group's data, ``x`` (S, N, D) and ``y``
    (S, N), and each model's masks (S, K, N); ``rows`` is the host's feed of these steps
    (:class:`~aelab.training.feeding.HostFeed`, ``n_steps`` long), ``None`` when there is
    none. ``mesh`` shards every step's samples over its devices (one group data-parallel).
    """
    train = _model_step(model, noise_kind, feed, mesh)
    # Inside a group: the data and the step's rows are the group's (shared, never copied),
    # the masks each model's. The models are mapped inside the loop over steps, not the loop
    # inside the map: JAX then traces the step once, where mapping the loop batches its body
    # again for each map (a second and third trace of the whole step).
    models = Batch(None, None, 0, 0)
    each = jax.vmap(jax.vmap(train, in_axes=(0, 0, 0, 0, models, None, 0)))
    pools = jax.vmap(jax.vmap(labelled_rows, in_axes=(models,)))

    def program(params, opt_state, keys, weights, batch, rows, active):
        pool = pools(batch) if feed.epochs and not feed.shared else None

        def busy(carry, step_rows):
            return each(*carry, weights, batch, step_rows, pool)

        def step(carry, inputs):  # ``active`` is every model's: one branch runs, not both
            i, step_rows = inputs
            idle = jnp.zeros((*weights.ce.shape, len(HISTORY_FIELDS)), jnp.float32)  # (S, K, 4)
            return jax.lax.cond(i < active, busy, lambda c, _: (c, idle), carry, step_rows)

        steps_rows = jax.tree.map(lambda a: jnp.moveaxis(a, 1, 0), rows)  # steps first
        (params, opt_state, keys), parts = jax.lax.scan(
            step, (params, opt_state, keys), (jnp.arange(n_steps), steps_rows), length=n_steps
        )
        codes = None
        if snapshots and not feed.streamed:
            codes = jax.vmap(jax.vmap(model.encode, in_axes=(0, None)))(params, batch.x)
        return params, opt_state, keys, jnp.moveaxis(parts, 0, 2), codes

    return jax.jit(program)

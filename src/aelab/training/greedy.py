"""Greedy layer-wise pretraining of a stacked autoencoder (Bengio et al. 2007; Vincent et al.
2010 with noise).

Layer i of the encoder and its mirror in the decoder are trained together as a one-layer
autoencoder of layer i's input (the family's own, :meth:`layers`): the data for the first
layer, the (fixed) code of the layers below for the others. Then the stack is put together;
fine-tuning trains it end to end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import numpy as np

from aelab.models import AbstractModel, Params
from aelab.training.feeding import Batch
from aelab.training.keys import ORDER_STREAM, key_stack, split_keys
from aelab.training.parallel import Mesh
from aelab.training.trainer import (
    Models,
    PhaseResult,
    Schedule,
    train_groups,
)


def greedy_pretrain(
    model: AbstractModel,
    models: Models,
    batch: Batch,
    schedule: Schedule,
    phase_keys: list[jax.Array],
    *,
    noise_kind: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    mesh: Mesh | None = None,
) -> PhaseResult:
    """Pretrain S groups of P models (``models``, on ``batch``) layer by layer,
    ``schedule.steps`` steps a layer; ``phase_keys`` are the S groups' pretraining keys
    (``models.keys`` are not used: each layer draws its own).

    Every model trains as a group of its own (each layer's input is its own model's code):
    layer ``i`` of a group draws from ``fold_in(phase_key, i)``, as one phase would. Returns
    the assembled parameters (S, P); the history of every layer in turn (``steps`` per layer);
    and the snapshots taken while the top layer, whose output is the code, was trained.
    """
    stack = _Stack(models, batch)
    levels = model.layers()
    result = None
    for i, level in enumerate(levels):
        # only the top layer's training makes codes worth a snapshot
        snapshots = schedule.snapshots and i == len(levels) - 1
        result = train_groups(
            level,
            stack.layer(i, level, model.n_classes, phase_keys),
            stack.data(),
            dataclasses.replace(schedule, snapshots=snapshots),
            noise_kind=noise_kind,
            on_progress=None if on_progress is None else _offset(on_progress, i * schedule.steps),
            mesh=mesh,
        )
        stack.keep(i, level, result)
    assert result is not None  # a model has at least one layer
    return stack.assembled(result, (len(levels) - 1) * schedule.steps)


class _Stack:
    """S groups of P stacked autoencoders being pretrained, each model a group of its own
    (S * P groups of 1): their layers so far and each one's input to the next layer."""

    def __init__(self, models: Models, batch: Batch) -> None:
        self.s, self.p = models.learning_rate.shape
        self.start = jax.tree.map(self.flat, models.params)
        self.encoder, self.decoder = list(self.start["encoder"]), list(self.start["decoder"])
        self.h = np.repeat(np.asarray(batch.x), self.p, axis=0)  # (S * P, N, D): the inputs
        self.y = np.repeat(np.asarray(batch.y), self.p, axis=0)
        self.masks = (self.flat(batch.recon_mask), self.flat(batch.label_mask))
        self.weights = jax.tree.map(self.flat, models.weights)
        self.learning_rate = self.flat(models.learning_rate)
        self.diverged = np.zeros((self.s * self.p, 1), bool)
        self.histories: list[np.ndarray] = []

    def flat(self, a) -> np.ndarray:  # (S, P, ...) -> (S * P, 1, ...)
        a = np.asarray(a)
        return a.reshape(self.s * self.p, 1, *a.shape[2:])

    def regroup(self, a) -> np.ndarray:  # (S * P, 1, ...) -> (S, P, ...)
        return np.asarray(a).reshape(self.s, self.p, *np.shape(a)[2:])

    def data(self) -> Batch:
        return Batch(self.h, self.y, *self.masks)

    def layer(self, i: int, level: AbstractModel, n_classes: int, phase_keys) -> Models:
        """Layer ``i``'s one-layer models and their random streams."""
        layer_keys = [jax.random.fold_in(k, i) for k in phase_keys]  # a group's
        model_keys = np.stack([split_keys(k, 1, [0]) for k in layer_keys])  # (S, 1, key)
        order_keys = [jax.random.fold_in(k, ORDER_STREAM) for k in layer_keys]
        g = self.s * self.p
        params = {
            "encoder": [self.encoder[i]],
            "decoder": [self.decoder[len(self.decoder) - 1 - i]],
            # unused (no cross-entropy in pretraining), but every model has a head
            "head": {
                "w": np.zeros((g, 1, level.code, n_classes), np.float32),
                "b": np.zeros((g, 1, n_classes), np.float32),
            },
        }
        return Models(
            params=params,
            weights=self.weights,
            learning_rate=self.learning_rate,
            keys=jax.random.wrap_key_data(np.repeat(model_keys, self.p, axis=0)),
            order_keys=key_stack([k for k in order_keys for _ in range(self.p)]),
        )

    def keep(self, i: int, level: AbstractModel, result: PhaseResult) -> None:
        """Layer ``i``'s trained weights, and each model's code: the next layer's input."""
        self.encoder[i] = result.params["encoder"][0]
        self.decoder[len(self.decoder) - 1 - i] = result.params["decoder"][0]
        self.histories.append(result.history)
        self.diverged |= result.diverged
        # in evaluation mode, op by op (the numbers of every earlier version)
        self.h = np.stack(
            [np.asarray(level.encode(_one(result.params, g), h)) for g, h in enumerate(self.h)]
        )

    def assembled(self, top: PhaseResult, steps_before: int) -> PhaseResult:
        """The stacks put together, (S, P); the top layer's snapshots, at its steps."""
        params = {"encoder": self.encoder, "decoder": self.decoder, "head": self.start["head"]}
        return PhaseResult(
            params=jax.tree.map(self.regroup, params),
            history=self.regroup(np.concatenate(self.histories, axis=2)),
            snapshots=top.snapshots.reshape(-1, self.s, self.p, *top.snapshots.shape[3:]),
            snapshot_steps=top.snapshot_steps + steps_before,
            diverged=self.regroup(self.diverged),
        )


def _one(params: Params, g: int) -> Params:
    """The one model of group ``g``."""
    return jax.tree.map(lambda a: a[g, 0], params)


def _offset(on_progress: Callable[[int], None], done_before: int) -> Callable[[int], None]:
    return lambda done: on_progress(done_before + done)

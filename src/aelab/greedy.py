"""Greedy layer-wise pretraining of a stacked autoencoder (Bengio et al. 2007; Vincent et al.
2010 with noise).

Layer i of the encoder and its mirror in the decoder are trained together as a one-layer
autoencoder of layer i's input: the data for the first layer, the (fixed) code of the layers
below for the others. Then the stack is put together; fine-tuning trains it end to end.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from aelab.corruption import Noise
from aelab.models import Autoencoder, Params
from aelab.parallel import Mesh
from aelab.train import Batch, PhaseResult, stack, train_phase, unstack


def layer_models(model: Autoencoder) -> list[Autoencoder]:
    """The one-layer autoencoders of ``model``'s layers, from the input up."""
    sizes = (model.n_inputs, *model.hidden, model.code)
    top = len(sizes) - 2
    return [
        Autoencoder(
            n_inputs=sizes[i],
            n_classes=model.n_classes,
            code=sizes[i + 1],
            activation=model.activation,
            code_activation=model.code_activation if i == top else model.activation,
            dropout=model.dropout,
            # Reconstructions of hidden layers go through the decoder's hidden activation;
            # only the data is reconstructed by a linear layer.
            output_activation="linear" if i == 0 else model.activation,
        )
        for i in range(top + 1)
    ]


def greedy_pretrain(
    model: Autoencoder,
    init: Params,
    batch: Batch,
    *,
    learning_rate: float,
    steps: int,
    snapshot_every: int,
    key: jax.Array,
    noise: Noise | None = None,
    batch_size: int | None = None,
    sampling: str = "epochs",
    mesh: Mesh | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> PhaseResult:
    """Pretrain ``model`` layer by layer, ``steps`` steps a layer, from ``init`` (one model).

    Returns a one-model :class:`PhaseResult`: the assembled parameters; the reconstruction
    history of every layer in turn (``steps`` per layer); and the code snapshots taken while
    the top layer, whose output is the code, was trained.
    """
    if model.batch_norm:
        raise ValueError("greedy pretraining does not support batch norm yet")
    levels = layer_models(model)
    n = len(levels)
    encoder, decoder = list(init["encoder"]), list(init["decoder"])
    h = np.asarray(batch.x)
    histories, result = [], None
    for i, level in enumerate(levels):
        params = {
            "encoder": [encoder[i]],
            "decoder": [decoder[n - 1 - i]],
            # unused (no cross-entropy in pretraining), but every model has a head
            "head": {
                "w": np.zeros((level.code, model.n_classes), np.float32),
                "b": np.zeros(model.n_classes, np.float32),
            },
        }
        result = train_phase(
            level,
            stack([params]),
            Batch(h, batch.y, batch.recon_mask, batch.label_mask),
            ce_weight=np.zeros(1),
            recon_weight=np.ones(1),
            learning_rate=learning_rate,
            steps=steps,
            snapshot_every=snapshot_every,
            key=jax.random.fold_in(key, i),
            noise=noise,
            batch_size=batch_size,
            sampling=sampling,
            mesh=mesh,
            on_progress=None if on_progress is None else _offset(on_progress, i * steps),
        )
        trained = unstack(result.params, 0)
        encoder[i], decoder[n - 1 - i] = trained["encoder"][0], trained["decoder"][0]
        histories.append(result.history)
        h = np.asarray(level.encode(trained, h))  # the next layer's data, in evaluation mode
    assert result is not None  # a model has at least one layer
    return PhaseResult(
        params=stack([{"encoder": encoder, "decoder": decoder, "head": init["head"]}]),
        history=np.concatenate(histories, axis=1),
        snapshots=result.snapshots,
        snapshot_steps=result.snapshot_steps + (n - 1) * steps,
    )


def _offset(on_progress: Callable[[int], None], done_before: int) -> Callable[[int], None]:
    return lambda done: on_progress(done_before + done)

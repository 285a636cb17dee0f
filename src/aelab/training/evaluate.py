"""The numbers of trained models: every stage of a run, every model of a sweep's slice.

Both measure a model the same way (:func:`model_metrics`); a run adds how far each code moved
from where its fine-tuning started and how simple classifiers and clustering do on it, a sweep
only the kNN accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from aelab.analysis import metrics
from aelab.data import Split
from aelab.models import AbstractModel, Params
from aelab.training.inference import (
    apply_batched,
    errors_batched,
    hidden_batched,
    mean_measures,
)

REFERENCE_SAMPLES = 20_000  # codes are scored on a seeded sample of this many samples above it
LAYER_SAMPLES = 5_000  # each layer's CKA to pretrained: on a seeded sample above this many
MAX_OUTPUT_BYTES = 512 * 2**20  # reconstructions of every model kept in memory at most


@dataclass(frozen=True)
class Outputs:
    """What M models make of every sample: codes (M, N, code), logits (M, N, classes), and
    reconstructions (M, N, D) or, for data read from disk, each sample's error (M, N)."""

    x: np.ndarray
    codes: np.ndarray
    recon: np.ndarray
    logits: np.ndarray

    @classmethod
    def of(cls, model: AbstractModel, params: Params, x: np.ndarray) -> Outputs:
        # From disk, or too large (4 strategies of 60,000 CIFAR-10 images: 2.9 GB): each
        # sample's error, never (M, N, D) outputs.
        m = len(jax.tree.leaves(params)[0])
        large = isinstance(x, np.memmap) or m * x.nbytes > MAX_OUTPUT_BYTES
        return cls(x, *(errors_batched if large else apply_batched)(model, params, x))

    def mse(self, i: int, rows: np.ndarray) -> float:
        """Model ``i``'s mean squared reconstruction error over ``rows``."""
        if self.recon.ndim == 2:  # each sample's error
            return float(self.recon[i][rows].mean())
        return metrics.reconstruction_mse(self.x[rows], self.recon[i][rows])


def model_metrics(
    split: Split,
    out: Outputs,
    i: int,
    pre_code: np.ndarray | None,
    pre_test_mse: float | None,
    quality: Callable[[np.ndarray], dict],
    start: np.ndarray | None = None,
) -> dict:
    """Model ``i`` of ``out``: accuracies, reconstruction errors and, with a pretrained code
    (``pre_code``), the drift from it and CKA to it; ``quality`` of its code, and with its
    ``start`` code how far it moved."""
    y, is_train, labelled = split.y, split.is_train, split.is_labelled
    test, unlabelled = ~is_train, is_train & ~labelled
    code, logits = out.codes[i], out.logits[i]
    test_mse = out.mse(i, test)
    result = {
        "train_accuracy": metrics.accuracy(logits[labelled], y[labelled]),
        "test_accuracy": metrics.accuracy(logits[test], y[test]),
        "train_reconstruction_mse": out.mse(i, is_train),
        "test_reconstruction_mse": test_mse,
    }
    if pre_code is not None:
        result["reconstruction_drift"] = test_mse - pre_test_mse
        result["cka_to_pretrained"] = metrics.linear_cka(pre_code, code)
    if start is not None:
        result["cka_to_start"] = metrics.linear_cka(start, code)
        result["mean_displacement"] = metrics.mean_displacement(start, code)
    result.update(quality(code))
    if unlabelled.any():  # how the labels it never saw come out
        result["unlabelled_accuracy"] = metrics.accuracy(logits[unlabelled], y[unlabelled])
    return result


def knn_quality(split: Split) -> Callable[[np.ndarray], dict]:
    """A sweep's measure of a code: kNN fitted on the labelled samples (on a seeded sample
    of ``REFERENCE_SAMPLES`` above it), scored on the held-out ones."""
    y, labelled, test = split.y, split.is_labelled, ~split.is_train
    picked = metrics.seeded_rows(labelled, REFERENCE_SAMPLES)

    def quality(code: np.ndarray) -> dict:
        return {
            "knn_accuracy": metrics.knn_accuracy(
                code[picked], y[picked], labelled[picked], test[picked]
            )
        }

    return quality


def run_metrics(
    model: AbstractModel,
    split: Split,
    strategies: tuple[str, ...],
    pre_params: Params | None,
    ft_params: Params,
    ft_start: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict]:
    """Every stage of a run: the pretrained model (``pre_params``, one model; ``None`` when
    the run did not pretrain), each strategy's (``ft_params``, one a strategy, whose codes
    started at ``ft_start`` (K, N, code)), and the references that need no training.
    Returns every stage's code and ``metrics.json``."""
    x, y, is_train, labelled = split.x, split.y, split.is_train, split.is_labelled
    test = ~is_train
    # kNN, probe and silhouette of a code: on a seeded sample above REFERENCE_SAMPLES samples
    # (a kNN of a million 32-D codes would take longer than the training).
    picked = metrics.seeded_rows(labelled, REFERENCE_SAMPLES)

    def quality(code: np.ndarray) -> dict[str, float]:
        return metrics.code_quality(code[picked], y[picked], labelled[picked], test[picked])

    fine = Outputs.of(model, ft_params, x)
    pre_code = pre_test_mse = None
    if pre_params is not None:
        pre = Outputs.of(model, pre_params, x)
        pre_code, pre_test_mse = pre.codes[0], pre.mse(0, test)
    result: dict = {"data": data_info(split)}
    if pre_params is not None:
        result["pretrained"] = {
            "train_reconstruction_mse": pre.mse(0, is_train),
            "test_reconstruction_mse": pre_test_mse,
            **quality(pre_code),
        }
    result["strategies"] = {}
    if len(picked) < len(y):  # say so where the numbers are
        result["data"]["code_metrics_sample"] = len(picked)
    result["references"], pca = references(split, model.code)
    codes = {"pca": pca} if pre_code is None else {"pca": pca, "pretrained": pre_code}
    for i, name in enumerate(strategies):
        result["strategies"][name] = model_metrics(
            split, fine, i, pre_code, pre_test_mse, quality, start=ft_start[i]
        )
        codes[name] = fine.codes[i]
    if pre_params is not None:  # which layers fine-tuning changes most
        for name, ckas in zip(strategies, layer_cka(model, pre_params, ft_params, x), strict=True):
            result["strategies"][name]["layer_cka_to_pretrained"] = ckas
    rows = np.flatnonzero(test)  # the family's own numbers (a VAE's KL) on held-out samples
    if pre_params is not None:
        for measure, values in mean_measures(model, pre_params, x, rows).items():
            result["pretrained"][f"test_{measure}"] = float(values[0])
    for measure, values in mean_measures(model, ft_params, x, rows).items():
        for name, value in zip(strategies, values, strict=True):
            result["strategies"][name][f"test_{measure}"] = float(value)
    return codes, nan_to_none(result)


def layer_cka(
    model: AbstractModel, pre_params: Params, ft_params: Params, x: np.ndarray
) -> list[list[float]]:
    """For each of the K models of ``ft_params``, the linear CKA of each encoder layer (the
    input excluded, the code last) to the same layer of the pretrained model (``pre_params``,
    one model), over every sample (a seeded sample of ``LAYER_SAMPLES`` above it)."""
    rows = metrics.seeded_rows(np.zeros(len(x), bool), LAYER_SAMPLES)
    pre = hidden_batched(model, pre_params, x, rows)  # per layer: (1, N, width)
    fine = hidden_batched(model, ft_params, x, rows)  # per layer: (K, N, width)
    return [
        [metrics.linear_cka(p[0], f[i]) for p, f in zip(pre, fine, strict=True)]
        for i in range(len(fine[0]))
    ]


def data_info(split: Split) -> dict:
    """``metrics.json``'s ``data`` table: what the run trained and measured on. For a table,
    also its label column and how it was chosen, and what encoding it did (its categorical
    columns' training categories, the held-out samples of an unseen category, the values
    imputed: :meth:`aelab.data.Encoding.summary`)."""
    is_train, labelled, dataset = split.is_train, split.is_labelled, split.dataset
    info = {
        "dataset": dataset.name,
        "n_train": split.n_train,
        "n_labelled": int(labelled.sum()),
        "n_unlabelled": int((is_train & ~labelled).sum()),
        "n_test": int((~is_train).sum()),
        "n_features": int(split.x.shape[1]),
        "n_classes": dataset.n_classes,
        "class_names": list(dataset.class_names),
    }
    if dataset.label_column is not None:
        info.update(label_column=dataset.label_column, label_column_chosen=dataset.label_chosen)
    return info if split.encoding is None else {**info, **split.encoding.summary()}


def nan_to_none(value):
    """The metrics as JSON can hold them: an undefined number (NaN) becomes ``None``."""
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [nan_to_none(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def references(split: Split, code_size: int) -> tuple[dict[str, dict[str, float]], np.ndarray]:
    """Codes that need no training: two raw features, PCA to the code size, all features.

    Also returns the PCA projection (N, max(2, code size) or fewer) fitted on the training part;
    its first ``code_size`` columns are the reference code, its first two the plotted ones.
    """
    from sklearn.decomposition import PCA  # heavy: imported when a run is measured

    x, y, is_train = split.x, split.y, split.is_train
    fit, test = split.is_labelled, ~is_train
    n_components = min(max(2, code_size), x.shape[1], int(is_train.sum()))
    # Above REFERENCE_SAMPLES samples, PCA is fitted and every code scored on a seeded sample
    # of that size (a kNN over every raw feature of every sample would not finish).
    picked = metrics.seeded_rows(fit, REFERENCE_SAMPLES)
    pca = PCA(n_components=n_components).fit(np.asarray(x[picked[is_train[picked]]]))
    projection = np.concatenate(
        [pca.transform(np.asarray(x[i : i + 65_536])) for i in range(0, len(x), 65_536)]
    )

    def quality(code: np.ndarray) -> dict[str, float]:
        return metrics.code_quality(code[picked], y[picked], fit[picked], test[picked])

    references = {
        "raw": quality(np.asarray(x[:, :2])),
        "pca": {
            "n_components": min(code_size, n_components),
            **quality(projection[:, :code_size]),
        },
        "all_features": metrics.code_quality(
            np.asarray(x[picked]), y[picked], fit[picked], test[picked]
        ),  # x[picked]: only the sampled rows are read
    }
    return references, projection.astype(np.float32)

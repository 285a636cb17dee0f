"""The original experiment's claims, made measurable, on the exact default run."""

import numpy as np
import pytest

from aelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aelab.training.experiment import train_and_evaluate


def test_every_strategy_reaches_090_held_out_accuracy(default_run):
    for name, m in default_run.metrics["strategies"].items():
        assert m["test_accuracy"] >= 0.9, name


def test_reconstruction_term_keeps_the_pretrained_code(default_run):
    s = default_run.metrics["strategies"]
    assert s["finetune-recon"]["cka_to_pretrained"] > s["finetune"]["cka_to_pretrained"]
    assert s["finetune-recon"]["mean_displacement"] < s["finetune"]["mean_displacement"]


def test_reconstruction_term_keeps_reconstructing(default_run):
    s = default_run.metrics["strategies"]
    assert s["finetune-recon"]["test_reconstruction_mse"] < s["finetune"]["test_reconstruction_mse"]
    assert (
        s["finetune-recon"]["train_reconstruction_mse"] < s["finetune"]["train_reconstruction_mse"]
    )


def test_metrics_have_the_documented_shape(default_run):
    m = default_run.metrics
    assert set(m) >= {"pretrained", "strategies", "references"}
    required = {
        "train_accuracy", "test_accuracy", "train_reconstruction_mse", "test_reconstruction_mse",
        "cka_to_pretrained", "mean_displacement", "knn_accuracy", "silhouette",
    }  # fmt: skip
    for values in m["strategies"].values():
        assert required <= set(values)
    assert {
        "train_reconstruction_mse",
        "test_reconstruction_mse",
        "knn_accuracy",
        "silhouette",
    } <= set(m["pretrained"])
    for ref in ("raw", "pca"):
        assert {"knn_accuracy", "silhouette"} <= set(m["references"][ref])


def test_finetune_starts_where_pretraining_ended(default_run):
    s = default_run.metrics["strategies"]
    assert s["finetune"]["cka_to_start"] == pytest.approx(s["finetune"]["cka_to_pretrained"])


def test_codes_of_every_sample_are_returned(default_run):
    assert set(default_run.codes) == {"pca", "pretrained", "supervised", "finetune",
                                      "finetune-recon", "joint"}  # fmt: skip
    for name, code in default_run.codes.items():
        assert code.shape == (150, 2) and np.isfinite(code).all(), name
    assert default_run.is_train.sum() == 75


def test_other_datasets_and_deeper_models_run():
    config = RunConfig(
        strategies=("finetune", "finetune-recon"),
        data=DataConfig(dataset="wine"),
        model=ModelConfig(hidden=(8,), code=3, activation="tanh", noise="gaussian:0.1"),
        train=TrainConfig(
            pretrain_steps=100, finetune_steps=200, snapshot_every=100, pretraining="greedy"
        ),
    )
    outcome = train_and_evaluate(config)
    assert outcome.codes["finetune"].shape == (178, 3)
    assert outcome.metrics["strategies"]["finetune"]["test_accuracy"] > 0.8
    assert list(outcome.pretrain.snapshot_steps) == [100, 200]  # the code layer's training

"""The sparse autoencoder: its penalty, what it does to the code, and that it works wherever a
family works (every strategy, sweeps, greedy pretraining, the estimators, generate)."""

import jax
import numpy as np
import pandas as pd
import pytest

import aelab
from aelab.cli import main
from aelab.config import ModelConfig, RunConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.models.sparse import SparseAutoencoder

X = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
ROWS = (np.arange(12) < 9).astype(np.float32)  # the last three are held out
FAST = TrainConfig(pretrain_steps=300, finetune_steps=300, snapshot_every=100)


def _kl(rho, rho_hat):
    return rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))


def test_a_sigmoid_code_pays_the_kl_of_its_training_rows_mean_activation():
    model = SparseAutoencoder(5, 2, code=3, sparsity=0.5, sparsity_target=0.1)
    params = model.init(jax.random.key(0))
    (z, _, _, penalty), _ = model.train_forward(params, X, jax.random.key(1), ROWS)
    rho_hat = np.asarray(z)[:9].mean(axis=0)
    expected = 0.5 * _kl(0.1, rho_hat).sum()
    np.testing.assert_allclose(penalty, np.full(12, expected), rtol=1e-5)
    moved = X.copy()
    moved[9:] = 40.0  # held-out rows never shape the penalty
    (_, _, _, again), _ = model.train_forward(params, moved, jax.random.key(1), ROWS)
    np.testing.assert_allclose(again, penalty, rtol=1e-6)


def test_another_code_pays_its_l1_norm():
    model = SparseAutoencoder(5, 2, code=3, code_activation="relu", sparsity=0.2)
    params = model.init(jax.random.key(0))
    (z, _, _, penalty), _ = model.train_forward(params, X, jax.random.key(1), ROWS)
    np.testing.assert_allclose(penalty, 0.2 * np.abs(np.asarray(z)).sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"sparsity": -1}, r"model.sparsity must be >= 0, got -1; 0 turns the penalty off"),
        ({"sparsity": "a"}, r"model.sparsity must be a finite number"),
        ({"sparsity_target": 1.0}, r"model.sparsity_target must be between 0 and 1"),
    ],
)
def test_its_settings_are_checked(settings, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(family="sparse", **settings)


@pytest.fixture(scope="module")
def wine_runs():
    """The same deep network on wine, without and with the sparsity penalty."""
    model = {"hidden": (16,), "code": 8}
    runs = {}
    for family, extra in (("ae", {}), ("sparse", {"sparsity": 1.0, "sparsity_target": 0.05})):
        config = RunConfig(
            data=aelab.DataConfig(dataset="wine"),
            model=ModelConfig(family=family, **model, **extra),
            train=FAST,
        )
        runs[family] = aelab.train_and_evaluate(config)
    return runs


def test_every_strategy_trains_a_sparse_autoencoder(wine_runs):
    metrics = wine_runs["sparse"].metrics
    assert set(metrics["strategies"]) == set(aelab.STRATEGIES)
    for name, m in metrics["strategies"].items():
        assert m["test_accuracy"] > 0.85, name
        assert 0 < m["test_code_activation"] < 1, name
    assert metrics["pretrained"]["test_code_activation"] < 0.2


def test_the_penalty_makes_the_code_sparse(wine_runs):
    """Pretrained codes: the sparse one's mean activation near its target, far below a plain
    autoencoder's, which reconstructs better for having no constraint."""
    plain, sparse = (wine_runs[f].codes["pretrained"] for f in ("ae", "sparse"))
    assert sparse.mean() < 0.15 < plain.mean()
    mse = {f: wine_runs[f].metrics["pretrained"]["test_reconstruction_mse"] for f in wine_runs}
    assert mse["ae"] < mse["sparse"]
    tuned = wine_runs["sparse"].metrics["strategies"]  # the penalty holds where recon is kept
    assert (
        tuned["finetune-recon"]["test_code_activation"] < tuned["finetune"]["test_code_activation"]
    )


def test_greedy_pretraining_stacks_sparse_layers():
    config = RunConfig(
        strategies=("finetune",),
        model=ModelConfig(family="sparse", hidden=(6,), code=2),
        train=TrainConfig(
            pretrain_steps=100, finetune_steps=100, snapshot_every=100, pretraining="greedy"
        ),
    )
    outcome = aelab.train_and_evaluate(config)
    assert outcome.pretrain.history.shape == (1, 200, 4)  # two layers of 100 steps
    assert np.isfinite(outcome.metrics["strategies"]["finetune"]["test_accuracy"])


def test_a_sweep_varies_the_sparsity_weight_inside_one_program(tmp_path):
    from aelab.training.program import chunk_program

    before = chunk_program.cache_info().misses
    with pytest.raises(SystemExit) as info:
        main(
            ["sweep", "--model", "sparse", "--sparsity", "0,3", "--seeds", "2", "--code", "4",
             "--strategies", "finetune-recon", "--pretrain-steps", "100", "--finetune-steps",
             "100", "--snapshot-every", "100", "--no-baselines", "--out", str(tmp_path),
             "--name", "s", "-q"]
        )  # fmt: skip
    assert info.value.code == 0
    assert chunk_program.cache_info().misses - before == 1  # one program for both weights
    rows = pd.read_csv(tmp_path / "s" / "results.csv")
    assert sorted(set(rows["beta"])) == [0.0, 3.0] and len(rows) == 4
    mse = rows.groupby("beta")["test_reconstruction_mse"].mean()
    assert mse[3.0] > mse[0.0]  # the penalty costs reconstruction


def test_the_sparsity_flag_needs_its_family_in_a_sweep(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--sparsity", "0,1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--sparsity weighs the penalty of model family sparse" in err


def test_the_estimators_take_its_settings():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    clf = aelab.AutoencoderClassifier(
        family="sparse", sparsity=0.5, code=3, pretrain_steps=200, finetune_steps=300
    )
    assert clf.get_params()["sparsity"] == 0.5
    assert clf.fit(X, y).score(X, y) > 0.8
    assert clf.model_.sparsity == 0.5
    ae = aelab.AutoencoderTransformer(family="sparse", code=3, pretrain_steps=200).fit(X)
    assert ae.inverse_transform(ae.transform(X)).shape == X.shape


def test_generate_decodes_a_sparse_run(tmp_path):
    config = RunConfig(
        strategies=("finetune-recon",),
        model=ModelConfig(family="sparse"),
        train=TrainConfig(pretrain_steps=50, finetune_steps=50, snapshot_every=50),
    )
    run = aelab.run(config, out=tmp_path, name="sp")
    made = aelab.generate(run.run_dir, "grid", size=3)
    assert made.samples.shape == (9, 4) and made.csv_path.is_file()

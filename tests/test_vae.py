import jax
import numpy as np
import pytest

from aelab.config import ModelConfig, RunConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.models.vae import VariationalAutoencoder
from aelab.outputs.checkpoint import load_checkpoint, save_checkpoint
from aelab.training.experiment import train_and_evaluate

VAE = VariationalAutoencoder(n_inputs=4, n_classes=3, hidden=(8,), code=2, beta=0.5)
X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)


def test_the_code_is_the_posterior_mean_and_evaluation_is_deterministic():
    params = VAE.init(jax.random.key(0))
    mean, logvar = VAE.posterior(params, X)
    assert mean.shape == logvar.shape == (30, 2)
    np.testing.assert_array_equal(VAE.encode(params, X), mean)
    z, x_hat, logits = VAE.apply(params, X)
    np.testing.assert_array_equal(x_hat, VAE.decode(params, mean))
    np.testing.assert_array_equal(logits, VAE.logits(params, mean))


def test_training_decodes_a_sample_and_adds_the_weighted_kl():
    params = VAE.init(jax.random.key(0))
    mean, _ = VAE.posterior(params, X)
    a, stats = VAE.train_forward(params, X, jax.random.key(1))
    b, _ = VAE.train_forward(params, X, jax.random.key(2))
    assert stats is None  # no batch norm, no running statistics
    np.testing.assert_array_equal(a[0], mean)  # the head and the plots read the mean
    assert not np.array_equal(a[1], b[1])  # the decoder sees a random sample
    np.testing.assert_allclose(a[3], 0.5 * VAE.kl(params, X) / 4, rtol=1e-6)


def test_kl_is_zero_exactly_at_the_prior():
    params = VAE.init(jax.random.key(0))
    params["encoder"][-1] = jax.tree.map(np.zeros_like, params["encoder"][-1])
    np.testing.assert_allclose(VAE.kl(params, X), 0.0, atol=1e-6)
    assert (np.asarray(VAE.kl(VAE.init(jax.random.key(1)), X)) > 0).all()


def test_a_vae_checkpoint_loads_as_a_vae(tmp_path):
    params = VAE.init(jax.random.key(0))
    save_checkpoint(tmp_path / "v.npz", VAE, params)
    model, loaded = load_checkpoint(tmp_path / "v.npz")
    assert model == VAE and isinstance(model, VariationalAutoencoder)
    np.testing.assert_allclose(model.encode(loaded, X), VAE.encode(params, X), atol=1e-6)


def test_a_vae_run_reports_the_elbo_terms():
    config = RunConfig(
        strategies=("finetune", "finetune-recon"),
        model=ModelConfig(family="vae", beta=1.0),
        train=TrainConfig(pretrain_steps=300, finetune_steps=300, snapshot_every=100),
    )
    outcome = train_and_evaluate(config)
    assert outcome.metrics["pretrained"]["test_kl"] > 0
    s = outcome.metrics["strategies"]
    assert s["finetune-recon"]["test_kl"] < s["finetune"]["test_kl"]  # the KL term holds it


def test_greedy_pretraining_is_for_plain_autoencoders():
    with pytest.raises(ConfigError, match=r"greedy works with model.family = ae"):
        RunConfig(model=ModelConfig(family="vae"), train=TrainConfig(pretraining="greedy"))

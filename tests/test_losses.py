import jax.numpy as jnp
import numpy as np
from sklearn.metrics import log_loss

from aelab.training.losses import cross_entropy, reconstruction_error


def test_reconstruction_error_is_masked_mse():
    rng = np.random.default_rng(0)
    x, x_hat = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    mask = np.array([1, 0] * 5, np.float32)
    got = reconstruction_error(jnp.asarray(x), jnp.asarray(x_hat), jnp.asarray(mask))
    np.testing.assert_allclose(got, np.mean((x - x_hat)[mask == 1] ** 2), rtol=1e-5)


def test_cross_entropy_matches_scikit_learn_on_masked_samples():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(12, 3)).astype(np.float32)
    labels = np.arange(12) % 3
    mask = (np.arange(12) < 8).astype(np.float32)
    got = cross_entropy(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(mask))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(got, log_loss(labels[:8], p[:8], labels=[0, 1, 2]), rtol=1e-5)


def test_empty_mask_gives_zero_not_nan():
    assert float(reconstruction_error(jnp.ones((3, 2)), jnp.zeros((3, 2)), jnp.zeros(3))) == 0.0

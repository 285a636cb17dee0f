"""The convolutional families: their shapes on signals and images, that they convolve, and
that they work wherever a family works (every strategy, sweeps, a loaded run, generate, the
estimators), with one line for data that has no image shape."""

import math

import jax
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import aelab
from aelab.cli import main
from aelab.config import ModelConfig, RunConfig, TrainConfig
from aelab.errors import ConfigError

FAST = TrainConfig(pretrain_steps=60, finetune_steps=60, snapshot_every=30, learning_rate=0.01)


def _images(n: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 8x8 images of three classes: a horizontal bar, a vertical bar, a diagonal."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.uniform(0, 0.3, size=(n, 8, 8))
    for i, c in enumerate(y):
        at = rng.integers(1, 7)
        if c == 0:
            x[i, at, :] += 1.0
        elif c == 1:
            x[i, :, at] += 1.0
        else:
            x[i] += np.eye(8)
    return x, y


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    x, y = _images()
    path = tmp_path_factory.mktemp("data") / "bars.npz"
    np.savez(path, X=x, y=y)
    return path


def _model(shape, family="conv-ae", **settings):
    settings = {"conv": (3, 4), "code": 2, "hidden": (5,), **settings}
    return ModelConfig(family=family, **settings).build(math.prod(shape), 3, shape)


@pytest.mark.parametrize(
    ("family", "shape", "kernel_axes"),
    [("conv-ae", (11,), 1), ("conv-vae", (7, 6), 2), ("conv-ae", (5, 6, 3), 2)],
)
def test_signals_and_images_come_back_in_their_shape(family, shape, kernel_axes):
    model = _model(shape, family, batch_norm=True)
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(4, math.prod(shape))).astype(np.float32)
    # one compiled program: much cheaper than compiling every operation on its own
    z, x_hat, logits, decoded = jax.jit(
        lambda p, x: (*model.apply(p, x), model.decode(p, model.encode(p, x)))
    )(params, x)
    assert z.shape == (4, 2) and x_hat.shape == x.shape and logits.shape == (4, 3)
    np.testing.assert_allclose(decoded, x_hat, rtol=1e-5, atol=1e-6)
    # 1-D kernels (taps, in, out) for signals, 2-D ones for images; channels in, then 3, 4
    kernels = [layer["w"].shape for layer in params["encoder"]["conv"]]
    assert [len(k) for k in kernels] == [kernel_axes + 2] * 2
    channels = shape[2] if len(shape) == 3 else 1
    assert [k[-2:] for k in kernels] == [(channels, 3), (3, 4)]


def test_a_convolution_is_shift_equivariant():
    model = _model((16,), conv=(2,), stride=1, kernel_size=3)
    params = model.init(jax.random.key(0))
    x = np.zeros((2, 16), np.float32)
    x[0, 5], x[1, 9] = 1.0, 1.0  # the same spike, 4 samples later
    maps = np.asarray(jax.jit(model.hidden_layers)(params, x)[0]).reshape(2, 16, 2)
    np.testing.assert_allclose(maps[1, 4:], maps[0, :-4], rtol=1e-6)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"conv": "32,x"}, r"model.conv must list each convolution's channels, such as 32,64"),
        ({"conv": ()}, r"model.conv must list"),
        ({"kernel_size": 0}, r"model.kernel_size must be an integer >= 1, got 0"),
        ({"stride": 1.5}, r"model.stride must be an integer >= 1"),
    ],
)
def test_its_settings_are_checked(settings, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(family="conv-ae", **settings)


def test_a_table_gets_one_line_and_no_run_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--model", "conv-ae", "--dataset", "iris", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and len(err.splitlines()) == 1
    assert "model.family = conv-ae needs images or signals" in err
    assert "table of 4 features" in err and "use a dense family such as ae" in err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def image_run(image_file, tmp_path_factory):
    config = RunConfig(
        data=aelab.DataConfig(dataset=str(image_file)),
        model=ModelConfig(family="conv-ae", conv=(4, 8), code=4, activation="relu"),
        train=FAST,
    )
    return aelab.run(config, out=tmp_path_factory.mktemp("runs"), name="conv")


def test_every_strategy_trains_a_conv_autoencoder(image_run):
    strategies = image_run.metrics["strategies"]
    assert set(strategies) == {"supervised", "finetune", "finetune-recon", "joint"}
    for metrics in strategies.values():
        assert np.isfinite(metrics["test_reconstruction_mse"])
    assert strategies["supervised"]["test_accuracy"] > 0.6  # three classes: chance is 1/3


def test_a_loaded_run_rebuilds_the_same_conv_model(image_run, image_file):
    run = aelab.load_run(image_run.run_dir)
    model, _ = run.model("joint")
    assert model.input_shape == (8, 8) and model.conv == (4, 8)
    x = np.load(image_file)["X"].reshape(48, 64)
    np.testing.assert_allclose(run.encode(x, "joint"), run.codes("joint"), rtol=1e-4, atol=1e-5)
    test = ~run.is_train
    accuracy = (run.predict(x, "joint")[test] == run.labels[test].astype(str)).mean()
    assert accuracy == pytest.approx(image_run.metrics["strategies"]["joint"]["test_accuracy"])


def test_generate_draws_a_grid_of_decoded_images(image_run):
    out = aelab.generate(image_run.run_dir, mode="grid", size=3, stage="pretrained")
    assert out.samples.shape == (9, 64)
    with Image.open(out.figure_path) as png:
        assert png.size[0] > 100
    assert len(pd.read_csv(out.csv_path)) == 9


def test_a_sweep_trains_two_seeds_and_two_betas_in_one_program(image_file, tmp_path):
    from aelab.training.program import chunk_program

    before = chunk_program.cache_info().misses
    with pytest.raises(SystemExit) as info:
        main(
            ["sweep", "--dataset", str(image_file), "--model", "conv-vae", "--conv", "4",
             "--beta", "0,1", "--seeds", "2", "--code", "2", "--strategies", "joint",
             "--pretrain-steps", "20", "--finetune-steps", "20", "--snapshot-every", "20",
             "--no-baselines", "--out", str(tmp_path), "--name", "s", "-q"]
        )  # fmt: skip
    assert info.value.code == 0
    assert chunk_program.cache_info().misses - before == 1  # one program for every model
    rows = pd.read_csv(tmp_path / "s" / "results.csv")
    assert len(rows) == 4 and sorted(set(rows["seed"])) == [0, 1]
    assert sorted(set(rows["beta"])) == [0.0, 1.0]


def test_the_estimators_take_an_image_shape():
    x, y = _images(60, seed=1)
    x = x.reshape(60, 64)
    partial = np.where(np.arange(40) < 12, -1, y[:40])  # 12 unlabelled: semi-supervised
    settings = {"family": "conv-ae", "conv": (4,), "code": 4, "activation": "relu"}
    clf = aelab.AutoencoderClassifier(
        **settings, image_shape=(8, 8), strategy="joint", finetune_steps=150, random_state=0
    )
    assert clf.fit(x[:40], partial).score(x[40:], y[40:]) > 0.6
    assert clf.n_labelled_ == 28
    assert clf.model_.input_shape == (8, 8) and clf.transform(x[:3]).shape == (3, 4)
    with pytest.raises(ConfigError, match=r"conv-ae needs images or signals.*table of 64"):
        aelab.AutoencoderClassifier(**settings, finetune_steps=5).fit(x, y)
    with pytest.raises(ConfigError, match=r"image_shape \(8, 7\) holds 56 values"):
        aelab.AutoencoderClassifier(**settings, image_shape=(8, 7), finetune_steps=5).fit(x, y)


def test_export_says_which_families_it_exports(image_run, capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", str(image_run.run_dir)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "not a plain stack of dense layers" in err


@pytest.mark.parametrize("models", [3, 10])  # unrolled (up to 8), and a sweep's wider map
@pytest.mark.parametrize("kind", ["convolve", "convolve_transposed"])
def test_mapped_models_convolve_as_each_one_alone(kind, models):
    """Under ``jax.vmap`` over models (and over samples with one kernel) the convolutions
    give each model's own values and gradients, which the plain convolution gives alone."""
    import jax.numpy as jnp

    from aelab.models import convolution

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6, 6, 2)).astype(np.float32)
    w = rng.normal(size=(models, 3, 3, 2, 4)).astype(np.float32)

    def loss(w, x):
        layer = {"w": w, "b": jnp.zeros(4)}
        if kind == "convolve":
            out = convolution.convolve(layer, x, 2)
        else:
            out = convolution.convolve_transposed(layer, x, 2, (12, 12))
        return jnp.sum(jnp.sin(out)), out

    grads, outs = jax.jit(jax.vmap(jax.grad(loss, has_aux=True), in_axes=(0, None)))(w, x)
    for i in range(models):
        grad, out = jax.grad(loss, has_aux=True)(w[i], x)
        np.testing.assert_allclose(outs[i], out, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(grads[i], grad, rtol=1e-4, atol=1e-4)
    samples = jax.vmap(lambda x: loss(w[0], x)[1])(np.stack([x, 2 * x]))  # one kernel
    np.testing.assert_allclose(samples[1], loss(w[0], 2 * x)[1], rtol=1e-5, atol=1e-5)

"""The convolutional ladder: the Γ-model's decoder is the top alone, the full ladder's goes
down every feature map to the input and reconstructs it, each level's cost counts and levels
below the lowest weight are not computed; its settings get one line, and it trains with the
ladder's strategies from the command line and the estimators, its checkpoints giving back the
run's predictions. (Shapes, determinism, a loss that goes down and the checkpoint round trip
on signals are the shared contract, ``test_models.py``.)"""

import jax
import numpy as np
import pytest

import aelab
from aelab.cli import main
from aelab.config import ModelConfig
from aelab.errors import ConfigError
from aelab.models.conv_ladder import ConvLadderNetwork


def _images(n: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 8x8 images (flattened) of two classes: a horizontal or a vertical bar."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.uniform(0, 0.3, size=(n, 8, 8))
    for i, c in enumerate(y):
        at = rng.integers(1, 7)
        x[i, at, :] += c
        x[i, :, at] += 1 - c
    return x.reshape(n, 64).astype(np.float32), y


def _model(weights: str, shape: tuple[int, ...] = (8, 8)) -> ConvLadderNetwork:
    """A tiny conv ladder (two convolutions, a code of 3) with ``weights``."""
    config = ModelConfig(family="conv-ladder", conv=(2, 3), code=3, ladder_weights=weights)
    return config.build(int(np.prod(shape)), 2, shape)


def _terms(weights: str, *moves) -> list[np.ndarray]:
    """The reconstruction term of every sample (reconstruction error + penalty, what the
    training loop weighs) of a tiny conv ladder with ``weights``, at its initial parameters
    and then at each ``move(params)``, with the same noise. (Eager: its operations compile
    once for every test of this shape, where each model would compile a program.)"""
    model = _model(weights)
    params = model.init(jax.random.key(0))
    x, key = _images(8)[0], jax.random.key(1)
    out = []
    for p in (params, *(move(params) for move in moves)):
        (_, x_hat, _, penalty), _ = model.train_forward(p, x, key)
        out.append(np.mean(np.square(x_hat - x), axis=1) + penalty)
    return out


def _moved(part: str, level: int = 0):
    """A function of ``params`` that moves one level's map and combinator of the ``dense``
    decoder (level 0: code -> last feature map) or of the ``conv`` one (the map into
    ``level``)."""
    maps, combinators = (
        ("decoder", "combinator") if part == "dense" else ("conv_decoder", "conv_combinator")
    )

    def move(params):
        out = jax.tree.map(lambda a: a, params)
        out[maps][level]["w"] = out[maps][level]["w"] + 1.0
        out[combinators][level]["a"] = out[combinators][level]["a"] + 1.0
        return out

    return move


def test_the_gamma_model_denoises_the_top_alone_and_the_default_every_level():
    gamma, gamma_moved = _terms("gamma", _moved("dense"))
    np.testing.assert_array_equal(gamma, gamma_moved)  # the lower decoder is not even computed
    assert (gamma > 0).all()
    default, *moved = _terms("default", _moved("dense"), _moved("conv", 1), _moved("conv", 0))
    assert not any(np.allclose(default, m) for m in moved)  # every level's decoder counts
    # a weight of 0 on the input: the decoder stops at the first feature map
    above, input_moved, map_moved = _terms("0,1,0.1,0.1,0.1", _moved("conv", 0), _moved("conv", 1))
    np.testing.assert_array_equal(above, input_moved)
    assert not np.allclose(above, map_moved)


def test_every_level_s_cost_counts_and_the_full_ladder_reconstructs():
    """One weight at a time (input, each feature map, code, classes): each level's cost is
    positive; the input's is the reconstruction error, which the training loop adds, so the
    model gives back its estimate of the input rather than the input."""
    x = _images(8)[0]
    for level in range(5):  # input, 2 feature maps, code, classes
        model = _model(",".join("1" if i == level else "0" for i in range(5)))
        params = model.init(jax.random.key(0))
        assert ("conv_decoder" in params) == (level < 2)  # only where the decoder goes below
        (_, x_hat, _, penalty), _ = model.train_forward(params, x, jax.random.key(1))
        if level == 0:
            np.testing.assert_array_equal(penalty, 0.0)  # (weight - 1) * the input's cost
            assert (np.mean(np.square(x_hat - x), axis=1) > 0.01).all()
            assert not np.allclose(model.apply(params, x)[1], x)  # the clean pass's estimate
        else:
            assert (penalty > 0).all()
            np.testing.assert_array_equal(x_hat, x)  # no decoder down to the input
            np.testing.assert_array_equal(model.apply(params, x)[1], x)


def test_the_full_ladder_gives_a_colour_image_s_shape_back():
    """(Signals: the shared contract, ``test_models.py``, whose conv ladder has the default
    weights; greyscale images: the tests above.)"""
    x = np.random.default_rng(0).normal(size=(5, 192)).astype(np.float32)
    model = _model("default", (8, 8, 3))
    params = model.init(jax.random.key(0))
    (code, x_hat, logits, penalty), _ = model.train_forward(params, x, jax.random.key(1))
    clean = model.apply(params, x)[1]
    assert x_hat.shape == clean.shape == x.shape and penalty.shape == (5,)
    assert code.shape == (5, 3) and logits.shape == (5, 2)
    assert not np.allclose(x_hat, x) and not np.allclose(clean, x)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"ladder_weights": "1,2"},
            r"or 5 comma-separated weights >= 0, one a level: input, feature map 1, feature "
            r"map 2, code, classes$",
        ),
        ({"noise": "gaussian:0.3"}, r"conv-ladder adds its own Gaussian noise at every layer"),
        ({"kernel_size": 0}, r"model.kernel_size must be an integer >= 1, got 0"),
        ({"ladder_noise": -1}, r"model.ladder_noise must be >= 0"),
    ],
)
def test_its_settings_are_checked(settings, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(family="conv-ladder", **settings)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "iris"], "model.family = conv-ladder needs images or signals"),
        (["--ladder-weights", "gamma,1"], "model.ladder_weights: cannot use 'gamma,1'"),
    ],
)
def test_a_bad_option_gets_one_line_and_no_run_folder(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["run", "--model", "conv-ladder", *args, "--out", str(tmp_path), "--name", "r"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_the_cli_trains_the_full_ladder_which_reconstructs_and_its_checkpoint_predicts(tmp_path):
    x, y = _images(60)
    np.savez(tmp_path / "bars.npz", X=x.reshape(60, 8, 8), y=y)
    with pytest.raises(SystemExit) as info:
        main(
            ["run", "--dataset", str(tmp_path / "bars.npz"), "--model", "conv-ladder",
             "--conv", "4", "--kernel-size", "3", "--code", "6", "--activation", "relu",
             "--ladder-weights", "default", "--strategies", "supervised,joint",
             "--pretrain-steps", "1", "--finetune-steps", "150", "--snapshot-every", "150",
             "--learning-rate", "0.01", "--labels", "4", "--out", str(tmp_path),
             "--name", "r", "-q"]
        )  # fmt: skip
    assert info.value.code == 0
    run = aelab.load_run(tmp_path / "r")
    model, _ = run.model("joint")
    assert isinstance(model, ConvLadderNetwork) and model.input_shape == (8, 8)
    assert model.weights == (1.0, 0.1, 0.1, 0.1)  # input, feature map, code, classes
    test = ~run.is_train
    for strategy in ("supervised", "joint"):
        accuracy = (run.predict(x, strategy)[test] == run.labels[test].astype(str)).mean()
        assert accuracy == pytest.approx(run.metrics["strategies"][strategy]["test_accuracy"])
    joint = run.metrics["strategies"]["joint"]
    # the decoder's estimate of the input: a real error, below the untrained decoder's
    supervised = run.metrics["strategies"]["supervised"]
    assert 0 < joint["test_reconstruction_mse"] < supervised["test_reconstruction_mse"]
    with np.load(tmp_path / "r" / "history.npz") as history:
        steps = [history[k] for k in history.files if "joint" in k]
    assert steps and steps[0][-20:, 0].mean() < steps[0][:20, 0].mean()  # the loss went down
    recon = steps[0][:, 2]  # the reconstruction error fell, and is not 0
    assert 0 < recon[-20:].mean() < 0.8 * recon[:20].mean()


def test_the_estimators_take_it_and_the_transformer_says_why_not():
    x, y = _images(60, seed=1)
    partial = np.where(np.arange(40) < 20, -1, y[:40])  # 20 unlabelled: semi-supervised
    clf = aelab.AutoencoderClassifier(
        family="conv-ladder", conv=(4,), code=6, activation="relu", ladder_weights="gamma",
        image_shape=(8, 8), strategy="joint", finetune_steps=150, learning_rate=0.01,
        random_state=0,
    )  # fmt: skip
    assert clf.fit(x[:40], partial).score(x[40:], y[40:]) > 0.7
    assert clf.n_labelled_ == 20 and clf.transform(x[:3]).shape == (3, 6)
    with pytest.raises(ConfigError, match="convolutional ladder network cannot decode"):
        aelab.AutoencoderTransformer(family="conv-ladder", image_shape=(8, 8)).fit(x)

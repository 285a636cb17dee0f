"""The convolutional ladder: the Γ-model's decoder is the top alone, its settings get one
line, and it trains with the ladder's strategies from the command line and the estimators,
its checkpoints giving back the run's predictions. (Shapes, determinism, a loss that goes
down and the checkpoint round trip on signals are the shared contract, ``test_models.py``.)"""

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


def _penalty(weights: str, params_of) -> tuple[np.ndarray, np.ndarray]:
    """The penalty of a tiny conv ladder with ``weights``, at its initial parameters and at
    ``params_of(params)``, with the same noise."""
    model = ModelConfig(family="conv-ladder", conv=(3,), code=4, ladder_weights=weights)
    model = model.build(64, 2, (8, 8))
    params = model.init(jax.random.key(0))
    forward = jax.jit(model.train_forward)
    x, key = _images(8)[0], jax.random.key(1)
    return forward(params, x, key)[0][3], forward(params_of(params), x, key)[0][3]


def _moved_lower_decoder(params):
    """``params`` with the decoder's lowest map (code -> feature map) and combinator moved."""
    out = jax.tree.map(lambda a: a, params)
    out["decoder"][0]["w"] = out["decoder"][0]["w"] + 1.0
    out["combinator"][0]["a"] = out["combinator"][0]["a"] + 1.0
    return out


def test_the_gamma_model_denoises_the_top_alone_and_the_default_every_dense_level():
    gamma, gamma_moved = _penalty("gamma", _moved_lower_decoder)
    np.testing.assert_array_equal(gamma, gamma_moved)  # the lower decoder is not even computed
    assert (np.asarray(gamma) > 0).all()
    default, default_moved = _penalty("default", _moved_lower_decoder)
    assert not np.allclose(default, default_moved)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ladder_weights": "1,2"}, r"3 comma-separated weights >= 0 \(the last convolution's"),
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


def test_the_cli_trains_it_with_the_ladder_s_strategies_and_its_checkpoint_predicts(tmp_path):
    x, y = _images(60)
    np.savez(tmp_path / "bars.npz", X=x.reshape(60, 8, 8), y=y)
    with pytest.raises(SystemExit) as info:
        main(
            ["run", "--dataset", str(tmp_path / "bars.npz"), "--model", "conv-ladder",
             "--conv", "4", "--kernel-size", "3", "--code", "6", "--activation", "relu",
             "--ladder-weights", "gamma", "--strategies", "supervised,joint",
             "--pretrain-steps", "1", "--finetune-steps", "150", "--snapshot-every", "150",
             "--learning-rate", "0.01", "--labels", "4", "--out", str(tmp_path),
             "--name", "r", "-q"]
        )  # fmt: skip
    assert info.value.code == 0
    run = aelab.load_run(tmp_path / "r")
    model, _ = run.model("joint")
    assert isinstance(model, ConvLadderNetwork) and model.input_shape == (8, 8)
    assert model.weights == (0.0, 0.0, 1.0)
    test = ~run.is_train
    for strategy in ("supervised", "joint"):
        accuracy = (run.predict(x, strategy)[test] == run.labels[test].astype(str)).mean()
        assert accuracy == pytest.approx(run.metrics["strategies"][strategy]["test_accuracy"])
    assert run.metrics["strategies"]["joint"]["test_accuracy"] > 0.7  # two classes
    with np.load(tmp_path / "r" / "history.npz") as history:
        joint = [history[k] for k in history.files if "joint" in k]
    assert joint and joint[0][-20:, 0].mean() < joint[0][:20, 0].mean()  # the loss went down


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

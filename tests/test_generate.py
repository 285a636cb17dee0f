import csv

import matplotlib.image
import numpy as np
import pytest

import aelab
from aelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.outputs.generate import generate, interpolation, latent_grid, perturbations

FAST = TrainConfig(pretrain_steps=300, finetune_steps=100, snapshot_every=100)


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    config = RunConfig(strategies=("finetune",), train=FAST)
    return aelab.run(config, out=tmp_path_factory.mktemp("g"), name="iris")


@pytest.fixture(scope="module")
def digits_vae(tmp_path_factory):
    config = RunConfig(
        strategies=("joint",),
        data=DataConfig(dataset="digits"),
        model=ModelConfig(family="vae", hidden=(16,), activation="relu"),
        train=FAST,
    )
    return aelab.run(config, out=tmp_path_factory.mktemp("g"), name="digits")


def _decode(run, stage, codes):
    model, params = aelab.load_checkpoint(run.checkpoints[stage])
    info = aelab.checkpoint_info(run.checkpoints[stage])
    return np.asarray(model.decode(params, codes)) * info["scaler_scale"] + info["scaler_mean"]


def test_perturbations_start_at_the_sample_and_decode_in_data_units(iris_run):
    made = generate(iris_run.run_dir, "perturb", sample=3, count=5, scale=0.05, seed=1)
    z0 = iris_run.codes["pretrained"][3]
    np.testing.assert_allclose(made.codes[0], z0)
    assert made.codes.shape == (5, 2) and np.abs(made.codes - z0).max() < 0.5
    np.testing.assert_allclose(made.samples, _decode(iris_run, "pretrained", made.codes), rtol=1e-5)
    with open(made.csv_path) as f:
        rows = list(csv.reader(f))
    features = aelab.checkpoint_info(iris_run.checkpoints["pretrained"])["feature_names"]
    assert rows[0] == ["code_0", "code_1", *features]
    assert len(rows) == 6
    np.testing.assert_allclose(np.array(rows[1][2:], float), made.samples[0], rtol=1e-4)
    assert matplotlib.image.imread(made.figure_path).ndim == 3


def test_interpolation_ends_at_both_samples(iris_run):
    made = generate(iris_run.run_dir, "interpolate", stage="finetune", sample=0, to=100, steps=5)
    codes = iris_run.codes["finetune"]
    np.testing.assert_allclose(made.codes[[0, -1]], codes[[0, 100]], rtol=1e-6)


def test_a_second_call_never_overwrites_the_first(iris_run):
    a = generate(iris_run.run_dir, "grid", size=3)
    b = generate(iris_run.run_dir, "grid", size=4)
    assert a.csv_path != b.csv_path and a.csv_path.exists() and b.csv_path.exists()
    assert len(b.samples) == 16


def test_image_data_comes_out_as_an_image_grid_and_a_vae_samples_its_prior(digits_vae):
    made = generate(digits_vae.run_dir, "prior", count=12, seed=0)
    assert made.samples.shape == (12, 64)
    image = matplotlib.image.imread(made.figure_path)
    assert image.shape[1] > image.shape[0]  # 8 images across, 2 rows down
    again = generate(digits_vae.run_dir, "prior", count=12, seed=0)
    np.testing.assert_array_equal(made.samples, again.samples)


def test_pure_helpers():
    z = perturbations(np.zeros(3), 1.0, 4, seed=0)
    assert z.shape == (4, 3) and (z[0] == 0).all()
    grid = latent_grid(np.array([[0.0, 0.0, 5.0], [1.0, 2.0, 7.0]]), (0, 1), 3)
    assert grid.shape == (9, 3) and (grid[:, 2] == 6.0).all()
    assert set(grid[:, 0]) == {0.0, 0.5, 1.0} and grid[0, 1] == 2.0  # top row: largest dims[1]
    np.testing.assert_allclose(interpolation(np.zeros(2), np.ones(2), 3)[1], [0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stage": "magic"}, r"--stage: 'magic' is not a stage of this run"),
        ({"sample": 150}, r"--sample 150 is not a sample of this run; use 0 to 149"),
        ({"mode": "prior"}, r"--mode prior needs a run of a family with a prior \(conv-vae, vae\)"),
        ({"mode": "grid", "dims": (0, 0)}, r"--dims 0,0: need two different code units"),
        ({"mode": "interpolate", "steps": 1}, r"--steps must be at least 2"),
        ({"count": 0}, r"--count must be at least 1"),
    ],
)
def test_bad_options_name_the_flag(iris_run, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        generate(iris_run.run_dir, **kwargs)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"is not an aelab run folder"):
        generate(tmp_path)

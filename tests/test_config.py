from pathlib import Path

import pytest

from aelab.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    dump_config,
    load_config,
    with_overrides,
)
from aelab.errors import ConfigError


def test_defaults_are_the_original_experiment():
    c = RunConfig()
    assert c.data.dataset == "iris" and c.data.test_size == 0.5
    assert c.model.hidden == () and c.model.code == 2
    assert c.model.code_activation == "sigmoid"
    assert c.train.learning_rate == 0.01
    assert (c.train.pretrain_steps, c.train.finetune_steps) == (5000, 10000)
    assert c.train.recon_weight == 1.0
    assert c.strategies == ("supervised", "finetune", "finetune-recon", "joint")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DataConfig(dataset="mnist9"), r"data.dataset: unknown dataset 'mnist9'.*iris"),
        (lambda: DataConfig(test_size=1.5), r"data.test_size must be a fraction"),
        (lambda: DataConfig(test_size=0), r"data.test_size must be a positive sample count"),
        (lambda: ModelConfig(code=0), r"model.code must be an integer >= 1, got 0"),
        (lambda: ModelConfig(code=2.5), r"model.code must be an integer"),
        (lambda: ModelConfig(hidden=(8, -1)), r"model.hidden must be an integer >= 1"),
        (lambda: ModelConfig(activation="swish2"), r"model.activation: unknown activation"),
        (lambda: TrainConfig(learning_rate=0), r"train.learning_rate must be > 0"),
        (lambda: TrainConfig(learning_rate=float("nan")), r"learning_rate must be a finite"),
        (lambda: TrainConfig(pretrain_steps=0), r"train.pretrain_steps must be an integer >= 1"),
        (lambda: TrainConfig(finetune_steps=-5), r"train.finetune_steps must be an integer"),
        (lambda: TrainConfig(recon_weight=-0.1), r"train.recon_weight must be >= 0, got -0.1"),
        (lambda: TrainConfig(snapshot_every=0), r"train.snapshot_every must be an integer"),
        (lambda: RunConfig(strategies=("finetune", "magic")), r"unknown strategy 'magic'"),
        (lambda: RunConfig(strategies=()), r"at least one strategy"),
        (lambda: RunConfig(strategies=("joint", "joint")), r"each strategy may appear once"),
        (lambda: RunConfig(seed=-1), r"run.seed must be an integer >= 0"),
        (lambda: ModelConfig(noise="gaussian:abc"), r"the level of 'gaussian:abc' is not a"),
        (lambda: ModelConfig(noise="gauss:0.3"), r"model.noise: cannot read 'gauss:0.3'"),
        (lambda: ModelConfig(noise="gaussian:-1"), r"gaussian takes a finite standard deviation"),
        (lambda: ModelConfig(noise="mask:-0.5"), r"mask takes a probability in \[0, 1\), got"),
        (lambda: TrainConfig(pretraining="layerwise"), r"train.pretraining: unknown pretraining"),
        (lambda: ModelConfig(family="gan"), r"model.family: unknown model family 'gan'"),
        (lambda: ModelConfig(beta=-1), r"model.beta must be >= 0"),
        (lambda: ModelConfig(batch_norm="yes"), r"model.batch_norm must be true or false"),
        (
            lambda: RunConfig(
                model=ModelConfig(batch_norm=True), train=TrainConfig(pretraining="greedy")
            ),
            r"greedy does not support model.batch_norm",
        ),
        (lambda: ModelConfig(dropout=1.0), r"model.dropout must be in \[0, 1\)"),
        (lambda: ModelConfig(dropout="a"), r"model.dropout must be a finite number"),
    ],
)
def test_bad_settings_raise_one_line_errors(make, match):
    with pytest.raises(ConfigError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_toml_round_trip(tmp_path):
    c = RunConfig(
        seed=3,
        strategies=("finetune", "finetune-recon"),
        data=DataConfig(dataset="wine", test_size=60, split_seed=7),
        model=ModelConfig(hidden=(16, 8), code=3, activation="relu", noise="mask:0.2", dropout=0.1),
        train=TrainConfig(recon_weight=0.3, pretrain_steps=10, pretraining="greedy"),
    )
    path = tmp_path / "c.toml"
    path.write_text(dump_config(c))
    assert load_config(path) == c


def test_data_paths_in_a_config_file_are_relative_to_its_folder(tmp_path, monkeypatch):
    (tmp_path / "project" / "configs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    Path("project/configs/c.toml").write_text(
        '[data]\ndataset = "../data/m.csv"\ntest_file = "t.csv"\n'
    )
    data = load_config("project/configs/c.toml").data
    assert (data.dataset, data.test_file) == ("project/data/m.csv", "project/configs/t.csv")
    assert load_config(tmp_path / "project/configs/c.toml").data.dataset == str(
        tmp_path / "project/data/m.csv"
    )  # the config named by an absolute path: so are its data files
    # Written into a folder, relative paths are made relative to it; absolute ones stay.
    config = RunConfig(data=DataConfig(dataset="project/data/m.csv", test_file="/d/t.csv"))
    Path("runs/x").mkdir(parents=True)
    Path("runs/x/config.toml").write_text(dump_config(config, "runs/x"))
    text = Path("runs/x/config.toml").read_text()
    assert 'dataset = "../../project/data/m.csv"' in text and 'test_file = "/d/t.csv"' in text
    assert load_config("runs/x/config.toml") == config
    monkeypatch.chdir(tmp_path / "project")  # the same files from anywhere
    assert load_config("../runs/x/config.toml").data.dataset == "../project/data/m.csv"
    for name in ("iris", "wine"):  # built-in datasets are names, not paths
        builtin = RunConfig(data=DataConfig(dataset=name))
        assert f'dataset = "{name}"' in dump_config(builtin, "../runs/x")


def test_overrides_replace_only_given_values():
    c = with_overrides(RunConfig(), {"train.recon_weight": 0.3, "seed": None, "model.hidden": [4]})
    assert c.train.recon_weight == 0.3 and c.seed == 0 and c.model.hidden == (4,)
    assert c.train.pretrain_steps == 5000


@pytest.mark.parametrize(
    "text, match",
    [
        ("[train]\nlearning_rat = 0.1\n", r"unknown setting 'learning_rat' in \[train\]"),
        ("colour = 'red'\n", r"unknown setting 'colour'"),
        ("train = 3\n", r"\[train\] must be a table"),
        ("[train\n", r"is not valid TOML"),
        ("[train]\nrecon_weight = 'big'\n", r"train.recon_weight must be a finite number"),
        ("strategies = ['joint', 'nope']\n", r"unknown strategy 'nope'"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_config(tmp_path / "nope.toml")


def test_max_steps_caps_every_phase(monkeypatch):
    monkeypatch.setenv("AELAB_MAX_STEPS", "20")
    t = TrainConfig()
    assert (t.pretrain_steps, t.finetune_steps) == (20, 20)
    assert TrainConfig(pretrain_steps=5).pretrain_steps == 5  # fewer steps stay as they are
    assert "pretrain_steps = 20" in dump_config(RunConfig())  # config.toml: what was trained


@pytest.mark.parametrize("value", ["0", "-3", "ten", "2.5"])
def test_max_steps_bad_value_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("AELAB_MAX_STEPS", value)
    with pytest.raises(ConfigError, match=r"^AELAB_MAX_STEPS must be an integer >= 1.*unset"):
        TrainConfig()

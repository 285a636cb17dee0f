"""``aelab compare``: linear CKA of every layer of every stage of runs on the same data, and
each layer's CKA to pretrained in a run's metrics."""

import dataclasses
import shutil

import jax
import numpy as np
import pandas as pd
import pytest

import aelab
from aelab.cli import main
from aelab.config import dump_config
from aelab.errors import ConfigError, DataError, RunFolderError
from aelab.outputs.checkpoint import checkpoint_info, save_checkpoint
from aelab.outputs.compare import compare_runs
from tests.conftest import read_metrics


def _deep_copy(run_dir, tmp_path, name="deep"):
    """A copy of a run whose every stage is an untrained autoencoder with a hidden layer."""
    copy = shutil.copytree(run_dir, tmp_path / name)
    config = aelab.load_config(copy / "config.toml")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, hidden=(5,)))
    (copy / "config.toml").write_text(dump_config(config))
    model = config.model.build(4, 3)
    for i, path in enumerate(sorted((copy / "checkpoints").glob("*.npz"))):
        save_checkpoint(path, model, model.init(jax.random.key(i)), info=checkpoint_info(path))
    return copy


def test_a_run_compared_with_its_copy_is_itself_layer_by_layer(tiny_run, tmp_path):
    copy = shutil.copytree(tiny_run.run_dir, tmp_path / "copy")
    made = compare_runs([tiny_run.run_dir, copy], tmp_path / "out")
    table = pd.read_csv(made.folder / "compare.csv")
    stages = aelab.load_run(copy).stages
    assert made.layers == 2 * len(stages) and len(table) == made.layers**2  # Iris: the code only
    assert list(table.columns) == [
        "run_a", "stage_a", "layer_a", "run_b", "stage_b", "layer_b", "cka"
    ]  # fmt: skip
    same = table[(table.stage_a == table.stage_b) & (table.layer_a == table.layer_b)]
    np.testing.assert_allclose(same.cka, 1.0, atol=1e-6)
    assert (made.folder / "compare.png").stat().st_size > 0
    moved = pd.read_csv(made.folder / "displacement.csv")
    assert set(moved.stage) == set(stages) - {"pretrained"}
    assert (moved.reference_stage == "pretrained").all() and (moved.mean_displacement > 0).all()


def test_every_hidden_layer_is_compared_for_a_deep_network(tiny_run, tmp_path):
    deep = _deep_copy(tiny_run.run_dir, tmp_path)
    made = compare_runs([deep, tiny_run.run_dir], tmp_path / "out")
    table = pd.read_csv(made.folder / "compare.csv")
    stages = len(aelab.load_run(deep).stages)
    assert made.layers == 3 * stages  # h1 and code of the deep run, the code of the other
    assert set(table[table.run_a == "deep"].layer_a) == {"h1", "code"}
    assert table.cka.between(-1e-9, 1 + 1e-6).all()


def test_the_metrics_hold_each_layer_s_cka_to_pretrained(tiny_run):
    strategies = read_metrics(tiny_run.run_dir)["strategies"]
    for values in strategies.values():  # Iris's network has one layer, its code
        assert values["layer_cka_to_pretrained"] == pytest.approx(
            [values["cka_to_pretrained"]], abs=1e-5
        )


def test_runs_on_other_samples_are_refused(tiny_run, tmp_path):
    other = shutil.copytree(tiny_run.run_dir, tmp_path / "other")
    arrays = dict(np.load(other / "latents.npz"))
    arrays["x"] = arrays["x"] + 1.0  # other samples in the same rows
    np.savez(other / "latents.npz", **arrays)
    with pytest.raises(DataError, match="do not hold the same samples"):
        compare_runs([tiny_run.run_dir, other], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_cli_refuses_sweeps_and_never_overwrites(tiny_run, tmp_path, capsys):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.toml").write_text("")
    with pytest.raises(RunFolderError, match="sweeps keep no checkpoints"):
        compare_runs([tmp_path / "sweep"], tmp_path / "out")
    (tmp_path / "out").mkdir()
    with pytest.raises(SystemExit) as done:
        main(["compare", str(tiny_run.run_dir), "--out", str(tmp_path / "out")])
    assert done.value.code == 2
    assert "already exists" in capsys.readouterr().err
    assert not list((tmp_path / "out").iterdir())
    with pytest.raises(ConfigError, match="at least one run"):
        compare_runs([], tmp_path / "none")

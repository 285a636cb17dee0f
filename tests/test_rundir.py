import numpy as np
import pytest

import aelab
from aelab.config import load_config
from aelab.errors import ConfigError

from .conftest import read_metrics


def test_run_folder_holds_every_promised_file(default_run):
    d = default_run.run_dir
    for name in ("config.toml", "metrics.json", "latents.npz", "history.npz", "stages.png"):
        assert (d / name).is_file(), name
    assert sorted(p.name for p in (d / "checkpoints").iterdir()) == [
        "finetune-recon.npz", "finetune.npz", "joint.npz", "pretrained.npz", "supervised.npz",
    ]  # fmt: skip
    assert default_run.figures["stages"] == d / "stages.png"
    assert not list(d.parent.glob(".*partial*"))


def test_latents_hold_every_sample_every_stage_and_the_snapshots(default_run):
    with np.load(default_run.run_dir / "latents.npz", allow_pickle=False) as z:
        assert list(z["index"]) == list(range(150))
        assert z["label"].shape == (150,) and z["is_train"].sum() == 75
        assert set(z["split"]) == {"train", "test"}
        assert list(z["class_names"]) == ["setosa", "versicolor", "virginica"]
        for stage in ("pretrained", "supervised", "finetune", "finetune-recon", "joint"):
            assert z[f"code/{stage}"].shape == (150, 2)
        assert list(z["snapshot_steps/pretrain"]) == list(range(0, 5001, 100))
        assert list(z["snapshot_steps/finetune"]) == list(range(0, 10001, 100))
        assert z["snapshots/pretrained"].shape == (51, 150, 2)
        assert z["snapshots/finetune"].shape == (101, 150, 2)
        np.testing.assert_array_equal(z["snapshots/finetune"][-1], z["code/finetune"])
        np.testing.assert_array_equal(z["snapshots/finetune"][0], z["code/pretrained"])


def test_checkpoints_reproduce_the_codes(default_run):
    model, params = aelab.load_checkpoint(default_run.checkpoints["finetune-recon"])
    with np.load(default_run.run_dir / "latents.npz", allow_pickle=False) as z:
        np.testing.assert_allclose(
            model.encode(params, z["x"]), z["code/finetune-recon"], atol=1e-6
        )


def test_config_toml_reproduces_the_run(default_run, tmp_path):
    config = load_config(default_run.run_dir / "config.toml")
    assert config == default_run.config


def test_same_config_and_seed_give_identical_metrics(tiny_config, tmp_path):
    a = aelab.run(tiny_config, out=tmp_path, name="a")
    b = aelab.run(aelab.load_config(a.run_dir / "config.toml"), out=tmp_path, name="b")
    assert (a.run_dir / "metrics.json").read_bytes() == (b.run_dir / "metrics.json").read_bytes()
    c = aelab.run(tiny_config.__class__(seed=1, train=tiny_config.train), out=tmp_path, name="c")
    assert read_metrics(c.run_dir) != read_metrics(a.run_dir)


def test_an_existing_run_folder_is_never_overwritten(tiny_config, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match=r"already exists; choose another --name"):
        aelab.run(tiny_config, out=tmp_path, name="mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", ""])
def test_run_names_cannot_escape_the_output_folder(tiny_config, tmp_path, name):
    with pytest.raises(ConfigError, match=r"not a plain folder name"):
        aelab.run(tiny_config, out=tmp_path / "runs", name=name)
    assert not (tmp_path / "runs").exists()


def test_a_failure_while_writing_leaves_nothing(tiny_config, tmp_path, monkeypatch):
    def broken(run_dir, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("aelab.outputs.runfiles.plot_stages", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        aelab.run(tiny_config, out=tmp_path, name="x")
    assert list(tmp_path.iterdir()) == []


def test_default_names_are_timestamps_that_do_not_collide(tiny_config, tmp_path):
    a = aelab.run(tiny_config, out=tmp_path)
    b = aelab.run(tiny_config, out=tmp_path)
    assert a.run_dir != b.run_dir and a.run_dir.name[:8].isdigit()


def test_a_run_without_pretrained_strategies_pretrains_only_when_asked(tiny_config, tmp_path):
    """supervised and joint start from random weights: the run trains no autoencoder first
    (no pretrained stage anywhere), unless train.pretrained_reference asks for it as a
    reference; the strategies' own numbers are the same either way."""
    import dataclasses

    config = dataclasses.replace(tiny_config, strategies=("supervised", "joint"))
    plain = aelab.run(config, out=tmp_path, name="plain")
    assert plain.metrics["strategies"].keys() == {"supervised", "joint"}
    assert "pretrained" not in plain.metrics
    assert "cka_to_pretrained" not in plain.metrics["strategies"]["joint"]
    assert set(plain.checkpoints) == {"supervised", "joint"}
    with np.load(plain.run_dir / "latents.npz") as lat:
        assert "code/pretrained" not in lat.files and "snapshots/pretrained" not in lat.files
    folder = aelab.read_run(plain.run_dir)
    assert folder.stages == ["supervised", "joint"]
    assert list(folder.history()) == ["supervised", "joint"]
    assert aelab.generate(plain.run_dir).stage == "supervised"  # the first stage by default
    assert aelab.write_animation(plain.run_dir)["animation"].stat().st_size > 0

    asked = dataclasses.replace(
        config, train=dataclasses.replace(config.train, pretrained_reference=True)
    )
    reference = aelab.run(asked, out=tmp_path, name="reference")
    assert aelab.read_run(reference.run_dir).stages == ["pretrained", "supervised", "joint"]
    assert "cka_to_pretrained" in reference.metrics["strategies"]["joint"]
    for name in ("supervised", "joint"):
        ours, theirs = plain.metrics["strategies"][name], reference.metrics["strategies"][name]
        assert {k: ours[k] for k in ours} == {k: theirs[k] for k in ours}

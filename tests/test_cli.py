import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import aelab
from aelab.cli import main

FAST = ["--pretrain-steps", "100", "--finetune-steps", "150", "--snapshot-every", "50"]


def _main(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_run_prints_the_table_and_writes_the_folder(tmp_path, capsys):
    code, out, err = _main(["run", *FAST, "--out", str(tmp_path), "--name", "t"], capsys)
    assert code == 0
    for stage in ("pretrained", "supervised", "finetune-recon", "joint", "raw: PCA"):
        assert stage in out
    assert "fine-tuning" in err  # the progress bar goes to stderr
    assert (tmp_path / "t" / "stages.png").is_file()


def test_flags_override_the_config_file(tmp_path, capsys):
    cfg = tmp_path / "my.toml"
    cfg.write_text("seed = 5\n[train]\nrecon_weight = 2.0\npretrain_steps = 100\n")
    args = ["run", "--config", str(cfg), "--strategies", "finetune,finetune-recon",
            "--recon-weight", "0.3", "--seed", "3", "--finetune-steps", "100",
            "--out", str(tmp_path), "--name", "trial", "--quiet"]  # fmt: skip
    code, out, _ = _main(args, capsys)
    assert code == 0 and out.strip() == str(tmp_path / "trial")
    text = (tmp_path / "trial" / "config.toml").read_text()
    assert "seed = 3" in text and "recon_weight = 0.3" in text and "pretrain_steps = 100" in text
    metrics = json.loads((tmp_path / "trial" / "metrics.json").read_text())
    assert list(metrics["strategies"]) == ["finetune", "finetune-recon"]


def test_the_saved_config_reproduces_the_run(tmp_path, capsys):
    assert (
        _main(["run", *FAST, "--seed", "2", "--out", str(tmp_path), "--name", "a", "-q"], capsys)[0]
        == 0
    )
    cfg = tmp_path / "a" / "config.toml"
    assert (
        _main(["run", "--config", str(cfg), "--out", str(tmp_path), "--name", "b", "-q"], capsys)[0]
        == 0
    )
    assert (tmp_path / "a" / "metrics.json").read_bytes() == (
        tmp_path / "b" / "metrics.json"
    ).read_bytes()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--strategies", "finetune,magic"], "unknown strategy 'magic'"),
        (["--pretrain-steps", "0"], "train.pretrain_steps must be an integer >= 1"),
        (["--finetune-steps", "-3"], "train.finetune_steps must be an integer >= 1"),
        (["--code", "0"], "model.code must be an integer >= 1"),
        (["--recon-weight", "-1"], "train.recon_weight must be >= 0"),
        (["--lr", "0"], "train.learning_rate must be > 0"),
        (["--hidden", "8,x"], "--hidden: expected comma-separated integers"),
        (["--test-size", "half"], "--test-size: expected a fraction"),
        (["--seed", "abc"], "'abc' is not a valid integer"),
        (["--config", "missing.toml"], "config file 'missing.toml' does not exist"),
        (["--name", "../x"], "is not a plain folder name"),
        (["--frobnicate"], "No such option"),
        (["--seed", "4294967296"], "run.seed must be at most 4294967295"),
        (["--split-seed", "-1"], "data.split_seed must be an integer >= 0"),
        (["--lr", "1e30"], "train.learning_rate must be > 0 and at most"),
        (["--lr-decay", "2"], "train.lr_decay must be between 0 and 1"),
        (["--hidden", ","], "--hidden: expected comma-separated integers"),
        (["--snapshot-every", "1", "--code", "1000"], "use --snapshot-every"),
        (["--test-size", "149"], "data.test_size=149 leaves 149 of 150 samples held out"),
        (["--name", "x" * 201], "is not a plain folder name"),
        (["--labels", "30"], "data.labels=30 needs 30 training samples of each class"),
        (["--labels", "0"], "data.labels must be an integer >= 1"),
        (["--batch-size", "0"], "train.batch_size must be an integer >= 1"),
        (["--batch-size", "75"], "train.batch_size=75 is not smaller than the 75 training"),
        (["--noise", "gaussian:-1"], "gaussian takes a finite standard deviation >= 0, got -1"),
        (["--noise", "gaussian:inf"], "gaussian takes a finite standard deviation >= 0, got inf"),
        (["--noise", "mask:1"], "model.noise: mask takes a probability in [0, 1), got 1;"),
        (["--noise", "saltpepper:-0.1"], "saltpepper takes a probability in [0, 1), got -0.1"),
        (["--noise", "mask:x"], "model.noise: the level of 'mask:x' is not a number"),
        (["--noise", "blur:0.1"], "model.noise: cannot read 'blur:0.1'; write kind:level"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    code, out, err = _main(["run", *args, "--out", str(tmp_path / "runs")], capsys)
    assert code == 2
    assert err.startswith("aelab: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[data]\ndataset = []\n", "data.dataset: unknown dataset []"),
        ("[model]\nactivation = {a = 1}\n", "model.activation: unknown activation"),
        ("[model]\nhidden = 'abc'\n", "model.hidden must be a list of layer widths"),
        ("[model]\ncode = true\n", "model.code must be an integer"),
        ("[data]\ntest_size = 'x'\n", "data.test_size must be a number"),
        ("strategies = 3\n", "strategies must be a list of strategy names"),
        ("strategies = [[1]]\n", "unknown strategy [1]"),
        ("seed = 4294967296\n", "run.seed must be at most 4294967295"),
    ],
)
def test_bad_values_in_a_config_file(tmp_path, capsys, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    code, _, err = _main(["run", "--config", str(cfg), "--out", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.startswith(f"aelab: error: {cfg}: ") and message in err
    assert err.count("\n") == 1 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("where", ["a-file/sub", "a-file"])
def test_an_unusable_output_folder_fails_before_training(tmp_path, capsys, where):
    (tmp_path / "a-file").write_text("mine")
    code, _, err = _main(["run", "--out", str(tmp_path / where)], capsys)
    assert code == 2 and err.startswith("aelab: error: ") and err.count("\n") == 1
    assert "--out" in err and (tmp_path / "a-file").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize("where", ["gone", "gone/sub"])
def test_an_output_folder_through_a_dangling_symlink_says_so(tmp_path, capsys, command, where):
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    code, _, err = _main([command, "--out", str(tmp_path / where)], capsys)
    assert code == 2 and err.startswith("aelab: error: ") and err.count("\n") == 1, err
    link = "is" if where == "gone" else f"is inside {str(tmp_path / 'gone')!r},"
    assert f"{link} a symbolic link to {str(tmp_path / 'nowhere')!r} that does not exist" in err
    assert "create that folder, or choose another --out" in err
    assert [p.name for p in tmp_path.iterdir()] == ["gone"]


def test_a_diverging_run_stops_with_advice_and_keeps_the_last_good_weights(tmp_path, capsys):
    import aelab

    args = ["run", "--lr", "1e6", "--activation", "linear", "--code-activation", "linear",
            "--hidden", "16,16", *FAST, "--out", str(tmp_path / "runs"), "--name", "d"]  # fmt: skip
    code, _, err = _main(args, capsys)
    assert code == 2 and err.count("\n") == 1
    assert (
        "training diverged: the loss of " in err and "stopped being a finite number at step" in err
    )
    assert "lower the learning rate (--lr, now 1e+06)" in err
    kept = tmp_path / "runs" / "d.diverged" / "checkpoints"
    assert f"the last good weights (step 0 of pretraining) are in {kept}" in err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["d.diverged"]
    model, params = aelab.load_checkpoint(kept / "pretrained.npz")
    z, _, _ = model.apply(params, np.zeros((2, 4), np.float32))
    assert np.isfinite(np.asarray(z)).all()


def test_quiet_prints_only_the_run_folder(tmp_path, capsys):
    code, out, err = _main(["run", *FAST, "--out", str(tmp_path), "--name", "q", "-q"], capsys)
    assert code == 0 and out == f"{tmp_path / 'q'}\n" and err == ""


def test_unreadable_config_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    code, _, err = _main(["run", "--config", str(bad), "--out", str(tmp_path / "runs")], capsys)
    assert code == 2 and "is not valid TOML" in err and err.count("\n") == 1


def _console_script() -> list[str]:
    exe = Path(sys.executable).parent / "aelab"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "aelab"]


def test_console_script_is_installed():
    done = subprocess.run(
        [*_console_script(), "run", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "--recon-weight" in done.stdout


def test_cached_compiles_give_the_same_numbers_as_fresh_ones(tmp_path, capsys):
    """Across processes, with and without the compilation cache: identical metrics.json."""
    env = {**os.environ, "AELAB_COMPILATION_CACHE": str(tmp_path / "cache")}
    for name in ("cold", "warm"):  # the first fills the cache, the second reads it
        args = [*_console_script(), "run", *FAST, "--out", str(tmp_path), "--name", name, "-q"]
        done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
    assert any((tmp_path / "cache").iterdir())
    assert _main(["run", *FAST, "--out", str(tmp_path), "--name", "here", "-q"], capsys)[0] == 0
    texts = {(tmp_path / n / "metrics.json").read_bytes() for n in ("cold", "warm", "here")}
    assert len(texts) == 1


def test_datasets_lists_the_builtin_ones(capsys):
    code, out, _ = _main(["datasets"], capsys)
    assert code == 0
    for name in ("iris", "wine", "breast_cancer", "digits", "mnist1d", "mnist5k"):
        assert name in out
    iris = next(line for line in out.splitlines() if line.strip().startswith("iris"))
    assert iris.split()[1:4] == ["150", "4", "3"]
    mnist5k = next(line for line in out.splitlines() if line.strip().startswith("mnist5k"))
    assert mnist5k.split()[1:4] == ["5,000", "28x28", "10"]


def test_the_command_list_of_help_is_clicks_own():
    """``aelab --help`` lists the commands from summaries, importing none of them: the list
    is the one click makes from the commands themselves (their help's first paragraph)."""
    import click  # only this test looks inside the group's help

    from aelab.cli import app

    ctx = click.Context(app, info_name="aelab")
    ours, clicks = ctx.make_formatter(), ctx.make_formatter()
    app.format_commands(ctx, ours)
    click.Group.format_commands(app, ctx, clicks)  # imports every command
    assert ours.getvalue() == clicks.getvalue() and "datasets" in ours.getvalue()


def _two_tables(folder: Path) -> None:
    rows = [f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(80)]
    (folder / "train.csv").write_text("a,b,label\n" + "\n".join(rows[:60]) + "\n")
    (folder / "test.csv").write_text("a,b,label\n" + "\n".join(rows[60:]) + "\n")


def test_a_runs_config_reproduces_it_from_another_working_folder(tmp_path, capsys, monkeypatch):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    _two_tables(project)
    monkeypatch.chdir(project)
    args = ["run", "--dataset", "train.csv", "--test-file", "test.csv", *FAST, "-q"]
    assert _main([*args, "--out", "runs", "--name", "a"], capsys)[0] == 0
    text = (project / "runs" / "a" / "config.toml").read_text()
    assert 'dataset = "../../train.csv"' in text and 'test_file = "../../test.csv"' in text
    monkeypatch.chdir(elsewhere)
    again = ["run", "--config", "../project/runs/a/config.toml", "--out", "../project/runs"]
    code, _, err = _main([*again, "--name", "b", "-q"], capsys)
    assert code == 0, err
    runs = project / "runs"
    assert (runs / "a" / "metrics.json").read_bytes() == (runs / "b" / "metrics.json").read_bytes()
    assert (runs / "b" / "config.toml").read_text() == text  # and so on, from any folder


def test_a_sweep_config_reads_its_data_beside_it_from_anywhere(tmp_path, capsys, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "elsewhere").mkdir()
    _two_tables(tmp_path / "cfg")
    (tmp_path / "cfg" / "s.toml").write_text(
        'strategies = ["supervised", "joint"]\n'
        '[data]\ndataset = "train.csv"\ntest_file = "test.csv"\n'
        "[train]\npretrain_steps = 50\nfinetune_steps = 50\n[sweep]\nseeds = 2\n"
        "baselines = false\n"
    )
    monkeypatch.chdir(tmp_path / "elsewhere")
    args = ["sweep", "--config", "../cfg/s.toml", "--out", "../sweeps", "--name", "s", "-q"]
    code, _, err = _main(args, capsys)
    assert code == 0, err
    text = (tmp_path / "sweeps" / "s" / "sweep.toml").read_text()
    assert 'dataset = "../../cfg/train.csv"' in text and 'test_file = "../../cfg/test.csv"' in text


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_config_files_data_path_that_leads_nowhere_says_why(tmp_path, capsys, command):
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "cfg" / "c.toml"
    config.write_text('[data]\ndataset = "train.csv"\n')
    _two_tables(tmp_path)  # beside the folder of the config file, not in it
    code, _, err = _main([command, "--config", str(config), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(
        f"aelab: error: {config}: data.dataset names {str(tmp_path / 'cfg' / 'train.csv')!r}, "
        "which does not exist (a relative path in a config file is relative to the file's "
        "folder); correct it there, or give --dataset"
    ), err
    assert not (tmp_path / "o").exists()


def test_generate_writes_into_the_run_folder(tmp_path, capsys):
    assert _main(["run", *FAST, "--out", str(tmp_path), "--name", "r", "-q"], capsys)[0] == 0
    code, out, _ = _main(["generate", str(tmp_path / "r"), "--mode", "grid", "--size", "3"], capsys)
    assert code == 0 and "9 samples" in out
    assert (tmp_path / "r" / "generated" / "grid-pretrained.png").is_file()
    code, _, err = _main(["generate", str(tmp_path / "r"), "--dims", "0"], capsys)
    assert code == 2 and "--dims: expected two code units" in err


def test_a_bad_data_file_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,,0\n2,3,1\n")
    code, _, err = _main(["run", "--dataset", str(bad), "--out", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.startswith("aelab: error: bad.csv: row 2, column 'b' is missing")
    assert err.count("\n") == 1 and not (tmp_path / "runs").exists()


def test_a_users_table_with_flags(tmp_path, capsys):
    table = tmp_path / "t.tsv"
    rows = "".join(f"r{i}\t{i}\t{i % 3}\t{'ab'[i % 2]}\n" for i in range(30))
    table.write_text("id\tx\ty2\tkind\n" + rows)
    args = ["run", "--dataset", str(table), "--label-column", "kind", "--drop-columns", "id",
            *FAST, "--out", str(tmp_path), "--name", "t", "-q"]  # fmt: skip
    code, _, err = _main(args, capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert metrics["data"]["class_names"] == ["a", "b"] and metrics["data"]["n_features"] == 2


def _has_gpu() -> bool:
    import jax

    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU")
def test_device_gpu_without_one_is_one_line_exit_2(tmp_path, capsys):
    code, _, err = _main(["run", "--device", "gpu", "--out", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "--device gpu: JAX sees no GPU here" in err and "aelab[cuda]" in err
    assert not (tmp_path / "runs").exists()


def test_device_cpu_trains_there_and_says_so(tmp_path, capsys):
    code, _, _ = _main(["run", "--device", "cpu", *FAST, "--out", str(tmp_path), "--name", "c",
                        "-q"], capsys)  # fmt: skip
    assert code == 0
    timing = json.loads((tmp_path / "c" / "timing.json").read_text())
    assert timing["device"].lower().startswith(("cpu", "tfrt_cpu"))


def test_repeated_column_names_are_one_line_exit_2(tmp_path, capsys):
    table = tmp_path / "dup.csv"
    table.write_text("f1,f1,f2,f2,label\n" + "".join(f"{i},1,2,{i},{i % 2}\n" for i in range(20)))
    code, _, err = _main(["run", "--dataset", str(table), "--out", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "dup.csv: column names repeat: 'f1' (2 times), 'f2' (2 times)" in err
    assert not (tmp_path / "runs").exists()


def _people(path: Path) -> Path:
    """A table as people have it: missing numbers and categories, two text feature columns
    (one with colours seen once, so that some held-out ones are new), a text label."""
    rng = np.random.default_rng(0)
    rows = ["age,weight,colour,habitat,height,species"]
    for i in range(90):
        species = ("cat", "dog", "fox")[i % 3]
        colour = f"rare{i}" if i % 15 == 0 else ("black", "brown", "red")[(i // 3 + i) % 3]
        row = [
            "" if i % 11 == 4 else str(int(rng.integers(1, 15))),
            f"{[4, 20, 7][i % 3] + rng.normal(0, 1.5):.1f}",
            "" if i % 13 == 5 else colour,
            ("town", "forest", "field")[i % 3] if i % 4 else "forest",
            "NA" if i % 17 == 6 else f"{[25, 55, 40][i % 3] + rng.normal(0, 4):.1f}",
            species,
        ]
        rows.append(",".join(row))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_table_as_people_have_it_runs_in_one_command(tmp_path, capsys):
    """Issue 14: missing values, a text label and two text feature columns took four
    commands, one error at a time."""
    table = _people(tmp_path / "people.csv")
    code, _, err = _main(["run", "--dataset", str(table), *FAST, "--out", str(tmp_path / "runs")]
                         + ["--name", "p"], capsys)  # fmt: skip
    assert code == 2 and "row 6, column 'age' is missing" in err and "--impute" in err
    args = ["run", "--dataset", str(table), "--impute", "median", *FAST,
            "--out", str(tmp_path / "runs"), "--name", "p"]  # fmt: skip
    code, out, err = _main(args, capsys)
    assert code == 0, err
    assert "aelab: people.csv: label column 'species' (the last column)" in err
    run = tmp_path / "runs" / "p"
    data = json.loads((run / "metrics.json").read_text())["data"]
    assert data["class_names"] == ["cat", "dog", "fox"] and data["label_column"] == "species"
    assert data["impute"] == "median" and data["imputed"] == {"age": 8, "colour": 7, "height": 5}
    assert data["categorical"]["habitat"] == ["field", "forest", "town"]
    seen = data["categorical"]["colour"]
    assert {"black", "brown", "red"} <= set(seen) and data["n_features"] == 3 + len(seen) + 3
    assert 'impute = "median"' in (run / "config.toml").read_text()
    info = aelab.checkpoint_info(run / "checkpoints" / "joint.npz")  # what raw data needs
    assert info["raw_features"] == ["age", "weight", "colour", "habitat", "height"]
    assert info["categories"]["colour"] == seen and info["impute"] == "median"
    assert set(info["impute_values"]) == set(info["raw_features"])
    lat = np.load(run / "latents.npz")
    names = lat["feature_names"].tolist()
    assert names[:3] == ["age", "weight", "colour=" + seen[0]] and names[-1] == "height"
    # held-out samples of a colour training never saw: every colour feature 0 before scaling
    raw = lat["x"] * lat["scaler_scale"] + lat["scaler_mean"]
    colours = np.array([line.split(",")[2] for line in table.read_text().splitlines()[1:]])
    new = ~np.isin(colours, seen) & (colours != "")
    assert new.sum() == data["unseen_categories"]["colour"] >= 1 and not lat["is_train"][new].any()
    block = [names.index(f"colour={c}") for c in seen]
    np.testing.assert_allclose(raw[np.ix_(new, block)], 0, atol=1e-5)
    np.testing.assert_allclose(raw[np.ix_(~new, block)].sum(axis=1), 1, atol=1e-5)
    assert (
        '"feature_names":["age","weight","colour","habitat","height"]'
        in (run / "report.html").read_text()
    )
    # Issue 15 on this table: its raw rows, encoded as the run encoded them, are the run's
    # own inputs, and predicting them gives the held-out accuracy the run reported.
    import pandas as pd  # only this part reads the table as a user would

    loaded = aelab.load_run(run)
    frame = pd.read_csv(table, dtype={"colour": str, "habitat": str})
    np.testing.assert_array_equal(loaded.inputs(frame, "joint"), lat["x"])
    held_out = ~lat["is_train"]
    for stage in ("supervised", "joint"):
        hits = loaded.predict(frame, stage)[held_out] == frame["species"].to_numpy()[held_out]
        assert hits.mean() == data_accuracy(run, stage)
    out = tmp_path / "predicted.csv"
    code, _, err = _main(["predict", str(run), str(table), "--out", str(out)], capsys)
    assert code == 0, err
    assert len(pd.read_csv(out)) == 90


def data_accuracy(run: Path, stage: str) -> float:
    return json.loads((run / "metrics.json").read_text())["strategies"][stage]["test_accuracy"]


def test_quiet_runs_keep_data_warnings_and_drop_notes(tmp_path, capsys):
    table = tmp_path / "years.csv"
    table.write_text("a,b,year\n" + "".join(f"{i},{i % 5},{2001 + i % 2}\n" for i in range(40)))
    args = ["run", "--dataset", str(table), *FAST, "--out", str(tmp_path), "--name", "y", "-q"]
    code, out, err = _main(args, capsys)
    assert code == 0 and out.strip() == str(tmp_path / "y")
    assert err == (
        "aelab: warning: years.csv: the label column 'year' (the last column) looks like a year;"
        " if the classes are in another column, name it with --label-column\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--categorical", "none"], "t.csv: column 'colour' is not numeric (it holds 'red')"),
        (["--categorical", ","], "--categorical: expected auto, none or column names"),
        (["--categorical", "size"], "t.csv: --categorical: no column 'size'; columns: a, colour"),
        (["--impute", "mode"], "Invalid value for '--impute'"),
    ],
)
def test_bad_column_flags_are_one_line_exit_2(tmp_path, capsys, args, message):
    table = tmp_path / "t.csv"
    table.write_text("a,colour,label\n" + "".join(f"{i},red,{i % 2}\n" for i in range(20)))
    code, _, err = _main(["run", "--dataset", str(table), *args, "--out", str(tmp_path / "r")],
                         capsys)  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r").exists()


def test_max_steps_caps_a_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AELAB_MAX_STEPS", "20")
    code, _, err = _main(["run", "--out", str(tmp_path), "--name", "capped", "-q"], capsys)
    assert code == 0, err
    with np.load(tmp_path / "capped" / "history.npz") as history:
        shapes = {k: history[k].shape for k in history.files}
    assert {s[0] for k, s in shapes.items() if k != "fields"} == {20}, shapes  # (steps, 4)
    monkeypatch.setenv("AELAB_MAX_STEPS", "many")
    code, _, err = _main(["run", "--out", str(tmp_path), "--name", "bad"], capsys)
    assert code == 2 and "AELAB_MAX_STEPS must be" in err and err.count("\n") == 1

"""Sweeps: one program per slice of seeds, rows that match single runs, CIs, resume."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import aelab
from aelab.analysis.summary import summarise
from aelab.cli import main
from aelab.config import SweepConfig, load_sweep_config
from aelab.errors import ConfigError
from aelab.outputs.sweepdir import sweep
from aelab.training.experiment import train_and_evaluate

BASE = aelab.RunConfig(
    train=aelab.TrainConfig(pretrain_steps=300, finetune_steps=400, snapshot_every=100)
)
GRID = SweepConfig(
    base=BASE, seeds=(0, 1, 2), labels=(3, None), recon_weights=(0.3, 1.0), seeds_per_slice=2
)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    return sweep(GRID, out=tmp_path_factory.mktemp("sweeps"), name="grid")


def test_one_row_per_model_and_baseline(small_sweep):
    rows = small_sweep.results
    ours = rows[rows["kind"] == "aelab"]
    # per seed and label count: supervised, finetune, and 2 lambdas of the two recon strategies
    assert len(ours) == 3 * 2 * (2 + 2 * 2)
    assert len(rows[rows["kind"] == "baseline"]) == 3 * 2 * 5
    assert set(rows["strategy"]) >= {"LabelSpreading", "MLP", "PCA + logistic regression"}
    on_disk = pd.read_csv(small_sweep.sweep_dir / "results.csv")
    assert len(on_disk) == len(rows)
    assert (small_sweep.sweep_dir / "sweep.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("seed", "labels", "strategy", "lam"),
    [(1, 3, "finetune-recon", 0.3), (2, None, "joint", 1.0), (0, 3, "finetune", None)],
)
def test_a_row_is_the_single_run_with_the_same_settings(small_sweep, seed, labels, strategy, lam):
    config = aelab.RunConfig(
        seed=seed,
        strategies=(strategy,),
        data=aelab.DataConfig(labels=labels),
        train=aelab.TrainConfig(
            pretrain_steps=300, finetune_steps=400, snapshot_every=100, recon_weight=lam or 1.0,
            pretrained_reference=True,  # a sweep measures every strategy against pretraining
        ),
    )  # fmt: skip
    alone = train_and_evaluate(config).metrics["strategies"][strategy]
    rows = small_sweep.results
    pick = (rows["seed"] == seed) & (rows["strategy"] == strategy)
    pick &= rows["labels"].astype(str) == ("all" if labels is None else str(labels))
    if lam is not None:
        pick &= rows["recon_weight"] == lam
    (row,) = rows[pick].to_dict("records")
    assert abs(row["test_accuracy"] - alone["test_accuracy"]) <= 1 / 75 + 1e-9
    for metric in ("cka_to_pretrained", "test_reconstruction_mse", "reconstruction_drift"):
        assert row[metric] == pytest.approx(alone[metric], rel=1e-3, abs=1e-4), metric


def test_a_minibatch_row_is_the_single_run_too(tmp_path):
    """A sweep's slice is a plan of the same trainer as a run: the same epochs of minibatches
    for a seed, so a deterministic model's row has that run's numbers."""
    train = aelab.TrainConfig(pretrain_steps=200, finetune_steps=200, snapshot_every=100,
                              batch_size=16)  # fmt: skip
    grid = SweepConfig(base=aelab.RunConfig(train=train), seeds=(0, 1), baselines=False)
    rows = sweep(grid, out=tmp_path, name="mb").results
    alone = train_and_evaluate(aelab.RunConfig(seed=1, train=train)).metrics["strategies"]
    for strategy, numbers in alone.items():
        (row,) = rows[(rows["seed"] == 1) & (rows["strategy"] == strategy)].to_dict("records")
        for metric in ("test_accuracy", "cka_to_pretrained", "test_reconstruction_mse"):
            assert row[metric] == pytest.approx(numbers[metric], rel=1e-4, abs=1e-5), metric


def test_summary_holds_mean_sd_and_a_t_interval(small_sweep):
    rows, summary = small_sweep.results, small_sweep.summary
    values = rows[
        (rows["strategy"] == "joint")
        & (rows["recon_weight"] == 1.0)
        & (rows["labels"].astype(str) == "3")
    ]["test_accuracy"].to_numpy()
    (line,) = summary[
        (summary["strategy"] == "joint")
        & (summary["recon_weight"] == "1.0")
        & (summary["labels"] == "3")
    ].to_dict("records")
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
    assert line["n_seeds"] == 3
    assert line["test_accuracy_mean"] == pytest.approx(values.mean())
    assert line["test_accuracy_sd"] == pytest.approx(values.std(ddof=1))
    # Student's t, clipped to what an accuracy can be
    assert line["test_accuracy_ci95_low"] == pytest.approx(max(0.0, values.mean() - half))
    assert line["test_accuracy_ci95_high"] == pytest.approx(min(1.0, values.mean() + half))
    means = summary["test_accuracy_mean"].to_numpy()
    assert (np.diff(means) <= 1e-12).all()  # best first
    saved = pd.read_csv(small_sweep.sweep_dir / "summary.csv")
    assert len(saved) == len(summary)


def test_an_interrupted_sweep_keeps_its_slices_and_resumes(tmp_path, monkeypatch, small_sweep):
    import aelab.outputs.sweepdir as module

    real, calls = module.train_slice, []

    def interrupted(*args, **kwargs):
        calls.append(args[3])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "train_slice", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep(GRID, out=tmp_path, name="cut")
    folder = tmp_path / "cut"
    kept = pd.read_csv(folder / "results.csv")
    assert sorted(set(kept["seed"])) == [0, 1]  # the first slice, written whole
    assert not (folder / "summary.csv").exists()
    monkeypatch.setattr(module, "train_slice", real)
    done = sweep(resume=folder)
    assert sorted(set(done.results["seed"])) == [0, 1, 2]
    key = ["seed", "labels", "kind", "strategy", "recon_weight"]

    def tidy(frame):
        frame = frame.assign(labels=frame["labels"].astype(str))
        return frame.sort_values(key).reset_index(drop=True)[[*key, "test_accuracy"]]

    pd.testing.assert_frame_equal(tidy(done.results), tidy(small_sweep.results), atol=1e-9)


def test_outer_settings_compile_once_each(tmp_path):
    grid = SweepConfig(
        base=aelab.RunConfig(
            strategies=("finetune-recon",),
            train=aelab.TrainConfig(pretrain_steps=100, finetune_steps=100, snapshot_every=100),
        ),
        seeds=(0, 1),
        codes=(2, 3),
        baselines=False,
    )
    result = sweep(grid, out=tmp_path, name="codes")
    assert sorted(set(result.results["code"])) == [2, 3]
    assert len(result.results) == 4 and "code" in result.summary.columns


def test_a_toml_sweep_round_trips(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        "strategies = ['joint']\n[data]\ndataset = 'wine'\n"
        "[sweep]\nseeds = 4\nlabels = [2, 'all']\nrecon_weights = [0, 1]\n"
    )
    config = load_sweep_config(path)
    assert config.seeds == (0, 1, 2, 3) and config.labels == (2, None)
    assert config.recon_weights == (0.0, 1.0) and config.base.data.dataset == "wine"
    assert SweepConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labels", "3,x"], "--labels: expected comma-separated counts per class or 'all'"),
        (["--labels", "0"], "sweep: data.labels must be an integer >= 1"),
        (["--seeds", "0"], "sweep.seeds must be a count >= 1"),
        (["--recon-weight", "1,-1"], "train.recon_weight must be >= 0"),
        (["--lr", "0.1,0.1"], "sweep.learning_rates lists a value twice"),
        (["--strategies", "magic"], "unknown strategy 'magic'"),
        (["--resume", "nowhere"], "'nowhere' is not a sweep folder"),
    ],
)
def test_bad_sweep_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["sweep", *args, "--out", "sweeps"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("aelab: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "sweeps").exists()


def test_cli_sweep_prints_the_summary_and_writes_the_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(
            ["sweep", "--seeds", "2", "--labels", "3", "--recon-weight", "0.5",
             "--strategies", "supervised,joint", "--pretrain-steps", "50",
             "--finetune-steps", "50", "--no-baselines", "--out", str(tmp_path), "--name", "s"]
        )  # fmt: skip
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "best first" in out and "joint" in out and "supervised" in out
    assert load_sweep_config(tmp_path / "s" / "sweep.toml").seeds == (0, 1)
    assert len(pd.read_csv(tmp_path / "s" / "results.csv")) == 4


def test_summarise_needs_no_folder():
    rows = pd.DataFrame(
        {"seed": [0, 1], "labels": ["all", "all"], "kind": ["aelab"] * 2,
         "strategy": ["joint"] * 2, "recon_weight": [1.0, 1.0], "learning_rate": [0.01] * 2,
         "test_accuracy": [0.8, 0.9]}
    )  # fmt: skip
    (line,) = summarise(rows).to_dict("records")
    assert line["test_accuracy_mean"] == pytest.approx(0.85)


def test_greedy_pretraining_is_refused():
    with pytest.raises(ConfigError, match="sweeps pretrain end to end"):
        SweepConfig(base=aelab.RunConfig(train=aelab.TrainConfig(pretraining="greedy")))


def test_noise_spellings_are_one_setting():
    grid = SweepConfig(base=BASE, noises=("None", "gaussian:.3"))
    assert grid.noises == ("none", "gaussian:0.3")
    with pytest.raises(ConfigError, match="sweep.noises lists a value twice"):
        SweepConfig(base=BASE, noises=("none", " None"))
    with pytest.raises(ConfigError, match="sweep.seeds must be a list of plain values"):
        SweepConfig(base=BASE, seeds=([1],))


def test_a_noise_sweep_resumes_without_repeating_seeds(tmp_path, monkeypatch):
    import aelab.outputs.sweepdir as module

    grid = SweepConfig(
        base=aelab.RunConfig(
            strategies=("joint",),
            train=aelab.TrainConfig(pretrain_steps=50, finetune_steps=50, snapshot_every=50),
        ),
        seeds=(0, 1),
        noises=("None",),
        seeds_per_slice=1,
        baselines=False,
    )
    real, calls = module.train_slice, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "train_slice", interrupted)
    with pytest.raises(module.SweepInterrupted):
        sweep(grid, out=tmp_path, name="n")
    monkeypatch.setattr(module, "train_slice", real)
    done = sweep(resume=tmp_path / "n")
    assert sorted(done.results["seed"]) == [0, 1]
    (line,) = done.summary.to_dict("records")
    assert line["n_seeds"] == 2 and line["noise"] == "none"


def test_bad_data_leaves_no_sweep_folder(tmp_path):
    grid = SweepConfig(
        base=aelab.RunConfig(data=aelab.DataConfig(dataset=str(tmp_path / "missing.csv")))
    )
    with pytest.raises(aelab.DataError):
        sweep(grid, out=tmp_path / "sweeps", name="x")
    big = SweepConfig(base=aelab.RunConfig(train=aelab.TrainConfig(batch_size=1000)))
    with pytest.raises(ConfigError, match="train.batch_size=1000 is not smaller"):
        sweep(big, out=tmp_path / "sweeps", name="y")
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())


def test_cli_interrupt_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import aelab.outputs.sweepdir as module

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "train_slice", stop)
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--seeds", "2", "--out", str(tmp_path), "--name", "cut"])
    assert info.value.code == 130
    assert f"aelab sweep --resume {tmp_path / 'cut'}" in capsys.readouterr().err
    assert (tmp_path / "cut" / "sweep.toml").is_file()


def test_the_figure_draws_one_line_per_setting(small_sweep, tmp_path):
    from aelab.outputs.sweepplot import sweep_figure

    rows = small_sweep.results.copy()
    twin = rows[rows["kind"] == "aelab"].assign(learning_rate=0.05)
    fig = sweep_figure(pd.concat([rows, twin]))
    cka = fig.axes[1]
    labels = [line.get_label() for line in cka.get_lines()]
    assert len(labels) == len(set(labels))
    assert any("learning_rate=0.05" in label for label in labels)
    for line in cka.get_lines():
        x = np.asarray(line.get_xdata(), float)
        assert len(x) < 2 or (np.diff(x) > 0).all()  # never back to the same lambda


def test_the_gain_over_supervised_is_paired_by_seed(small_sweep):
    rows, summary = small_sweep.results, small_sweep.summary
    pick = (rows["labels"].astype(str) == "3") & (rows["kind"] == "aelab")
    sup = rows[pick & (rows["strategy"] == "supervised")].set_index("seed")["test_accuracy"]
    joint = rows[pick & (rows["strategy"] == "joint") & (rows["recon_weight"] == 0.3)]
    gains = (joint.set_index("seed")["test_accuracy"] - sup).to_numpy()
    (line,) = summary[
        (summary["strategy"] == "joint")
        & (summary["recon_weight"] == "0.3")
        & (summary["labels"] == "3")
    ].to_dict("records")
    half = stats.t.ppf(0.975, 2) * gains.std(ddof=1) / math.sqrt(3)
    assert line["gain_over_supervised_mean"] == pytest.approx(gains.mean())
    assert line["gain_over_supervised_ci95_low"] == pytest.approx(max(-1, gains.mean() - half))
    (ref,) = summary[(summary["strategy"] == "supervised") & (summary["labels"] == "3")].to_dict(
        "records"
    )
    assert ref["gain_over_supervised_mean"] == 0.0
    (lr,) = summary[(summary["strategy"] == "logistic regression") & (summary["labels"] == "3")][
        "gain_over_supervised_mean"
    ]
    base = rows[(rows["strategy"] == "logistic regression") & (rows["labels"].astype(str) == "3")]
    base = base.set_index("seed")["test_accuracy"]
    assert lr == pytest.approx((base - sup).mean())


def test_a_diverging_learning_rate_leaves_marked_rows_not_a_dead_sweep(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(
            ["sweep", "--seeds", "2", "--lr", "0.01,1000000", "--activation", "linear",
             "--code-activation", "linear", "--hidden", "16,16", "--strategies",
             "supervised,joint", "--pretrain-steps", "100", "--finetune-steps", "100",
             "--no-baselines", "--out", str(tmp_path), "--name", "d", "-q"]
        )  # fmt: skip
    assert info.value.code == 0
    err = capsys.readouterr().err
    assert "aelab: warning: 4 of 8 models diverged" in err and "lower the learning rate" in err
    rows = pd.read_csv(tmp_path / "d" / "results.csv")
    big = rows["learning_rate"] == 1e6
    assert rows.loc[big, "diverged"].all() and rows.loc[big, "test_accuracy"].isna().all()
    assert not rows.loc[~big, "diverged"].any() and rows.loc[~big, "test_accuracy"].notna().all()
    summary = pd.read_csv(tmp_path / "d" / "summary.csv")
    assert set(summary.loc[summary["learning_rate"] == 1e6, "n_diverged"]) == {2}
    assert summary["test_accuracy_mean"].iloc[0] > 0.5  # the finite ones come first


def test_noise_levels_and_betas_are_models_of_one_program(tmp_path):
    from aelab.training.program import chunk_program

    base = aelab.RunConfig(
        strategies=("finetune-recon",),
        model=aelab.ModelConfig(family="vae", hidden=(6,)),
        train=aelab.TrainConfig(pretrain_steps=100, finetune_steps=100, snapshot_every=100),
    )
    grid = SweepConfig(
        base=base, seeds=(0, 1), noises=("gaussian:0.05", "gaussian:0.8"), betas=(0.1, 4.0),
        baselines=False,
    )  # fmt: skip
    assert len(grid.variants()) == 1  # one kind of noise: one program
    before = chunk_program.cache_info().misses
    result = sweep(grid, out=tmp_path, name="nb")
    assert chunk_program.cache_info().misses - before == 1  # 100-step chunks, one program
    rows = result.results
    assert len(rows) == 2 * 2 * 2 and not rows["diverged"].any()
    by = rows.groupby(["noise", "beta"])["test_reconstruction_mse"].mean()
    assert by.index.tolist() == [
        (n, b) for n in ("gaussian:0.05", "gaussian:0.8") for b in (0.1, 4.0)
    ]
    # a heavier KL term and stronger noise both cost reconstruction
    assert by[("gaussian:0.05", 4.0)] > by[("gaussian:0.05", 0.1)]
    assert by[("gaussian:0.8", 0.1)] > by[("gaussian:0.05", 0.1)]


def test_betas_need_a_family_with_a_weighted_penalty():
    with pytest.raises(ConfigError, match="sweep.betas weigh the family's penalty term; model"):
        SweepConfig(base=BASE, betas=(0.5, 1.0))


def test_lambda_zero_is_the_strategy_without_the_term_and_is_shown_once(tmp_path):
    """At lambda = 0, joint trains what supervised trains (full batch, no randomness: the
    same numbers), so the summary keeps one row that names both."""
    grid = SweepConfig(
        base=aelab.RunConfig(
            strategies=("supervised", "joint"),
            train=aelab.TrainConfig(pretrain_steps=30, finetune_steps=60, snapshot_every=30),
        ),
        seeds=(0, 1), recon_weights=(0.0, 1.0), baselines=False,
    )  # fmt: skip
    result = sweep(grid, out=tmp_path, name="zero")
    rows = result.results
    for seed in (0, 1):
        alone = rows[(rows["seed"] == seed) & (rows["strategy"] == "supervised")]
        twin = rows[(rows["seed"] == seed) & (rows["strategy"] == "joint")]
        twin = twin[twin["recon_weight"] == 0.0]
        for metric in ("test_accuracy", "cka_to_pretrained", "test_reconstruction_mse"):
            assert twin[metric].iloc[0] == pytest.approx(alone[metric].iloc[0], abs=1e-6)
    summary = result.summary
    assert sorted(summary["strategy"]) == ["joint", "supervised"]
    (line,) = summary[summary["strategy"] == "supervised"].to_dict("records")
    assert line["same_model_as"] == "joint" and line["n_seeds"] == 2
    assert (
        pd.read_csv(tmp_path / "zero" / "summary.csv")["same_model_as"].tolist().count("joint") == 1
    )


@pytest.mark.parametrize(
    ("seeds", "done", "sizes"),
    [(20, 0, [10, 10]), (17, 0, [9, 8]), (3, 0, [2, 1]), (64, 0, [16] * 4), (20, 20, [])],
)
def test_seeds_are_cut_into_even_slices_and_a_finished_sweep_has_none(seeds, done, sizes):
    """As few slices as ``seeds_per_slice`` allows, as even as they can be (one program when
    they divide evenly); resuming a finished sweep trains nothing."""
    from aelab.outputs.sweepdir import _slices  # the planner alone, without training

    per_slice = 2 if seeds == 3 else 16
    config = SweepConfig(seeds=tuple(range(seeds)), seeds_per_slice=per_slice, baselines=False)
    rows = pd.DataFrame({"kind": ["aelab"] * done, "seed": range(done)})
    work = _slices(config, rows)
    assert [len(s) for _, s, _ in work] == sizes
    assert [seed for _, s, _ in work for seed in s] == list(range(done, seeds))

"""A finished run, loaded: its models on new data in the data's own units, for every family,
and what a family cannot do refused in one line."""

import numpy as np
import pandas as pd
import pytest

import aelab
from aelab.config import SweepConfig, dump_sweep_config
from aelab.data import load_dataset
from aelab.errors import AelabError, ConfigError, DataError, RunFolderError

IRIS = load_dataset("iris")


def test_a_loaded_run_predicts_its_held_out_samples_with_the_accuracy_it_reported(tiny_run):
    run = aelab.load_run(tiny_run.run_dir)
    held_out = ~run.is_train
    assert held_out.sum() == tiny_run.metrics["data"]["n_test"]
    for strategy in run.config.strategies:
        predicted = run.predict(IRIS.x[held_out], stage=strategy)
        accuracy = np.mean(predicted == run.labels[held_out])
        assert accuracy == run.metrics["strategies"][strategy]["test_accuracy"], strategy


def test_encode_gives_the_saved_codes_of_every_stage(tiny_run):
    run = aelab.load_run(tiny_run.run_dir)
    assert run.stages == ["pretrained", *run.config.strategies]
    for stage in run.stages:
        np.testing.assert_allclose(run.encode(IRIS.x, stage=stage), run.codes(stage), atol=1e-6)


def test_the_defaults_are_the_reference_stage_and_the_first_strategy(tiny_run):
    run = aelab.load_run(tiny_run.run_dir)
    assert (run.reference_stage, run.classifier_stage) == ("pretrained", "supervised")
    np.testing.assert_array_equal(run.codes(), tiny_run.codes["pretrained"])
    np.testing.assert_array_equal(run.predict(IRIS.x[:5]), run.predict(IRIS.x[:5], "supervised"))
    assert run.config == tiny_run.config and run.metrics == tiny_run.metrics
    with pytest.raises(ConfigError, match=r"'pretrained' cannot predict: .*never trained"):
        run.predict(IRIS.x, stage="pretrained")
    with pytest.raises(ConfigError, match=r"'nope' is not a stage of this run; choose from"):
        run.encode(IRIS.x, stage="nope")


def test_outputs_are_in_the_data_units(tiny_run):
    run = aelab.load_run(tiny_run.run_dir)
    x = IRIS.x[:10]
    for stage in ("pretrained", "finetune-recon"):
        recon = run.reconstruct(x, stage=stage)
        np.testing.assert_allclose(run.decode(run.encode(x, stage), stage), recon, atol=1e-5)
        model, params = run.model(stage)
        _, scaled, _ = model.apply(params, run.inputs(x))
        info = run.info(stage)
        expected = np.asarray(scaled) * info["scaler_scale"] + info["scaler_mean"]
        np.testing.assert_allclose(recon, expected, rtol=1e-6)
    p = run.predict_proba(x, stage="finetune")
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert set(run.predict(x, stage="finetune")) <= set(IRIS.class_names)


def test_a_dataframe_is_matched_by_name(tiny_run):
    run = aelab.load_run(tiny_run.run_dir)
    frame = pd.DataFrame(IRIS.x, columns=IRIS.feature_names)
    shuffled = frame[frame.columns[::-1]].assign(id=np.arange(150), note="n")
    np.testing.assert_array_equal(run.predict_proba(shuffled), run.predict_proba(IRIS.x))
    table = run.predictions(shuffled, stage="finetune")
    assert list(table.columns) == ["predicted", "p_setosa", "p_versicolor", "p_virginica",
                                   "z0", "z1"]  # fmt: skip
    np.testing.assert_array_equal(table["predicted"], run.predict(IRIS.x, stage="finetune"))


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda f: f.drop(columns=["petal width (cm)", "sepal width (cm)"]),
         r"^X: has no column 'sepal width \(cm\)', 'petal width \(cm\)'; this run's model takes"),
        (lambda f: f.to_numpy()[:, :3], r"^X: has 3 features; this run's model takes 4 \("),
        (lambda f: f.to_numpy()[0], r"^X: must be a real numeric array .*x\.reshape\(1, -1\)"),
        (lambda f: f.assign(**{"sepal width (cm)": "wide"}),
         r"^X: column 'sepal width \(cm\)' is not numeric \(it holds 'wide'\)"),
        (lambda f: f.mask(f > 6.5),
         r"^X: sample 51, feature 'sepal length \(cm\)' is not a finite"),
    ],
)  # fmt: skip
def test_bad_samples_are_one_line_errors(tiny_run, bad, message):
    run = aelab.load_run(tiny_run.run_dir)
    with pytest.raises(DataError, match=message) as caught:
        run.predict(bad(pd.DataFrame(IRIS.x, columns=IRIS.feature_names)))
    assert "\n" not in str(caught.value)


def test_a_vae_encodes_to_its_mean(run_as_family):
    run = aelab.load_run(run_as_family("vae"))
    model, params = run.model("finetune")
    mean, _ = model.posterior(params, run.inputs(IRIS.x))
    np.testing.assert_allclose(run.encode(IRIS.x, "finetune"), mean, atol=1e-6)
    assert run.decode(mean[:3], "finetune").shape == (3, 4)


def test_a_ladder_cannot_decode_a_code_alone_but_predicts(run_as_family):
    run = aelab.load_run(run_as_family("ladder"))
    with pytest.raises(AelabError, match=r"^a ladder network cannot decode a code alone"):
        run.decode(run.codes("finetune"), stage="finetune")
    assert run.predict_proba(IRIS.x, "finetune").shape == (150, 3)
    assert run.reconstruct(IRIS.x, "finetune").shape == (150, 4)


def test_codes_to_decode_are_checked(tiny_run):
    run = aelab.load_run(tiny_run.run_dir)
    with pytest.raises(DataError, match=r"^z: must be a numeric array \(N, 2\) of codes"):
        run.decode(np.zeros((3, 5)))


def test_load_sweep_gives_the_results_table(tmp_path):
    (tmp_path / "sweep.toml").write_text(dump_sweep_config(SweepConfig()))
    (tmp_path / "results.csv").write_text(
        "seed,labels,kind,strategy,recon_weight,test_accuracy\n"
        "0,none,aelab,finetune,1.0,0.9\n0,none,baseline,logistic,,0.95\n"
    )
    results = aelab.load_sweep(tmp_path)
    assert list(results["strategy"]) == ["finetune", "logistic"]
    assert results["test_accuracy"].tolist() == [0.9, 0.95]
    with pytest.raises(RunFolderError, match="is not an aelab run folder"):
        aelab.load_run(tmp_path)

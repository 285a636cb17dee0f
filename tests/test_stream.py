"""Data from disk: ``.npy`` files stay memory-mapped, training reads each chunk's minibatches."""

import json

import jax
import numpy as np
import pytest

from aelab.cli import main
from aelab.data import Dataset, load_file, split_dataset
from aelab.errors import DataError
from aelab.models.autoencoder import Autoencoder
from aelab.training.feeding import Batch
from aelab.training.trainer import train_phase
from aelab.training.trees import stack, to_numpy

N, D = 1200, 12


@pytest.fixture(scope="module")
def npy(tmp_path_factory):
    """A 3-class table as X.npy + y.npy, and the same as an .npz."""
    folder = tmp_path_factory.mktemp("npy")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, N)
    x = (rng.normal(size=(N, D)) + 2.0 * np.eye(3, D)[y] + 5.0).astype(np.float32)
    np.save(folder / "X.npy", x)
    np.save(folder / "y.npy", y)
    np.savez(folder / "same.npz", X=x, y=y)
    return folder


def _in_memory(ds: Dataset) -> Dataset:
    return Dataset(ds.name, np.asarray(ds.x, np.float64), ds.y, ds.feature_names, ds.class_names)


def test_an_npy_file_is_memory_mapped_with_its_labels_beside_it(npy):
    ds, dropped = load_file(npy / "X.npy")
    assert isinstance(ds.x, np.memmap) and ds.x.shape == (N, D) and dropped == 0
    assert ds.class_names == ("0", "1", "2") and ds.y.shape == (N,)


@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_scaling_from_disk_equals_scaling_in_memory(npy, scaling):
    ds, _ = load_file(npy / "X.npy")
    on_disk = split_dataset(ds, 0.5, seed=0, scaling=scaling)
    in_memory = split_dataset(_in_memory(ds), 0.5, seed=0, scaling=scaling)
    assert isinstance(on_disk.x, np.memmap) and on_disk.x.dtype == np.float32
    np.testing.assert_allclose(on_disk.mean, in_memory.mean, rtol=1e-12)
    np.testing.assert_allclose(on_disk.scale, in_memory.scale, rtol=1e-10)
    np.testing.assert_allclose(on_disk.x, in_memory.x, atol=1e-6)
    np.testing.assert_array_equal(on_disk.is_train, in_memory.is_train)


@pytest.mark.parametrize(("labels", "read_bytes"), [(None, None), (10, None), (10, 5000)])
def test_training_from_disk_equals_training_in_memory(npy, monkeypatch, labels, read_bytes):
    """The same minibatches in the same order, the labelled ones from the same pool: the
    same models, whether the rows come from the memory map chunk by chunk or from memory
    (also when each read holds only 3 steps' rows, so a snapshot's steps take many reads)."""
    if read_bytes is not None:
        monkeypatch.setattr("aelab.training.feeding.READ_BYTES", read_bytes)
    ds, _ = load_file(npy / "X.npy")
    on_disk = split_dataset(ds, 0.5, seed=0, labels=labels)
    model = Autoencoder(D, 3, hidden=(16,))
    init = to_numpy(model.init(jax.random.key(0)))
    results = []
    for x in (on_disk.x, np.array(on_disk.x)):
        batch = Batch.from_split(x, on_disk.y, on_disk.is_train, on_disk.is_labelled)
        assert isinstance(batch.x, np.memmap) == (x is on_disk.x)
        results.append(
            train_phase(
                model,
                stack([init, init]),
                batch,
                ce_weight=np.array([0.0, 1.0]),
                recon_weight=np.ones(2),
                learning_rate=0.01,
                steps=230,
                snapshot_every=70,
                key=jax.random.key(1),
                batch_size=32,
            )  # fmt: skip
        )
    streamed, loaded = results
    for a, b in zip(jax.tree.leaves(streamed.params), jax.tree.leaves(loaded.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(streamed.history, loaded.history, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(streamed.snapshots, loaded.snapshots, rtol=1e-6, atol=1e-6)
    assert streamed.snapshots.shape == (5, 2, N, 2)


def test_aelab_run_on_an_npy_file_matches_the_same_data_in_memory(npy, tmp_path, capsys):
    args = ["run", "--batch-size", "32", "--pretrain-steps", "200", "--finetune-steps", "200",
            "--out", str(tmp_path), "-q"]  # fmt: skip
    for name, data in (("disk", "X.npy"), ("memory", "same.npz")):
        with pytest.raises(SystemExit) as done:
            main([*args, "--name", name, "--dataset", str(npy / data)])
        assert done.value.code == 0, capsys.readouterr().err
    disk, memory = (
        json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("disk", "memory")
    )
    for stage in ("supervised", "finetune", "finetune-recon", "joint"):
        for metric in ("test_accuracy", "test_reconstruction_mse", "cka_to_pretrained"):
            a, b = disk["strategies"][stage][metric], memory["strategies"][stage][metric]
            assert a == pytest.approx(b, abs=2e-3), (stage, metric)
    assert disk["pretrained"]["test_reconstruction_mse"] == pytest.approx(
        memory["pretrained"]["test_reconstruction_mse"], rel=1e-3
    )
    # The folder keeps the shown rows and every sample's first two inputs, not a copy of the
    # data; its figure, report and generated samples come from them.
    with np.load(tmp_path / "disk" / "latents.npz") as lat:
        assert lat["x"].shape == (N, D) and lat["x_first2"].shape == (N, 2)
        np.testing.assert_array_equal(lat["x_rows"], np.arange(N))
    assert (tmp_path / "disk" / "report.html").stat().st_size > 10_000
    with pytest.raises(SystemExit) as done:
        main(["generate", str(tmp_path / "disk"), "--mode", "grid"])
    assert done.value.code == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "X.npy: data read from disk trains in minibatches; give --batch-size, e.g. 256"),
        (["--batch-size", "32", "--sampling", "draws"], "trains in shuffled epochs"),
        (["--batch-size", "32", "--pretraining", "greedy"], "greedy pretraining needs the data"),
    ],
)
def test_settings_disk_data_cannot_train_with_are_one_line_errors(
    npy, tmp_path, capsys, args, message
):
    with pytest.raises(SystemExit) as done:
        main(["run", "--dataset", str(npy / "X.npy"), "--out", str(tmp_path / "runs"), *args])
    err = capsys.readouterr().err
    assert done.value.code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X.npy": np.zeros((4, 3))}, "X.npy: needs its labels beside it, in 'y.npy'"),
        (
            {"X.npy": np.zeros((4, 3)), "y.npy": np.zeros(3, int)},
            "y.npy must hold one label per sample: 4 samples",
        ),
        (
            {"X.npy": np.zeros((4, 3)), "y.npy": np.zeros(4)},
            "y.npy must hold integer class ids, got float64",
        ),
        ({"X.npy": np.zeros(4), "y.npy": np.zeros(4, int)}, "must be a real numeric array"),
        (
            {"X.npy": np.array([[1.0, np.nan]] * 4), "y.npy": np.zeros(4, int)},
            "sample 1, feature 1 is not a finite number",
        ),
        ({"d.npy": np.zeros((4, 3))}, "d.npy: needs its labels beside it, in 'd.labels.npy'"),
    ],
)
def test_bad_npy_files_are_one_line_errors(tmp_path, arrays, message):
    for name, array in arrays.items():
        np.save(tmp_path / name, array)
    with pytest.raises(DataError) as error:
        load_file(tmp_path / next(iter(arrays)))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_large_data_scores_codes_on_a_seeded_sample(npy, monkeypatch):
    """Above REFERENCE_SAMPLES samples, kNN, probe and silhouette use a seeded sample (here
    500 of 1,200); accuracy still covers every held-out sample."""
    import aelab
    from aelab.training.experiment import train_and_evaluate

    monkeypatch.setattr("aelab.training.evaluate.REFERENCE_SAMPLES", 500)
    config = aelab.RunConfig(
        strategies=("finetune",),
        data=aelab.DataConfig(dataset=str(npy / "X.npy")),
        train=aelab.TrainConfig(pretrain_steps=50, finetune_steps=50, batch_size=32),
    )
    first, again = train_and_evaluate(config), train_and_evaluate(config)
    assert first.metrics["data"]["code_metrics_sample"] == 500  # 250 labelled, 250 others
    assert first.metrics == again.metrics  # the same sample, the same numbers
    accuracy = first.metrics["strategies"]["finetune"]["test_accuracy"]
    assert accuracy * first.metrics["data"]["n_test"] == pytest.approx(round(accuracy * 600))


def test_scarce_labels_are_all_kept_in_the_scoring_sample(npy, monkeypatch):
    import aelab
    from aelab.training.experiment import train_and_evaluate

    monkeypatch.setattr("aelab.training.evaluate.REFERENCE_SAMPLES", 300)
    config = aelab.RunConfig(
        strategies=("finetune",),
        data=aelab.DataConfig(dataset=str(npy / "X.npy"), labels=2),
        train=aelab.TrainConfig(pretrain_steps=30, finetune_steps=30, batch_size=32),
    )
    metrics = train_and_evaluate(config).metrics
    assert metrics["data"]["code_metrics_sample"] == 300
    for scores in (metrics["pretrained"], metrics["strategies"]["finetune"]):
        assert 0 <= scores["knn_accuracy"] <= 1 and 0 <= scores["probe_accuracy"] <= 1


@pytest.mark.parametrize("on_disk", [False, True])
def test_an_epoch_run_stopped_and_resumed_sees_the_same_minibatches(npy, on_disk):
    from aelab.training.trainer import PhaseInterrupted

    ds, _ = load_file(npy / "X.npy")
    split = split_dataset(ds, 0.5, seed=0, labels=10)
    x = split.x if on_disk else np.array(split.x)
    batch = Batch.from_split(x, split.y, split.is_train, split.is_labelled)
    model = Autoencoder(D, 3, hidden=(16,))
    init = stack([to_numpy(model.init(jax.random.key(0)))] * 2)
    common = dict(
        ce_weight=np.array([0.0, 1.0]), recon_weight=np.ones(2), learning_rate=0.01,
        steps=50, snapshot_every=20, key=jax.random.key(1), batch_size=32,
    )  # fmt: skip
    whole = train_phase(model, init, batch, **common)
    with pytest.raises(PhaseInterrupted) as stopped:
        train_phase(model, init, batch, **common, stop=lambda: True)
    assert stopped.value.state.done == 20
    resumed = train_phase(model, init, batch, **common, resume=stopped.value.state)
    for a, b in zip(jax.tree.leaves(whole.params), jax.tree.leaves(resumed.params), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole.history, resumed.history)
    np.testing.assert_array_equal(whole.snapshots, resumed.snapshots)


def test_a_figure_of_many_samples_draws_a_seeded_sample(tmp_path, monkeypatch):
    import aelab
    from aelab.outputs.plots import stages_figure

    result = aelab.run(
        aelab.RunConfig(train=aelab.TrainConfig(pretrain_steps=20, finetune_steps=20)),
        out=tmp_path, name="iris",
    )  # fmt: skip
    monkeypatch.setattr("aelab.outputs.plots.MAX_DRAWN", 40)
    figure = stages_figure(result.run_dir)
    drawn = [sum(len(c.get_offsets()) for c in ax.collections) for ax in figure.axes[:3]]
    assert drawn == [40, 40, 40]  # of 150 samples, in the raw, PCA and pretrained panels

"""``aelab predict``: a run's model on a data file, read as ``aelab run`` reads it, written to
a CSV file that never replaces another."""

import re

import numpy as np
import pandas as pd
import pytest

import aelab
from aelab.cli import main
from aelab.data import load_dataset

IRIS = load_dataset("iris")


def _main(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def _table(path, label: bool = True):
    """Iris as a user's CSV: its columns in another order, an id, and the species."""
    frame = pd.DataFrame(IRIS.x, columns=IRIS.feature_names).iloc[:, ::-1]
    frame.insert(0, "id", np.arange(150))
    if label:
        frame["species"] = np.asarray(IRIS.class_names)[IRIS.y]
    frame.to_csv(path, index=False)
    return path


def test_predict_writes_every_row_prints_the_accuracy_and_never_overwrites(
    tiny_run, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    data = _table(tmp_path / "flowers.csv")
    code, out, _ = _main(["predict", str(tiny_run.run_dir), str(data), "--stage", "finetune"],
                         capsys)  # fmt: skip
    assert code == 0
    written = pd.read_csv(tmp_path / "predictions.csv")
    expected = aelab.load_run(tiny_run.run_dir).predictions(IRIS.x, stage="finetune")
    assert list(written.columns) == list(expected.columns)
    assert list(written.columns) == ["predicted", "p_setosa", "p_versicolor", "p_virginica",
                                     "z0", "z1"]  # fmt: skip
    assert (written["predicted"] == expected["predicted"]).all()
    np.testing.assert_allclose(written.iloc[:, 1:], expected.iloc[:, 1:], rtol=1e-7)
    accuracy = np.mean(expected["predicted"] == np.asarray(IRIS.class_names)[IRIS.y])
    assert out == (
        f"predictions.csv  (150 rows, stage finetune; accuracy {accuracy:.3f} on its labels)\n"
    )
    before = (tmp_path / "predictions.csv").read_bytes()
    code, out, err = _main(["predict", str(tiny_run.run_dir), str(data)], capsys)
    assert code == 2 and out == ""
    assert err == (
        "aelab: error: predictions.csv already exists; choose another --out or remove it\n"
    )
    assert (tmp_path / "predictions.csv").read_bytes() == before


def test_predicting_needs_only_the_features(tiny_run, tmp_path, capsys):
    data = _table(tmp_path / "new.csv", label=False)
    npz = tmp_path / "new.npz"
    np.savez(npz, X=IRIS.x[:7])
    for source, rows in ((data, 150), (npz, 7), ("iris", 150)):
        out = tmp_path / f"{getattr(source, 'name', source)}-p.csv"
        args = ["predict", str(tiny_run.run_dir), str(source), "--out", str(out)]
        code, printed, _ = _main(args, capsys)
        assert code == 0 and len(pd.read_csv(out)) == rows
        assert ("no accuracy" in printed) == (source != "iris"), printed  # iris has labels


@pytest.mark.parametrize(
    "make, extra, message",
    [
        (lambda p: p.write_text("a,b\n1,2\n"), [],
         r"bad\.csv: has no column 'sepal length \(cm\)', .*; this run's model takes the columns"),
        (lambda p: p.write_text(""), [], r"bad\.csv: is empty"),
        (None, [], r"data file '.*bad\.csv' does not exist"),
        (lambda p: _table(p), ["--stage", "pretrained"], r"'pretrained' cannot predict"),
        (lambda p: _table(p), ["--out", "nowhere/p.csv"], r"--out: folder 'nowhere' does not"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tiny_run, tmp_path, capsys, monkeypatch, make, extra, message
):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.csv"
    if make is not None:
        make(bad)
    code, out, err = _main(["predict", str(tiny_run.run_dir), str(bad), *extra], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "predictions.csv").exists()

"""Raw samples made into a trained model's inputs, and data files read to be predicted:
the same inputs as training made, labels optional, one line for what does not fit."""

import gzip

import numpy as np
import pytest

from aelab.data import load_dataset, model_inputs, read_inputs, split_dataset
from aelab.errors import DataError

WINE = load_dataset("wine")
CLASSES = ["0", "1", "2"]


def test_raw_samples_become_exactly_the_inputs_training_made():
    for scaling in ("standard", "minmax"):
        split = split_dataset(WINE, 0.5, seed=3, scaling=scaling)
        np.testing.assert_array_equal(model_inputs(WINE.x, split.info()), split.x)


def test_no_samples_is_one_line():
    info = split_dataset(WINE, 0.5, seed=0).info()
    with pytest.raises(DataError, match=r"^X: has no samples \(shape \(0, 13\)\)$"):
        model_inputs(WINE.x[:0], info)


# What a run of a table with a categorical column and --impute records (Split.info()).
ENCODED = {
    "feature_names": ["size", "colour=blue", "colour=red"],
    "class_names": ["a", "b"],
    "scaler_mean": [0.0, 0.0, 0.0],
    "scaler_scale": [2.0, 1.0, 1.0],
    "raw_features": ["size", "colour"],
    "categories": {"colour": ["blue", "red"]},
    "impute": "median",
    "impute_values": {"size": 3.0, "colour": "red"},
}


def test_an_encoded_tables_rows_are_filled_and_one_hot_as_training_did():
    import pandas as pd  # the samples are a user's table

    frame = pd.DataFrame({"colour": ["blue", None, "green"], "size": [4.0, None, 1.0]})
    expected = [[2.0, 1, 0], [1.5, 0, 1], [0.5, 0, 0]]  # filled; green: never seen, all 0
    np.testing.assert_array_equal(model_inputs(frame, ENCODED), np.float32(expected))
    assert frame["colour"].isna().tolist() == [False, True, False]  # the user's table stays
    with pytest.raises(DataError, match=r"^X: has no column 'colour'; this run's model takes"):
        model_inputs(frame[["size"]], ENCODED)
    with pytest.raises(DataError, match=r"^X: this run's table has text columns \('colour'\)"):
        model_inputs(np.ones((2, 2)), ENCODED)
    unfilled = {k: v for k, v in ENCODED.items() if k not in ("impute", "impute_values")}
    with pytest.raises(DataError, match=r"^X: sample 2, column 'colour' is missing; this run"):
        model_inputs(frame, unfilled)


def test_arrays_without_labels_are_read_for_predicting(tmp_path):
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.save(tmp_path / "new.npy", x)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in x.shape)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + x.tobytes()))
    for name in ("new.npy", "t10k-images-idx3-ubyte.gz"):
        read = read_inputs(tmp_path / name, CLASSES)
        assert read.labels is None and read.samples.shape == (2, 12), name
        np.testing.assert_array_equal(read.samples, x.reshape(2, 12))
    np.save(tmp_path / "new.labels.npy", np.array([2, 0]))
    assert read_inputs(tmp_path / "new.npy", CLASSES).labels.tolist() == ["2", "0"]
    assert read_inputs(tmp_path / "new.npy", ["a", "b"]).labels is None  # not these classes


@pytest.mark.parametrize(
    "text, labels",
    [
        ("a,b,label\n1,2,1\n3,4,0\n", ["1", "0"]),
        ("a,b,kind\n1,2,1.0\n3,4,2.0\n", ["1", "2"]),  # written as floats
        ("id,a,b\n7,1,2\n9,3,4\n", None),  # ids that are not classes
        ("a,b,label\n1,2,1\n3,4,\n", None),  # a label missing
        ("a,b\n1,2\n0,1\n", None),  # features are never labels
    ],
)
def test_a_tables_labels_are_a_column_of_class_names(tmp_path, text, labels):
    (tmp_path / "t.csv").write_text(text)
    read = read_inputs(tmp_path / "t.csv", CLASSES, ["a", "b"])
    assert (None if read.labels is None else read.labels.tolist()) == labels
    assert list(read.samples.columns) == text.split("\n")[0].split(",")

"""Categorical columns one-hot encoded and missing values filled, from the training part only."""

import json
import subprocess
import sys

import numpy as np
import pytest

from aelab.data import Dataset, encode, split_dataset
from aelab.errors import DataError

NAN = np.nan


def _table(x, test, categories=None) -> Dataset:
    """A dataset whose samples marked ``test`` are the held-out part."""
    x = np.array(x, np.float64)
    test = np.array(test, bool)
    return Dataset(
        name="t.csv", x=x, y=np.arange(len(x)) % 2, feature_names=("size", "colour", "age"),
        class_names=("a", "b"), test_mask=test, categories=categories or {},
    )  # fmt: skip


COLOURS = {"colour": ("blue", "green", "red")}
# size, colour (an index into COLOURS), age; the last two samples are held out
X = [[1, 0, 10], [2, 2, 20], [3, 0, 30], [4, 2, 40], [5, 1, 50], [6, 0, 60]]
TEST = [False, False, False, False, True, True]


def test_categories_come_from_the_training_part_and_unseen_ones_are_all_zero():
    ds = _table(X, TEST, COLOURS)
    x, encoding = encode(ds, ~ds.test_mask)
    assert encoding.feature_names == ("size", "colour=blue", "colour=red", "age")
    np.testing.assert_array_equal(x[:, 1:3], [[1, 0], [0, 1], [1, 0], [0, 1], [0, 0], [1, 0]])
    np.testing.assert_array_equal(x[:, [0, 3]], np.array(X)[:, [0, 2]])
    assert encoding.categories == {"colour": ("blue", "red")} and encoding.unseen == {"colour": 1}
    assert encoding.summary() == {
        "categorical": {"colour": ["blue", "red"]},
        "unseen_categories": {"colour": 1},
    }


def test_a_split_encodes_then_scales_with_the_training_part():
    ds = _table(X, TEST, COLOURS)
    split = split_dataset(ds, 0.5, seed=0)
    assert split.feature_names == ("size", "colour=blue", "colour=red", "age")
    raw = split.x * split.scale + split.mean  # (N, 4) before scaling
    np.testing.assert_allclose(raw[4], [5, 0, 0, 50], atol=1e-5)  # green: never seen
    np.testing.assert_allclose(split.mean, [2.5, 0.5, 0.5, 25])  # training rows only
    info = split.info()
    assert info["feature_names"] == list(split.feature_names)
    assert info["raw_features"] == ["size", "colour", "age"]
    assert info["categories"] == {"colour": ["blue", "red"]} and "impute" not in info


def test_nothing_to_encode_leaves_the_inputs_as_they_are():
    ds = _table(X, TEST)
    x, encoding = encode(ds, ~ds.test_mask)
    assert x is ds.x and encoding is None
    split = split_dataset(ds, 0.5, seed=0)
    assert split.encoding is None and "raw_features" not in split.info()


@pytest.mark.parametrize("impute, size", [("mean", 8 / 3), ("median", 2.0)])
def test_imputation_is_fitted_on_the_training_part_only(impute, size):
    x = [[1, 2, 10], [NAN, 2, 20], [2, NAN, 30], [5, 0, NAN], [NAN, NAN, NAN], [100, 1, 999]]
    ds = _table(x, TEST, COLOURS)
    out, encoding = encode(ds, ~ds.test_mask, impute)
    age = {"mean": 20.0, "median": 20.0}[impute]  # the held-out 999 takes no part
    assert encoding.fill == {"size": pytest.approx(size), "colour": "red", "age": age}
    np.testing.assert_allclose(out[4], [size, 0, 1, age])  # filled, then one-hot encoded
    np.testing.assert_allclose(out[1, 0], size)
    assert encoding.imputed == {"size": 2, "colour": 2, "age": 2}
    assert encoding.summary()["imputed"] == {"size": 2, "colour": 2, "age": 2}
    assert encoding.info()["impute_values"]["colour"] == "red"


def test_a_column_with_no_training_value_cannot_be_imputed():
    x = [[1, 0, NAN], [2, 2, NAN], [3, 0, NAN], [4, 2, NAN], [5, 1, 7], [6, 0, 8]]
    ds = _table(x, TEST, COLOURS)
    with pytest.raises(
        DataError, match=r"t.csv: --impute mean cannot fill column\(s\) 'age': the training part "
        r"holds no value of them; drop them with --drop-columns age"
    ):  # fmt: skip
        encode(ds, ~ds.test_mask, "mean")


_IMPORTS = """
import json, sys
from aelab.data import load_file, split_dataset
ds, _ = load_file(sys.argv[1], impute=sys.argv[2] if len(sys.argv) > 2 else None)
split_dataset(ds, 0.5, seed=0, impute=sys.argv[2] if len(sys.argv) > 2 else None)
print(json.dumps("sklearn.impute" in sys.modules))
"""


def test_scikit_learns_imputer_is_imported_only_when_asked_for(tmp_path):
    path = tmp_path / "t.csv"
    rows = [f"{i},{'ab'[i % 2]},{'' if i == 3 else i},{'xy'[i % 2]}" for i in range(12)]
    path.write_text("a,b,c,label\n" + "\n".join(rows) + "\n")

    def imported(*args):
        done = subprocess.run([sys.executable, "-c", _IMPORTS, str(path), *args],
                              capture_output=True, text=True, check=True)  # fmt: skip
        return json.loads(done.stdout)

    assert imported("median") is True
    path.write_text(path.read_text().replace(",,", ",3,"))  # nothing missing, nothing asked
    assert imported() is False

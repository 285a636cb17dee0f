"""Tables as people have them: text columns, missing values, a label column to guess."""

import logging
import warnings

import numpy as np
import pytest

from aelab.data import load_data, load_file
from aelab.errors import DataError, DataWarning


def _write(path, text):
    path.write_text(text)
    return path


def _pets(n=12, colour=lambda i: "red" if i % 3 else "blue"):
    rows = [f"{i},{colour(i)},{'cat' if i % 2 else 'dog'}" for i in range(n)]
    return "size,colour,species\n" + "\n".join(rows) + "\n"


def test_text_columns_become_categories_under_auto(tmp_path):
    ds, _ = load_file(_write(tmp_path / "t.csv", _pets()))
    assert ds.feature_names == ("size", "colour") and ds.categories == {"colour": ("blue", "red")}
    assert ds.x[:4, 1].tolist() == [0, 1, 1, 0]  # each sample's index into its categories
    assert ds.label_column == "species" and ds.label_chosen == "the last column"


def test_categorical_none_refuses_text_as_before(tmp_path):
    path = _write(tmp_path / "t.csv", _pets())
    with pytest.raises(DataError, match=r"^t.csv: column 'colour' is not numeric \(it holds"):
        load_file(path, categorical="none")


def test_listed_columns_are_categorical_as_written_and_other_text_is_refused(tmp_path):
    text = "code,colour,label\n" + "".join(f"0{i % 3},x{i % 2},{i % 2}\n" for i in range(8))
    path = _write(tmp_path / "t.csv", text)
    ds, _ = load_file(path, categorical=("code", "colour"))
    assert ds.categories == {"code": ("00", "01", "02"), "colour": ("x0", "x1")}
    with pytest.raises(DataError, match=r"column 'colour' is not numeric \(it holds 'x0'\)"):
        load_file(path, categorical=("code",))
    with pytest.raises(DataError, match=r"--categorical: no column 'size'; columns: code,"):
        load_file(path, categorical=("size",))
    with pytest.raises(DataError, match=r"--categorical lists the label column 'label'"):
        load_file(path, categorical=("label",))


def test_every_unusable_column_is_named_in_one_line(tmp_path):
    """A user fixed one column at a time, four commands for one file (issue 14)."""
    rows = [f"{i},{'x' if i == 3 else i},note {i},{'ab'[i % 2]},{i % 2}" for i in range(60)]
    path = _write(tmp_path / "t.csv", "a,b,notes,kind,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        load_file(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("t.csv: 2 columns cannot be used: column 'b' is not numeric (it ")
    assert "column 'notes' is text of 60 different values (--categorical auto one-hot " in message
    assert message.endswith(
        "drop them with --drop-columns b,notes, one-hot encode them with --categorical "
        "b,notes, or choose one as --label-column"
    )
    ds, _ = load_file(path, drop_columns=("b", "notes"))  # 'kind' is categorical
    assert ds.feature_names == ("a", "kind") and ds.categories == {"kind": ("a", "b")}


def test_missing_values_name_every_way_out(tmp_path):
    path = _write(tmp_path / "t.csv", "a,b,label\n1,2,0\n2,,1\n3,4,0\n4,5,1\n")
    with pytest.raises(
        DataError, match=r"row 3, column 'b' is missing \(1 rows .*--impute mean or --impute "
        r"median to fill them from the training part, or --drop-missing"
    ):  # fmt: skip
        load_file(path)
    ds, dropped = load_file(path, impute="median")
    assert dropped == 0 and np.isnan(ds.x[1, 1]) and np.isfinite(np.delete(ds.x, 1, 0)).all()


def test_missing_labels_are_an_error_or_dropped_never_imputed(tmp_path):
    path = _write(tmp_path / "t.csv", "a,b,label\n1,2,0\n2,,1\n3,4,\n4,5,1\n5,6,0\n")
    with pytest.raises(DataError, match=r"row 3, column 'b' is missing \(2 rows have"):
        load_file(path)  # the first row with a missing value
    with pytest.raises(
        DataError,
        match=r"row 4 has no label \(column 'label' is missing; 1 rows have none\); fill them "
        r"in or pass --drop-missing",
    ):
        load_file(path, impute="mean")
    ds, dropped = load_file(path, impute="mean", drop_missing=True)  # only the unlabelled row
    assert dropped == 1 and len(ds.y) == 4 and np.isnan(ds.x).sum() == 1
    ds, dropped = load_file(path, drop_missing=True)  # every row with a missing value
    assert dropped == 2 and len(ds.y) == 3


def test_the_guessed_label_column_is_told(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="aelab")
    load_file(_write(tmp_path / "t.csv", _pets()))
    load_file(_write(tmp_path / "u.csv", "x,target,z\n" + "1,a,2\n2,b,3\n" * 3))
    load_file(_write(tmp_path / "v.csv", _pets()), label_column="species")  # given: nothing
    assert [r.getMessage() for r in caplog.records] == [
        "t.csv: label column 'species' (the last column)",
        "u.csv: label column 'target' (named like a label)",
    ]


@pytest.mark.parametrize(
    "values, looks",
    [
        (list(range(20)), "an id: every row has its own value"),
        ([1999, 2004, 2010, 2004] * 5, "a year"),
        ([i % 60 for i in range(120)], "a measurement, not classes: it holds 60 different"),
    ],
)
def test_a_guessed_numeric_label_that_looks_like_no_class_is_warned_of(tmp_path, values, looks):
    text = "a,b,when\n" + "".join(f"{i},{i % 3},{v}\n" for i, v in enumerate(values))
    with pytest.warns(
        DataWarning,
        match=rf"t.csv: the label column 'when' \(the last column\) "
        rf"looks like {looks}.*name it with --label-column",
    ):
        load_file(_write(tmp_path / "t.csv", text))


def test_ordinary_labels_and_given_ones_are_not_warned_of(tmp_path):
    text = "a,b,when\n" + "".join(f"{i},{i % 3},{2000 + i}\n" for i in range(20))
    path = _write(tmp_path / "t.csv", text)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load_file(path, label_column="when")
        load_file(_write(tmp_path / "u.csv", "a,label\n" + "1,1\n2,2\n3,3\n" * 4))


def test_a_test_file_is_read_as_the_training_file(tmp_path):
    train = _write(tmp_path / "train.csv", _pets(12))
    test = _write(tmp_path / "test.csv", _pets(6, colour=lambda i: "green" if i == 0 else "red"))
    ds, _ = load_data(str(train), test_file=str(test))
    assert ds.categories == {"colour": ("blue", "green", "red")}
    names = np.array(ds.categories["colour"])[ds.x[:, 1].astype(int)]
    assert names[:3].tolist() == ["blue", "red", "red"]
    assert names[12:14].tolist() == ["green", "red"]
    odd = _write(tmp_path / "odd.csv", "size,colour,species\n1,2,cat\nx,3,dog\n")
    with pytest.raises(DataError, match=r"odd.csv: column 'size' is not numeric"):
        load_data(str(train), test_file=str(odd))

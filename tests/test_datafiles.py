import gzip

import numpy as np
import pytest

import aelab
from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.data import load_data, load_dataset, load_file, looks_like_file, split_dataset
from aelab.errors import DataError

FAST = TrainConfig(pretrain_steps=50, finetune_steps=50, snapshot_every=50)


def _write(path, text):
    path.write_text(text)
    return path


def _table(n=12, sep=",", label="species"):
    rows = [f"a{sep}b{sep}{label}"]
    rows += [f"{i}{sep}{i * 2 + 1}{sep}{'cat' if i % 2 else 'dog'}" for i in range(n)]
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("sep, suffix", [(",", "csv"), ("\t", "tsv"), (";", "csv")])
def test_tables_with_any_common_delimiter_and_string_labels(tmp_path, sep, suffix):
    ds, dropped = load_file(_write(tmp_path / f"t.{suffix}", _table(sep=sep)))
    assert ds.x.shape == (12, 2) and ds.feature_names == ("a", "b")
    assert ds.class_names == ("cat", "dog") and dropped == 0
    assert ds.y.tolist() == [1, 0] * 6


def test_label_column_by_name_and_numeric_labels_sort_as_numbers(tmp_path):
    text = "kind,x1,x2\n" + "".join(f"{[10, 2, 1][i % 3]},{i},{i % 5}\n" for i in range(12))
    ds, _ = load_file(_write(tmp_path / "t.csv", text), label_column="kind")
    assert ds.class_names == ("1", "2", "10") and ds.feature_names == ("x1", "x2")


def test_drop_columns_and_drop_missing(tmp_path):
    text = "id,a,b,label\n" + "".join(
        f"r{i},{i},{'' if i == 3 else i},{i % 2}\n" for i in range(10)
    )
    path = _write(tmp_path / "t.csv", text)
    with pytest.raises(DataError, match=r"t.csv: row 5, column 'b' is missing .*--drop-missing"):
        load_file(path, drop_columns=("id",))
    ds, dropped = load_file(path, drop_columns=("id",), drop_missing=True)
    assert dropped == 1 and ds.x.shape == (9, 2)


@pytest.mark.parametrize(
    "text, options, match",
    [
        ("", {}, r"e.csv: is empty"),
        ("a,b,label\n", {}, r"e.csv: has a header but no rows"),
        ("a,b,label\n1,x,0\n2,3,1\n", {}, r"column 'b' is not numeric \(it holds 'x'\)"),
        ("a,b,label\n1,2,0\n2,3,1\n", {"label_column": "kind"}, r"no column 'kind'; columns: a, b"),
        ("a,b,label\n1,2,0\n2,3,1\n", {"drop_columns": ("c",)}, r"--drop-columns: no column 'c'"),
    ],
)
def test_bad_tables_get_one_line_that_names_the_problem(tmp_path, text, options, match):
    with pytest.raises(DataError, match=match) as info:
        load_file(_write(tmp_path / "e.csv", text), **options)
    assert "\n" not in str(info.value)


def test_a_single_class_is_refused(tmp_path):
    path = _write(tmp_path / "one.csv", "a,b,label\n1,2,0\n2,3,0\n")
    with pytest.raises(DataError, match=r"one.csv: has fewer than two classes \(\[.0.\]\)"):
        load_data(**DataConfig(dataset=str(path)).loading)


def test_npz_files(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 3, 3))
    np.savez(tmp_path / "d.npz", X=x, y=np.arange(20) % 2)
    ds, _ = load_file(tmp_path / "d.npz")
    assert ds.x.shape == (20, 9) and ds.image_shape == (3, 3)
    np.savez(tmp_path / "bad.npz", data=x)
    with pytest.raises(DataError, match=r"needs arrays 'X' and 'y'; it has \['data'\]"):
        load_file(tmp_path / "bad.npz")
    np.savez(tmp_path / "short.npz", X=x, y=np.arange(5))
    with pytest.raises(DataError, match=r"one label per sample: X has 20"):
        load_file(tmp_path / "short.npz")


def _idx(array: np.ndarray, kind: int = 0x08) -> bytes:
    header = bytes([0, 0, kind, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def test_mnist_idx_pairs_raw_and_gzipped(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, size=(12, 4, 4))
    labels = np.arange(12) % 3
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    ds, _ = load_file(tmp_path / "train-images-idx3-ubyte.gz")
    assert ds.x.shape == (12, 16) and ds.image_shape == (4, 4)
    np.testing.assert_array_equal(ds.x[3], images[3].ravel())
    assert ds.y.tolist() == labels.tolist()


def test_idx_files_that_disagree_with_their_header_are_refused(tmp_path):
    images = np.zeros((12, 4, 4))
    (tmp_path / "t-images-idx3-ubyte").write_bytes(_idx(images)[:-5])
    (tmp_path / "t-labels-idx1-ubyte").write_bytes(_idx(np.arange(12) % 2))
    with pytest.raises(DataError, match=r"header says 12x4x4 values \(192 bytes\) but the file"):
        load_file(tmp_path / "t-images-idx3-ubyte")
    (tmp_path / "u-images-idx3-ubyte").write_bytes(_idx(images))
    with pytest.raises(DataError, match=r"needs its labels file beside it"):
        load_file(tmp_path / "u-images-idx3-ubyte")
    (tmp_path / "v-images-idx3-ubyte").write_bytes(b"not idx at all")
    (tmp_path / "v-labels-idx1-ubyte").write_bytes(_idx(np.arange(12) % 2))
    with pytest.raises(DataError, match=r"is not an IDX file"):
        load_file(tmp_path / "v-images-idx3-ubyte")


def test_a_test_file_is_the_held_out_part(tmp_path):
    train = _write(tmp_path / "train.csv", _table(12))
    test = _write(tmp_path / "test.csv", _table(6))
    ds, _ = load_data(**DataConfig(dataset=str(train), test_file=str(test)).loading)
    assert len(ds.y) == 18 and ds.test_mask.sum() == 6
    split = split_dataset(ds, 0.5, seed=0)
    assert split.is_train.tolist() == [True] * 12 + [False] * 6
    odd = _write(tmp_path / "odd.csv", "a,c,species\n1,2,cat\n")
    with pytest.raises(DataError, match=r"its features \['a', 'c'\] are not those"):
        load_data(**DataConfig(dataset=str(train), test_file=str(odd)).loading)


@pytest.mark.parametrize("rows", [6, 2])
def test_a_test_file_is_sniffed_on_its_own(tmp_path, rows):
    """A CSV for training and a TSV (even of two rows) held out: each keeps its delimiter."""
    train = _write(tmp_path / "train.csv", _table(12))
    test = _write(tmp_path / "test.tsv", _table(rows, sep="\t"))
    ds, _ = load_data(**DataConfig(dataset=str(train), test_file=str(test)).loading)
    assert ds.test_mask.sum() == rows
    np.testing.assert_array_equal(ds.x[ds.test_mask], [[i, 2 * i + 1] for i in range(rows)])
    assert [ds.class_names[c] for c in ds.y[ds.test_mask]] == ["dog", "cat"] * (rows // 2)


def test_a_run_on_a_users_csv_keeps_class_names(tmp_path):
    path = _write(tmp_path / "pets.csv", _table(40))
    config = RunConfig(strategies=("joint",), data=DataConfig(dataset=str(path)), train=FAST)
    result = aelab.run(config, out=tmp_path / "runs", name="pets")
    assert result.class_names == ("cat", "dog")
    assert result.metrics["data"]["n_dropped_missing"] == 0


def test_builtin_image_and_signal_datasets():
    mnist1d = load_dataset("mnist1d")
    assert mnist1d.x.shape == (5000, 40) and mnist1d.test_mask.sum() == 1000
    mnist5k = load_dataset("mnist5k")
    assert mnist5k.x.shape == (5000, 784) and mnist5k.image_shape == (28, 28)
    split = split_dataset(mnist5k, 1000, seed=0, scaling="auto")
    train = split.x[split.is_train]
    assert train.min() == 0.0 and train.max() == 1.0  # images default to [0, 1]


def test_file_names_are_told_apart_from_dataset_names():
    assert looks_like_file("data/x.csv") and looks_like_file("t-images-idx3-ubyte.gz")
    assert not looks_like_file("iris") and not looks_like_file("mnist5k")


def test_crafted_files_end_in_one_line_errors(tmp_path):
    huge = bytes([0, 0, 8, 3]) + b"".join((2**31).to_bytes(4, "big") for _ in range(2))
    (tmp_path / "h-images-idx3-ubyte").write_bytes(huge + (4).to_bytes(4, "big"))
    (tmp_path / "h-labels-idx1-ubyte").write_bytes(_idx(np.arange(4) % 2))
    with pytest.raises(DataError, match=r"header says .* values"):
        load_file(tmp_path / "h-images-idx3-ubyte")
    np.savez(tmp_path / "empty.npz", X=np.zeros((0, 3)), y=np.zeros(0))
    with pytest.raises(DataError, match=r"X has no samples or no features"):
        load_file(tmp_path / "empty.npz")
    np.savez(tmp_path / "nofeat.npz", X=np.zeros((5, 0)), y=np.arange(5) % 2)
    with pytest.raises(DataError, match=r"X has no samples or no features"):
        load_file(tmp_path / "nofeat.npz")
    np.savez(tmp_path / "nan.npz", X=np.zeros((4, 2)), y=np.array([0, 1, np.nan, 1]))
    with pytest.raises(DataError, match=r"not whole numbers"):
        load_file(tmp_path / "nan.npz")
    (tmp_path / "bad.csv.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(DataError, match=r"bad.csv.gz: cannot be read"):
        load_file(tmp_path / "bad.csv.gz")
    allgone = _write(tmp_path / "gone.csv", "a,b,label\n1,,0\n,2,1\n")
    with pytest.raises(DataError, match=r"every row has a missing value \(2 rows\)"):
        load_file(allgone, drop_missing=True)


def test_label_columns_are_found_by_name_before_position(tmp_path):
    text = "x,y,label\n" + "".join(f"{i},{i * 2},{'ab'[i % 2]}\n" for i in range(8))
    ds, _ = load_file(_write(tmp_path / "t.csv", text))
    assert ds.feature_names == ("x", "y") and ds.class_names == ("a", "b")


def test_numeric_column_names_are_still_a_header(tmp_path):
    text = "400,410,420,species\n" + "".join(
        f"{i},{i + 1},{i + 2},{'ab'[i % 2]}\n" for i in range(8)
    )
    ds, _ = load_file(_write(tmp_path / "spectra.csv", text))
    assert ds.feature_names == ("400", "410", "420") and len(ds.y) == 8
    headerless = "".join(f"{i},{i + 1},{'ab'[i % 2]}\n" for i in range(8))
    ds, _ = load_file(_write(tmp_path / "plain.csv", headerless))
    assert len(ds.y) == 8 and ds.class_names == ("a", "b")


def test_repeated_column_names_are_refused_all_named(tmp_path):
    """Defect 2 of issue 14: pandas renamed them f1.1 and f2.1, names not in the file."""
    text = "f1,f1,f2,f2,g,label\n" + "".join(f"{i},{i},{i},{i},{i},{i % 2}\n" for i in range(8))
    with pytest.raises(
        DataError,
        match=r"^d.csv: column names repeat: 'f1' \(2 times\), 'f2' \(2 times\); give every "
        r"column its own name",
    ):
        load_file(_write(tmp_path / "d.csv", text))


def _wide(path, rows, columns, header):
    x = np.round(np.random.default_rng(0).normal(size=(rows, columns)), 3)
    lines = [",".join(f"f{i}" for i in range(columns)) + ",label"] if header else []
    lines += [",".join(map(str, r)) + f",{'ab'[i % 2]}" for i, r in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")
    return x


@pytest.mark.parametrize("header", [True, False])
def test_wide_tables_keep_their_header_or_first_row(tmp_path, header):
    """Rows longer than the sniffer's 64 KB sample: a headerless one lost its first row to a
    header of numbers (issue 14, defect 5)."""
    path = tmp_path / "wide.csv"
    x = _wide(path, 30, 12_000, header)
    ds, _ = load_file(path)
    np.testing.assert_array_equal(ds.x, x)
    assert ds.class_names == ("a", "b") and ds.y.tolist() == [0, 1] * 15
    assert ds.feature_names[-1] == ("f11999" if header else "11999")


def test_wide_tables_take_no_pandas_call_per_column(tmp_path, monkeypatch):
    """A table of 100,000 columns took minutes: a pandas conversion and assignment for each
    column (issue 14, defect 5). Numeric columns now go to numpy as they are read; the time
    against pd.read_csv is benchmarks/bench_wide_table.py's."""
    import pandas as pd

    calls = {"to_numeric": 0, "setitem": 0}
    to_numeric, setitem = pd.to_numeric, pd.DataFrame.__setitem__

    def counted(name, fn):
        def call(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return call

    monkeypatch.setattr(pd, "to_numeric", counted("to_numeric", to_numeric))
    monkeypatch.setattr(pd.DataFrame, "__setitem__", counted("setitem", setitem))
    path = tmp_path / "wide.csv"
    _wide(path, 20, 5_000, header=True)
    ds, _ = load_file(path)
    assert ds.x.shape == (20, 5_000) and calls == {"to_numeric": 0, "setitem": 0}


def test_text_that_is_not_utf8_anywhere_is_one_line(tmp_path):
    """The delimiter and header are guessed from the first rows; pandas reads the bytes of
    the rest and says when they are not UTF-8."""
    rows = "".join(f"{i},{i + 1},{i % 2}\n" for i in range(20_000))
    path = tmp_path / "late.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b,label\n" + rows.encode() + b"1,\xff\xfe,0\n")
    with pytest.raises(DataError, match=r"^late.csv: is not UTF-8 text; save it as UTF-8 CSV$"):
        load_file(path)
    path.write_bytes(b"\xef\xbb\xbfa,b,label\r" + rows.replace("\n", "\r").encode())
    ds, _ = load_file(path)  # a byte-order mark and old Mac line ends
    assert ds.feature_names == ("a", "b") and ds.x.shape == (20_000, 2)

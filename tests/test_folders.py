"""The one reader of run and sweep folders: a damaged file ends in one line that names it (exit
2 from the command line), never a traceback; what the reader lets through, the report, the
figures, the animation and generate can use."""

import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aelab
from aelab.cli import main
from aelab.config import RunConfig, SweepConfig, TrainConfig
from aelab.errors import AelabError
from aelab.outputs.folders import read_run, read_sweep
from aelab.outputs.plots import stages_figure
from aelab.outputs.report import render_run
from aelab.outputs.sweeppage import render_sweep

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
TINY = TrainConfig(pretrain_steps=30, finetune_steps=30, snapshot_every=10)
RUN_FILES = ("latents.npz", "metrics.json", "config.toml", "history.npz")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    config = RunConfig(strategies=("finetune", "joint"), train=TINY)
    return aelab.run(config, out=tmp_path_factory.mktemp("runs"), name="tiny").run_dir


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    grid = SweepConfig(base=RunConfig(strategies=("joint",), train=TINY), seeds=(0, 1),
                       baselines=False)  # fmt: skip
    return aelab.sweep(grid, out=tmp_path_factory.mktemp("sweeps"), name="tiny").sweep_dir


def _copy(folder: Path, into: str) -> Path:
    target = Path(into) / folder.name
    shutil.copytree(folder, target)
    return target


def _one_line(exc: AelabError) -> str:
    message = str(exc)
    assert message and "\n" not in message, message
    return message


def _read_and_render(folder: Path, figure: bool = False) -> str | None:
    """Read a run folder and make its page (and its stage figure): ``None``, or the one-line
    error."""
    try:
        read_run(folder)
        render_run(folder)
        if figure:
            stages_figure(folder)
    except AelabError as exc:
        return _one_line(exc)
    return None


def _truncated(data: bytes, keep: float) -> bytes:
    return data[: int(len(data) * keep)]


@pytest.mark.parametrize("name", RUN_FILES)
def test_a_truncated_file_is_one_line_naming_it(run_dir, tmp_path, name):
    folder = _copy(run_dir, tmp_path)
    path = folder / name
    path.write_bytes(_truncated(path.read_bytes(), 0.5))
    message = _read_and_render(folder)
    assert message is not None and name in message


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["report"], "latents.npz"),
        (["report"], "metrics.json"),
        (["plot", "--dims", "0,1"], "latents.npz"),
        (["plot", "--dims", "0,1"], "config.toml"),
        (["generate"], "latents.npz"),
        (["generate"], "metrics.json"),
        (["report", "--animation"], "history.npz"),
    ],
)
def test_the_commands_end_in_one_line_and_exit_2(run_dir, tmp_path, capsys, command, name):
    folder = _copy(run_dir, tmp_path)
    (folder / name).write_bytes(b"this is not the file aelab wrote\n")
    with pytest.raises(SystemExit) as info:
        main([command[0], str(folder), *command[1:]])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.startswith("aelab: error: ") and err.count("\n") == 1 and name in err


def test_a_checkpoint_of_another_model_is_refused(run_dir, tmp_path, capsys):
    folder = _copy(run_dir, tmp_path)
    other = aelab.run(
        RunConfig(strategies=("joint",), model=aelab.ModelConfig(code=3), train=TINY),
        out=tmp_path, name="other",
    )  # fmt: skip
    shutil.copy(other.checkpoints["joint"], folder / "checkpoints" / "joint.npz")
    with pytest.raises(SystemExit) as info:
        main(["generate", str(folder), "--stage", "joint"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "joint.npz" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("results.csv", b"\xff\xfe not text", "results.csv"),
        ("results.csv", b"seed,labels\n0,all\n", "has no column 'kind'"),
        ("sweep.toml", b"[sweep\n", "is not valid TOML"),
    ],
)
def test_a_damaged_sweep_does_not_resume(sweep_dir, tmp_path, capsys, name, content, message):
    folder = _copy(sweep_dir, tmp_path)
    (folder / name).write_bytes(content)
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--resume", str(folder), "-q"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and err.count("\n") == 1


def test_a_damaged_summary_gives_no_page(sweep_dir, tmp_path, capsys):
    folder = _copy(sweep_dir, tmp_path)
    text = (folder / "summary.csv").read_text().replace("aelab", "bogus", 1)
    (folder / "summary.csv").write_text(text)
    with pytest.raises(SystemExit) as info:
        main(["report", str(folder)])
    assert info.value.code == 2 and "summary.csv" in capsys.readouterr().err


@SETTINGS
@given(
    name=st.sampled_from(RUN_FILES),
    keep=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
)
def test_cut_or_flipped_bytes_end_in_a_page_or_one_line(run_dir, name, keep, flips):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _copy(run_dir, tmp)
        data = bytearray(_truncated((folder / name).read_bytes(), keep))
        for where, value in flips:
            if data:
                data[int(where * (len(data) - 1))] = value
        (folder / name).write_bytes(bytes(data))
        _read_and_render(folder)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=12,
)


@SETTINGS
@given(
    path=st.lists(
        st.sampled_from(["data", "pretrained", "strategies", "references", "joint", "n_train"]),
        min_size=1, max_size=3,
    ),
    value=json_values,
)  # fmt: skip
def test_any_json_in_the_metrics_ends_in_a_page_or_one_line(run_dir, path, value):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _copy(run_dir, tmp)
        metrics = json.loads((folder / "metrics.json").read_text())
        target = metrics
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[path[-1]] = value
        (folder / "metrics.json").write_text(json.dumps(metrics))
        _read_and_render(folder, figure=True)


def _rewrite_npz(path: Path, change) -> None:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


@SETTINGS
@given(data=st.data())
def test_arrays_of_other_kinds_or_shapes_end_in_a_page_or_one_line(run_dir, data):
    with np.load(run_dir / "latents.npz", allow_pickle=False) as npz:
        names = sorted(npz.files)
    victim = data.draw(st.sampled_from(names))
    shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=3)))
    kind = data.draw(st.sampled_from(["float32", "int64", "bool", "<U3", "float64"]))
    fill = data.draw(st.sampled_from([0, 1, -1, np.nan, np.inf, 7]))
    drop = data.draw(st.booleans())

    def change(arrays):
        if drop:
            del arrays[victim]
        else:
            value = "a" if kind == "<U3" else fill
            arrays[victim] = np.full(shape, value if kind.startswith("float") else 0).astype(kind)

    with tempfile.TemporaryDirectory() as tmp:
        folder = _copy(run_dir, tmp)
        _rewrite_npz(folder / "latents.npz", change)
        message = _read_and_render(folder)
        if message is not None:
            assert "latents.npz" in message, message


@SETTINGS
@given(
    name=st.sampled_from(["results.csv", "summary.csv"]),
    keep=st.floats(0, 1),
    junk=st.text(alphabet=",\n\"'ax01.-", max_size=20),
)
def test_cut_sweep_tables_end_in_a_page_or_one_line(sweep_dir, name, keep, junk):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _copy(sweep_dir, tmp)
        path = folder / name
        path.write_text(path.read_text()[: int(keep * len(path.read_text()))] + junk)
        try:
            read_sweep(folder)
            render_sweep(folder)
        except AelabError as exc:
            _one_line(exc)


def test_a_checkpoint_is_read_through_its_own_checks(run_dir, tmp_path):
    folder = _copy(run_dir, tmp_path)
    path = folder / "checkpoints" / "finetune.npz"
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("extra.npy", b"not an array")
    message = _read_and_render(folder)
    assert message is not None and "finetune.npz" in message

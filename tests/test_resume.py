"""Interrupting a run (SIGINT, SIGTERM) keeps its state; --resume ends with the same numbers."""

import json
import os
import subprocess

import numpy as np
import pytest

import aelab
from aelab.cli import main
from aelab.config import RunConfig, TrainConfig
from aelab.outputs.rundir import RunInterrupted

from .test_interrupts import interrupted_command

ARGS = ["--pretrain-steps", "1000", "--finetune-steps", "2000", "--snapshot-every", "250",
        "--noise", "gaussian:0.1", "--hidden", "6"]  # fmt: skip


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_real_run_and_resume_finishes_it(tmp_path, sig):
    env = dict(os.environ)  # the test session's compilation cache: its programs here too
    args = ["run", *ARGS, "--out", str(tmp_path), "-q"]
    # A real signal as the third chunk of steps starts: it stops after that chunk.
    child = subprocess.run(
        interrupted_command(f"training:{sig}", *args, "--name", "cut"), env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    err = child.stderr
    assert child.returncode == 130, err
    folder = tmp_path / "cut.interrupted"
    assert f"aelab run --resume {folder}" in err
    assert "interrupted after 750 of 1000 pretraining steps" in err
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml", "resume.npz"]
    assert not (tmp_path / "cut").exists() and not list(tmp_path.glob(".cut.partial-*"))
    if sig != "SIGINT":  # what follows the stop does not depend on the signal
        return

    # The saved state is all a resume has: this test's process (which never saw the cut
    # run) resumes it, then trains the whole run, with the programs compiled once.
    with pytest.raises(SystemExit) as resumed:
        main(["run", "--resume", str(folder), "-q"])
    assert resumed.value.code == 0
    assert not folder.exists()
    with pytest.raises(SystemExit) as whole:
        main([*args, "--name", "whole"])
    assert whole.value.code == 0
    assert _metrics(tmp_path / "cut") == _metrics(tmp_path / "whole")
    for name in ("latents.npz", "history.npz"):
        a, b = np.load(tmp_path / "cut" / name), np.load(tmp_path / "whole" / name)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}:{key}")


def test_resume_in_process_with_a_stop_during_pretraining(tmp_path, monkeypatch):
    """The library path: a stop asked for during pretraining, then resume= in Python."""
    import aelab.outputs.rundir as rundir

    calls = []

    class StopSoon(rundir._StopOnSignal):
        def __call__(self):
            calls.append(1)
            return len(calls) == 2  # after the second chunk of pretraining

    monkeypatch.setattr(rundir, "_StopOnSignal", StopSoon)
    config = RunConfig(
        train=TrainConfig(pretrain_steps=300, finetune_steps=200, snapshot_every=100)
    )
    with pytest.raises(RunInterrupted) as info:
        aelab.run(config, out=tmp_path, name="p")
    assert info.value.phase == "pretraining" and info.value.done == 200
    monkeypatch.undo()
    done = aelab.run(resume=info.value.folder)
    whole = aelab.run(config, out=tmp_path, name="w")
    assert done.metrics == whole.metrics and done.run_dir == tmp_path / "p"


def test_resume_refuses_a_folder_that_is_not_an_interrupted_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--resume", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "is not an interrupted run" in err


def _interrupt(tmp_path, monkeypatch, name, config):
    import aelab.outputs.rundir as rundir

    class StopNow(rundir._StopOnSignal):
        def __call__(self):
            return True

    monkeypatch.setattr(rundir, "_StopOnSignal", StopNow)
    with pytest.raises(RunInterrupted) as info:
        aelab.run(config, out=tmp_path, name=name)
    monkeypatch.undo()
    return info.value.folder


SMALL = RunConfig(train=TrainConfig(pretrain_steps=200, finetune_steps=200, snapshot_every=100))


def test_a_waiting_interrupted_run_is_never_overwritten(tmp_path, monkeypatch):
    folder = _interrupt(tmp_path, monkeypatch, "x", SMALL)
    saved = (folder / "resume.npz").read_bytes()
    with pytest.raises(aelab.ConfigError, match=r"an interrupted run waits in .*x.interrupted"):
        aelab.run(SMALL, out=tmp_path, name="x")
    assert (folder / "resume.npz").read_bytes() == saved
    with pytest.raises(aelab.ConfigError, match=r"is not an interrupted run; its folder is named"):
        aelab.run(resume=tmp_path)


def test_resume_refuses_data_that_changed(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    rows = ["a,b,label"] + [f"{i},{i % 5},{i % 2}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    config = RunConfig(data=aelab.DataConfig(dataset=str(path)), train=SMALL.train)
    folder = _interrupt(tmp_path, monkeypatch, "d", config)
    path.write_text("\n".join([rows[0], *reversed(rows[1:])]) + "\n")  # same values, reordered
    with pytest.raises(aelab.ConfigError, match="is not what the interrupted run trained on"):
        aelab.run(resume=folder)
    assert (folder / "resume.npz").is_file()  # kept for when the data is back
    path.write_text("\n".join(rows) + "\n")
    assert aelab.run(resume=folder).run_dir == tmp_path / "d"


def test_resume_from_another_working_folder_reads_the_same_data(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "d.csv").write_text(
        "a,b,label\n" + "".join(f"{i},{i % 5},{i % 2}\n" for i in range(40))
    )
    monkeypatch.chdir(project)
    config = RunConfig(data=aelab.DataConfig(dataset="d.csv"), train=SMALL.train)
    folder = _interrupt(project / "runs", monkeypatch, "d", config)  # (undoes the chdir)
    assert 'dataset = "../../d.csv"' in (folder / "config.toml").read_text()  # from the folder
    monkeypatch.chdir(tmp_path)
    assert aelab.run(resume=folder).run_dir == project / "runs" / "d"


@pytest.mark.parametrize(
    ("array", "value", "message"),
    [
        ("state/params/0", np.zeros((3, 3), np.float32), "its parameters are not this model's"),
        ("state/history", np.zeros((4, 7, 4), np.float32), "a history of shape"),
        ("state/done", np.array(5000), "5000 steps done of 200"),
        ("phase", np.array("warmup"), "phase 'warmup'"),
        ("state/opt/1", np.zeros(9, np.float32), "its optimiser state is not this model's"),
    ],
)
def test_a_damaged_saved_state_is_refused_in_one_line(tmp_path, monkeypatch, capsys, array,
                                                       value, message):  # fmt: skip
    folder = _interrupt(tmp_path, monkeypatch, "s", SMALL)
    with np.load(folder / "resume.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays[array] = value
    with open(folder / "resume.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(SystemExit) as info:
        main(["run", "--resume", str(folder), "-q"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "s").exists() and (folder / "resume.npz").is_file()

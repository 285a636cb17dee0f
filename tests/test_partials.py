"""Partial folders left by killed runs are removed by a later run; those of live processes,
of other hosts and of unknown names never are."""

import os
import signal
import subprocess
import sys
import time

import aelab
from aelab.config import RunConfig, TrainConfig
from aelab.outputs.partials import partial_path, remove_abandoned

TINY = RunConfig(train=TrainConfig(pretrain_steps=20, finetune_steps=20, snapshot_every=10))


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_later_run_removes_a_killed_runs_partial_folder_and_keeps_a_live_ones(tmp_path):
    live = partial_path(tmp_path / "live")  # this process's: it is alive
    live.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "aelab", "run", "--pretrain-steps", "2000", "--finetune-steps",
         "100000", "--out", str(tmp_path), "--name", "killed", "-q"],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 120
    while not list(tmp_path.glob(".killed.partial-*")) and time.time() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    [left] = tmp_path.glob(".killed.partial-*")  # nothing could remove it
    assert aelab.run(TINY, out=tmp_path, name="later").run_dir == tmp_path / "later"
    assert not left.exists()
    assert live.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["later", live.name])


def test_only_partial_folders_of_gone_processes_of_this_host_are_removed(tmp_path):
    own = partial_path(tmp_path / "own")
    pid, start, host = own.name.rsplit(".partial-", 1)[1].split("-")
    dead = _dead_pid()
    names = {
        "own": own.name,  # alive
        "dead": f".a.partial-{dead}-{start}-{host}",
        "reused": f".b.partial-{pid}-{int(start) + 1}-{host}",  # this id, a later process
        "unknown start": f".c.partial-{dead}-0-{host}",
        "other host": f".d.partial-{dead}-{start}-{'0' * 8 if host != '0' * 8 else '1' * 8}",
        "older aelab": f".e.partial-{dead}",
        "a run": "e",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
    (tmp_path / f".f.partial-{dead}-{start}-{host}.txt").write_text("")  # a file: not ours
    removed = {p.name for p in remove_abandoned(tmp_path)}
    gone = {"dead", "unknown start"} | ({"reused"} if int(start) else set())
    assert removed == {names[k] for k in gone}
    assert {p.name for p in tmp_path.iterdir() if p.is_dir()} == {
        v for k, v in names.items() if k not in gone
    }
    assert remove_abandoned(tmp_path / "missing") == []

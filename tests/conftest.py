"""Shared fixtures: tiny settings that train in a blink, one full default run, and one tiny
finished run (with copies of it as other families) for the tests that use a finished run."""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import jax
import pytest

import aelab
from aelab.cache import enable_compilation_cache
from aelab.config import ModelConfig, RunConfig, TrainConfig, dump_config
from aelab.outputs.checkpoint import checkpoint_info, save_checkpoint

# One compilation cache for the whole test session, its worker processes (pytest-xdist) and
# the commands the tests start: a program compiled once is loaded everywhere else. It is new
# for every session, never shared with the user's own runs, and removed by the process that
# made it.
if "AELAB_TEST_SESSION_CACHE" not in os.environ:
    os.environ["AELAB_TEST_SESSION_CACHE"] = tempfile.mkdtemp(prefix="aelab-test-xla-")
    atexit.register(shutil.rmtree, os.environ["AELAB_TEST_SESSION_CACHE"], True)
os.environ["AELAB_COMPILATION_CACHE"] = os.environ["AELAB_TEST_SESSION_CACHE"]
enable_compilation_cache()

README_TEST = os.path.join(os.path.dirname(__file__), "test_readme.py")
_early: list[subprocess.Popen] = []


def pytest_sessionstart(session):
    """Start the README's blocks (``test_readme.py``, a minute of CPU) in a process of their
    own when the session will run them, so that they share the cores with the tests instead of
    keeping a worker waiting. Only the controlling process does (not pytest-xdist's workers),
    and not for a selection of tests that leaves them out."""
    config = session.config
    if (
        hasattr(config, "workerinput")
        or config.getoption("keyword")
        or config.getoption("markexpr")
    ):
        return
    paths = [os.path.abspath(a.split("::")[0]) for a in config.args] or [os.getcwd()]
    readme = os.path.abspath(README_TEST)
    if any(readme == p or readme.startswith(p.rstrip(os.sep) + os.sep) for p in paths):
        command = [sys.executable, README_TEST]
        _early.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True))


def pytest_sessionfinish(session):
    """The early README process ends with the session (before its cache folder is removed):
    the README's tests waited for it; a session that stopped sooner needs it no more."""
    for process in _early:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()


@pytest.fixture
def tiny_config() -> RunConfig:
    """The default experiment with few steps: fast, and still a real run."""
    return RunConfig(train=TrainConfig(pretrain_steps=200, finetune_steps=300, snapshot_every=50))


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> aelab.RunResult:
    """The original experiment exactly as `aelab run` does it (5,000 + 10,000 steps)."""
    return aelab.run(out=tmp_path_factory.mktemp("runs"), name="default")


def read_metrics(run_dir) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> aelab.RunResult:
    """A run of the default experiment with ``tiny_config``'s few steps (its programs are
    the ones other tests compile), shared by the tests that use a finished run."""
    config = RunConfig(train=TrainConfig(pretrain_steps=200, finetune_steps=300, snapshot_every=50))
    return aelab.run(config, out=tmp_path_factory.mktemp("runs"), name="tiny")


@pytest.fixture
def run_as_family(tiny_run, tmp_path):
    """``make(family)``: a copy of ``tiny_run`` whose every stage is an untrained model of
    ``family`` (a finished run of any family without training one)."""

    def make(family: str):
        copy = shutil.copytree(tiny_run.run_dir, tmp_path / family)
        config = aelab.load_config(copy / "config.toml")
        config = dataclasses.replace(config, model=ModelConfig(family=family))
        (copy / "config.toml").write_text(dump_config(config))
        model = config.model.build(4, 3)
        for i, path in enumerate(sorted((copy / "checkpoints").glob("*.npz"))):
            params = model.init(jax.random.key(i))
            save_checkpoint(path, model, params, info=checkpoint_info(path))
        return copy

    return make

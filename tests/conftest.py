"""Shared fixtures: tiny settings that train in a blink, one full default run, and one tiny
finished run (with copies of it as other families) for the tests that use a finished run."""

from __future__ import annotations

import os

# The whole test session (its pytest-xdist workers and the commands the tests start inherit
# the variable) compiles at XLA's lowest backend optimisation: less compile time, and
# compiling is most of the suite's time. It changes float32 rounding, not what is computed:
# the suite's checks compare runs made under the same flag, or numbers rounded far above the
# last bits. The default run's numbers pinned to 1e-6 (tests/test_regression.py) need the
# optimised programs that users run: they train in a fresh process without the flag
# (``users_env``). Set before JAX is imported, which reads the variable once.
TEST_XLA_FLAG = "--xla_backend_optimization_level=0"
USERS_XLA_FLAGS = os.environ.get("AELAB_TEST_USERS_XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
os.environ["AELAB_TEST_USERS_XLA_FLAGS"] = USERS_XLA_FLAGS
os.environ["XLA_FLAGS"] = f"{USERS_XLA_FLAGS} {TEST_XLA_FLAG}".strip()

import atexit  # noqa: E402  (after XLA_FLAGS: see above)
import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

import aelab  # noqa: E402
from aelab.cache import enable_compilation_cache  # noqa: E402
from aelab.config import ModelConfig, RunConfig, TrainConfig, dump_config  # noqa: E402
from aelab.outputs.checkpoint import checkpoint_info, save_checkpoint  # noqa: E402

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


@pytest.fixture(scope="session")
def users_env() -> dict[str, str]:
    """The environment for a fresh process that compiles as users' runs do: the session's,
    with XLA's flags as they were before the session lowered the optimisation."""
    env = {**os.environ, "XLA_FLAGS": os.environ["AELAB_TEST_USERS_XLA_FLAGS"]}
    return env if env["XLA_FLAGS"] else {k: v for k, v in env.items() if k != "XLA_FLAGS"}


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

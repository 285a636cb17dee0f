"""Shared fixtures: tiny settings that train in a blink, and one full default run."""

from __future__ import annotations

import json
import os

import pytest

import aelab
from aelab.config import RunConfig, TrainConfig

# Tests compile from scratch: no compilation cache shared with the user's own runs.
os.environ.setdefault("AELAB_COMPILATION_CACHE", "off")


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

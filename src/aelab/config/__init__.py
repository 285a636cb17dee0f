"""Frozen, validated settings: runs, their models, sweeps; TOML in and out."""

from aelab.config.data import MAX_SEED, DataConfig
from aelab.config.model import ModelConfig
from aelab.config.noise import Noise, noise_kind, parse_noise
from aelab.config.run import (
    RunConfig,
    TrainConfig,
    dump_config,
    load_config,
    max_steps,
    read_toml,
    with_overrides,
)
from aelab.config.strategies import DEFAULT_STRATEGIES, STRATEGIES, Strategy
from aelab.config.sweep import OUTER, SweepConfig, dump_sweep_config, load_sweep_config

__all__ = [
    "DEFAULT_STRATEGIES",
    "MAX_SEED",
    "OUTER",
    "STRATEGIES",
    "DataConfig",
    "ModelConfig",
    "Noise",
    "RunConfig",
    "Strategy",
    "SweepConfig",
    "TrainConfig",
    "dump_config",
    "dump_sweep_config",
    "load_config",
    "load_sweep_config",
    "max_steps",
    "noise_kind",
    "parse_noise",
    "read_toml",
    "with_overrides",
]

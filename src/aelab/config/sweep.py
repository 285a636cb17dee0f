"""``SweepConfig``: a grid of runs around a base run config.

A sweep trains seeds x label counts x learning rates x strategies x lambda. What keeps the
network's shapes is vectorised (every seed a group of one program, every other setting a model
of it); what changes the program (a code size, a kind of noise) is an outer loop, one program
each: :meth:`SweepConfig.variants`.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aelab.config.data import MAX_SEED
from aelab.config.noise import noise_kind
from aelab.config.run import RunConfig, config_text, read_config_file, with_overrides
from aelab.errors import ConfigError
from aelab.models import FAMILIES

# Optional lists of network settings; each gives its rows a column of the singular name.
# A code size changes shapes: one program each. Noises: one program per kind, its levels are
# models of it. Betas (the weight of the family's penalty term): models of the same program.
OUTER = ("codes", "noises", "betas")


@dataclass(frozen=True)
class SweepConfig:
    """A grid of runs around ``base``.

    Attributes:
        base: every setting the grid does not vary (its strategies are the grid's).
        seeds: seeds of the weights and (unless ``base.data.split_seed`` is set) the split.
        labels: labelled training samples per class; ``None`` keeps every label.
        recon_weights: lambda of the strategies with a reconstruction term.
        learning_rates: Adam step sizes.
        codes: code sizes, one program each.
        noises: input noises; one program per kind, whose levels are models of it.
        betas: weights of the family's penalty term (a VAE's beta, a sparse autoencoder's
            sparsity), models of the same program.
        seeds_per_slice: the most seeds one program trains (the seeds are cut into as few
            slices as that allows, as even as they can be); a finished slice is saved at once.
        baselines: also fit scikit-learn's baselines on every split and label mask.
    """

    base: RunConfig = field(default_factory=RunConfig)
    seeds: tuple[int, ...] = tuple(range(5))
    labels: tuple[int | None, ...] = (None,)
    recon_weights: tuple[float, ...] = (1.0,)
    learning_rates: tuple[float, ...] = (0.01,)
    codes: tuple[int, ...] = ()
    noises: tuple[str, ...] = ()
    betas: tuple[float, ...] = ()
    seeds_per_slice: int = 16
    baselines: bool = True

    def __post_init__(self) -> None:
        for name in ("seeds", "labels", "recon_weights", "learning_rates", *OUTER):
            value = getattr(self, name)
            if isinstance(value, list):
                value = tuple(value)
                object.__setattr__(self, name, value)
            if name == "noises" and isinstance(value, tuple):  # one spelling per noise
                value = tuple(
                    _with(self.base, {"model.noise": v}).model.noise if isinstance(v, str) else v
                    for v in value
                )
                object.__setattr__(self, name, value)
            if not isinstance(value, tuple):
                raise ConfigError(f"sweep.{name} must be a list, got {value!r}")
            if name not in OUTER and not value:
                raise ConfigError(f"sweep.{name} must hold at least one value")
            if not all(isinstance(v, int | float | str) or v is None for v in value):
                raise ConfigError(f"sweep.{name} must be a list of plain values, got {value!r}")
            if len(set(value)) != len(value):
                raise ConfigError(f"sweep.{name} lists a value twice: {list(value)}")
        for seed in self.seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
                raise ConfigError(
                    f"sweep.seeds: {seed!r} is not a seed; seeds are integers from 0 to {MAX_SEED}"
                )
        if (
            isinstance(self.seeds_per_slice, bool)
            or not isinstance(self.seeds_per_slice, int)
            or self.seeds_per_slice < 1
        ):
            raise ConfigError(
                f"sweep.seeds_per_slice must be an integer >= 1, got {self.seeds_per_slice!r}"
            )
        if not isinstance(self.baselines, bool):
            raise ConfigError(f"sweep.baselines must be true or false, got {self.baselines!r}")
        if self.base.train.pretraining == "greedy":
            raise ConfigError(
                "sweeps pretrain end to end; greedy layer-wise pretraining runs with aelab run"
            )
        family = self.base.model.spec
        if self.betas and family.penalty_weight is None:
            weighted = [
                f"{f.name} ({f.penalty_weight})" for f in FAMILIES.values() if f.penalty_weight
            ]
            raise ConfigError(
                f"sweep.betas weigh the family's penalty term; model.family = {family.name} "
                f"has none; families with one: {', '.join(weighted)}"
            )
        for beta in self.betas:
            _with(self.base, {f"model.{family.penalty_weight}": beta})
        for run_config in self.variants():  # every value checked by the run's own rules
            for overrides in self.inner_settings():
                _with(run_config, overrides)

    def variants(self) -> list[RunConfig]:
        """One run config per program: per code size, and per kind of noise (its levels are
        models of the program, as are the learning rates and betas)."""
        codes = self.codes or (self.base.model.code,)
        kinds: dict[str, str] = {}  # kind -> the first noise of that kind
        for noise in self.noises or (self.base.model.noise,):
            kinds.setdefault(noise_kind(noise), noise)
        return [
            _with(self.base, {"model.code": code, "model.noise": noise})
            for code, noise in itertools.product(codes, kinds.values())
        ]

    def inner_settings(self) -> list[dict[str, Any]]:
        """The vectorised settings, as run-config overrides."""
        return [
            {"data.labels": labels, "train.recon_weight": lam, "train.learning_rate": lr}
            for labels, lam, lr in itertools.product(
                self.labels, self.recon_weights, self.learning_rates
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        """The TOML form: the base run's settings, and the grid in a [sweep] table."""
        grid = {
            "seeds": list(self.seeds),
            "labels": ["all" if n is None else n for n in self.labels],
            "recon_weights": list(self.recon_weights),
            "learning_rates": list(self.learning_rates),
            "seeds_per_slice": self.seeds_per_slice,
            "baselines": self.baselines,
        }
        grid.update({name: list(getattr(self, name)) for name in OUTER if getattr(self, name)})
        return {**self.base.to_dict(), "sweep": grid}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str | None = None) -> SweepConfig:
        """Read the TOML form: a run config plus a [sweep] table. Unset grid lists take the
        run's value (its labels, lambda, learning rate); unset seeds are 0-4."""
        raw = dict(raw)
        grid = raw.pop("sweep", {})
        prefix = f"{source}: " if source else ""
        if not isinstance(grid, dict):
            raise ConfigError(f"{prefix}[sweep] must be a table of settings")
        base = RunConfig.from_dict(raw, source=source)
        known = {f.name for f in dataclasses.fields(cls)} - {"base"}
        for key in grid:
            if key not in known:
                raise ConfigError(
                    f"{prefix}unknown setting {key!r} in [sweep]; known: {', '.join(sorted(known))}"
                )
        grid = dict(grid)
        seeds = grid.get("seeds")
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            if seeds < 1:
                raise ConfigError(f"{prefix}sweep.seeds must be a count >= 1 or a list of seeds")
            grid["seeds"] = list(range(seeds))
        if "labels" in grid:
            if not isinstance(grid["labels"], list):
                raise ConfigError(f"{prefix}sweep.labels must be a list, got {grid['labels']!r}")
            grid["labels"] = [None if v == "all" else v for v in grid["labels"]]
        grid.setdefault("recon_weights", [base.train.recon_weight])
        grid.setdefault("learning_rates", [base.train.learning_rate])
        grid.setdefault("labels", [base.data.labels])
        try:
            return cls(base=base, **grid)
        except ConfigError as exc:
            raise ConfigError(f"{prefix}{exc}") from None


def _with(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    try:
        return with_overrides(config, overrides, none_unsets=True)
    except ConfigError as exc:
        raise ConfigError(f"sweep: {exc}") from None


def load_sweep_config(path: str | Path) -> SweepConfig:
    """A sweep TOML file (a run config plus a [sweep] table); errors are one line. A relative
    data file path in it is relative to the file's folder."""
    return SweepConfig.from_dict(read_config_file(path), source=str(path))


def dump_sweep_config(config: SweepConfig, folder: str | Path | None = None) -> str:
    """The sweep as TOML text; ``folder``: that of the file it is written to (see
    :func:`aelab.config.dump_config`)."""
    return config_text(config.to_dict(), folder)

"""Sweeps: does pretraining or the reconstruction term help? Many seeds, one program.

A sweep trains a grid of seeds x label counts x learning rates x strategies x lambda. Settings
that keep the network's shapes are vectorised: every seed of a slice is a group with its own
split (``jax.vmap``), and every label count, learning rate, strategy and lambda is a model of
that group (a nested ``jax.vmap``: label counts are masks, not new shapes), and so is every
noise level and VAE beta. One compiled program trains a whole slice. What changes the
program (a code size, a kind of noise) is an outer loop, one compile each.

Each seed's split and labelled samples are exactly those of ``aelab run --seed S --labels L``,
and so are its initial weights: a deterministic model's row equals that run's numbers.
Baselines from scikit-learn run on the same splits and label masks.

A sweep folder holds ``sweep.toml`` (the resolved sweep), ``results.csv`` (a row per trained
model or baseline, rewritten atomically after every slice), and at the end ``summary.csv``
and ``sweep.png``. An interrupted sweep keeps its finished slices; :func:`sweep` with
``resume=True`` trains the rest.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np

from aelab import metrics
from aelab.config import MAX_SEED, RunConfig, read_toml
from aelab.corruption import parse_noise
from aelab.data import Split, split_dataset
from aelab.datafiles import load_data
from aelab.errors import AelabError, ConfigError
from aelab.models import build_model
from aelab.parallel import Mesh
from aelab.rundir import resolve_run_dir
from aelab.strategies import STRATEGIES
from aelab.train import Batch, stack, to_numpy, train_groups, unstack

# Optional lists of network settings; each gives its rows a column of the singular name.
# A code size changes shapes: one program each. Noises: one program per kind, its levels are
# models of it. Betas: models of the same program.
OUTER = ("codes", "noises", "betas")
METRICS = (
    "test_accuracy",
    "train_accuracy",
    "unlabelled_accuracy",
    "test_reconstruction_mse",
    "reconstruction_drift",
    "cka_to_pretrained",
    "knn_accuracy",
)
BASELINES = (
    "logistic regression",
    "PCA + logistic regression",
    "MLP",
    "k-nearest neighbours",
    "LabelSpreading",
)
# (phase, steps done, steps in the phase); phases are "slice i/n: pretrain" and "...: finetune".
ProgressFn = Callable[[str, int, int], None]


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
        betas: a VAE's KL weights, models of the same program.
        seeds_per_slice: seeds trained by one program; a finished slice is saved at once.
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
        if self.betas and self.base.model.family != "vae":
            raise ConfigError(
                f"sweep.betas weigh a VAE's KL term; set model.family = vae (--model vae), not "
                f"{self.base.model.family!r}"
            )
        for beta in self.betas:
            _with(self.base, {"model.beta": beta})
        for run_config in self.variants():  # every value checked by the run's own rules
            for overrides in self.inner_settings():
                _with(run_config, overrides)

    def variants(self) -> list[RunConfig]:
        """One run config per program: per code size, and per kind of noise (its levels are
        models of the program, as are the learning rates and betas)."""
        codes = self.codes or (self.base.model.code,)
        kinds: dict[str, str] = {}  # kind -> the first noise of that kind
        for noise in self.noises or (self.base.model.noise,):
            kinds.setdefault(_kind(noise), noise)
        return [
            _with(self.base, {"model.code": code, "model.noise": noise})
            for code, noise in itertools.product(codes, kinds.values())
        ]

    def phase_settings(self, run: RunConfig) -> list[tuple[float, str | None, float | None]]:
        """The settings pretraining depends on, for ``run``'s program: (learning rate, noise
        of ``run``'s kind or None, beta or None), each one pretrained model a seed."""
        noises = [n for n in self.noises if _kind(n) == _kind(run.model.noise)] or [None]
        return list(itertools.product(self.learning_rates, noises, self.betas or [None]))

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
    merged = config.to_dict()
    for dotted, value in overrides.items():
        *path, last = dotted.split(".")
        target = merged
        for part in path:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    try:
        return RunConfig.from_dict(merged)
    except ConfigError as exc:
        raise ConfigError(f"sweep: {exc}") from None


def _kind(noise: str) -> str:
    """``"gaussian"`` of ``"gaussian:0.3"``; ``"none"`` for no noise."""
    return noise.partition(":")[0]


def load_sweep_config(path: str | Path) -> SweepConfig:
    """A sweep TOML file (a run config plus a [sweep] table); errors are one line."""
    return SweepConfig.from_dict(read_toml(path), source=str(path))


def dump_sweep_config(config: SweepConfig) -> str:
    import tomli_w

    return tomli_w.dumps(config.to_dict())


# -- training -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    """One fine-tuned model of a seed's group: its settings."""

    labels: int | None
    phase: tuple[float, str | None, float | None]  # learning rate, noise, beta
    strategy: str
    recon_weight: float | None  # None for strategies without a reconstruction term


def _group_models(config: SweepConfig, run: RunConfig) -> list[_Model]:
    out = []
    for labels, phase, name in itertools.product(
        config.labels, config.phase_settings(run), config.base.strategies
    ):
        lams = config.recon_weights if STRATEGIES[name].uses_recon else (None,)
        out.extend(_Model(labels, phase, name, lam) for lam in lams)
    return out


def _splits(run: RunConfig, dataset, seed: int, labels: tuple[int | None, ...]):
    """Each label count's split for ``seed``: the same samples and scaling, other masks."""
    split_seed = seed if run.data.split_seed is None else run.data.split_seed
    return {
        n: split_dataset(
            dataset, run.data.test_size, split_seed, labels=n, scaling=run.data.scaling
        )
        for n in labels
    }


def _train_slice(
    run: RunConfig,
    config: SweepConfig,
    dataset,
    seeds: list[int],
    progress: Callable[[str, int, int], None] | None,
    baselines: bool = True,
    mesh: Mesh | None = None,
) -> list[dict[str, Any]]:
    """Train every model of ``seeds`` (one group a seed) and return their result rows."""
    splits = [_splits(run, dataset, s, config.labels) for s in seeds]
    first = [sp[config.labels[0]] for sp in splits]
    _check_batch_size(run, first[0].n_train)
    # With a list of betas, the VAE is built with beta 1 and each model weighs its KL term.
    spec = dataclasses.replace(run.model, beta=1.0) if config.betas else run.model
    model = build_model(spec, first[0].x.shape[1], dataset.n_classes)
    noise = parse_noise(run.model.noise)  # the program's kind; each model has its level
    roots = [jax.random.key(s) for s in seeds]
    inits = [to_numpy(jax.jit(model.init)(r)) for r in roots]
    x = np.stack([sp.x for sp in first])
    y = np.stack([sp.y for sp in first]).astype(np.int32)
    train = run.train
    phases = config.phase_settings(run)  # (learning rate, noise, beta): one pretraining each
    models = _group_models(config, run)
    s_count = len(seeds)

    def masks(rows):  # (S, K, N) float masks from a function of (split dict, model index)
        return np.stack([np.stack(r) for r in rows]).astype(np.float32)

    def per_model(values) -> np.ndarray:  # (S, K) of one value per model
        return np.tile(np.asarray(values, np.float32), (s_count, 1))

    def level(phase) -> float:
        own = parse_noise(phase[1]) if phase[1] else None
        return own.level if own else (noise.level if noise else 0.0)

    def weight(phase) -> float:
        return 1.0 if phase[2] is None else phase[2]

    # Pretraining: one model per seed and phase setting, on every training sample. It runs
    # even when no strategy starts from it: CKA and drift are measured against it.
    common = {  # what both phases' programs share
        "chunk": max(1, train.snapshot_every), "noise": noise, "batch_size": train.batch_size,
        "sampling": train.sampling, "mesh": mesh,
    }  # fmt: skip
    pre_train = masks([[sp.is_train for _ in phases] for sp in first])
    pre_keys = jax.numpy.stack(
        [
            jax.numpy.stack([jax.random.split(jax.random.fold_in(r, 1), 1)[0] for _ in phases])
            for r in roots
        ]
    )
    pre_params = stack([stack([init for _ in phases]) for init in inits])
    pretrained, pre_last = train_groups(
        model,
        pre_params,
        Batch(x, y, pre_train, pre_train),
        ce_weight=np.zeros((s_count, len(phases))),
        recon_weight=np.ones((s_count, len(phases))),
        learning_rate=per_model([p[0] for p in phases]),
        noise_level=per_model([level(p) for p in phases]),
        beta=per_model([weight(p) for p in phases]) if config.betas else None,
        steps=train.pretrain_steps,
        keys=pre_keys,
        **common,
        on_progress=None
        if progress is None
        else (lambda d: progress("pretrain", d, train.pretrain_steps)),
    )
    pre_bad = _diverged(pre_last, pretrained)  # (S, phases)

    # Fine-tuning: every model of the grid, each from its seed's start.
    starts = []
    for i in range(s_count):
        row = []
        for m in models:
            if STRATEGIES[m.strategy].from_pretrained:
                ae = unstack(unstack(pretrained, i), phases.index(m.phase))
                row.append(model.with_head_of(ae, inits[i]))
            else:
                row.append(inits[i])
        starts.append(stack(row))
    ft_keys = jax.numpy.stack(
        [jax.random.split(jax.random.fold_in(r, 2), len(models)) for r in roots]
    )
    recon_rows = masks([[sp[m.labels].is_train for m in models] for sp in splits])
    label_rows = masks([[sp[m.labels].is_labelled for m in models] for sp in splits])
    finetuned, ft_last = train_groups(
        model,
        stack(starts),
        Batch(x, y, recon_rows, label_rows),
        ce_weight=np.ones((s_count, len(models))),
        recon_weight=per_model([m.recon_weight or 0.0 for m in models]),
        learning_rate=per_model([m.phase[0] for m in models]),
        noise_level=per_model([level(m.phase) for m in models]),
        beta=per_model([weight(m.phase) for m in models]) if config.betas else None,
        steps=train.finetune_steps,
        keys=ft_keys,
        **common,
        on_progress=None
        if progress is None
        else (lambda d: progress("finetune", d, train.finetune_steps)),
    )
    ft_bad = _diverged(ft_last, finetuned)  # (S, K)

    rows = []
    apply = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))
    for i, seed in enumerate(seeds):
        pre_code, pre_recon, _ = (np.asarray(a) for a in apply(unstack(pretrained, i), x[i]))
        codes, recons, logits = (np.asarray(a) for a in apply(unstack(finetuned, i), x[i]))
        for k, m in enumerate(models):
            split = splits[i][m.labels]
            j = phases.index(m.phase)
            # A model whose loss stopped being finite (or whose pretraining did: its
            # measures are relative to it) keeps its row, marked, with no numbers.
            bad = bool(ft_bad[i, k] or pre_bad[i, j])
            numbers = (
                dict.fromkeys(METRICS)
                if bad
                else _model_metrics(
                    split, codes[k], recons[k], logits[k], pre_code[j], pre_recon[j]
                )
            )
            rows.append(
                {
                    **_settings(run, config, seed, m.labels, m.phase),
                    "kind": "aelab",
                    "strategy": m.strategy,
                    "recon_weight": m.recon_weight,
                    "diverged": bad,
                    **numbers,
                }
            )
        if config.baselines and baselines:
            for labels in config.labels:
                split = splits[i][labels]
                base = _settings(run, config, seed, labels, None)
                for name, value in _baselines(split, run).items():
                    rows.append(
                        {**base, "kind": "baseline", "strategy": name, "recon_weight": None,
                         "diverged": False, "test_accuracy": value}
                    )  # fmt: skip
    return rows


def _check_batch_size(run: RunConfig, n_train: int) -> None:
    if run.train.batch_size is not None and run.train.batch_size >= n_train:
        raise ConfigError(
            f"train.batch_size={run.train.batch_size} is not smaller than the {n_train:,} "
            "training samples; leave it unset to train on all of them at every step"
        )


def _diverged(last: np.ndarray, params) -> np.ndarray:
    """(S, K): which models' last loss or parameters stopped being finite."""
    bad = ~np.isfinite(last[..., 0])
    for leaf in jax.tree.leaves(params):
        bad |= ~np.isfinite(leaf.reshape(*leaf.shape[:2], -1)).all(axis=-1)
    return bad


def _settings(run, config, seed, labels, phase) -> dict[str, Any]:
    """A row's settings; ``phase`` (learning rate, noise, beta) is None for a baseline."""
    out: dict[str, Any] = {"seed": seed, "labels": "all" if labels is None else labels}
    if config.codes:
        out["code"] = run.model.code
    if config.noises:
        out["noise"] = None if phase is None else phase[1]
    if config.betas:
        out["beta"] = None if phase is None else phase[2]
    out["learning_rate"] = None if phase is None else phase[0]
    return out


def _model_metrics(split: Split, code, recon, logits, pre_code, pre_recon) -> dict[str, Any]:
    x, y, train, labelled = split.x, split.y, split.is_train, split.is_labelled
    test, unlabelled = ~train, train & ~labelled
    test_mse = metrics.reconstruction_mse(x[test], recon[test])
    return {
        "test_accuracy": metrics.accuracy(logits[test], y[test]),
        "train_accuracy": metrics.accuracy(logits[labelled], y[labelled]),
        "unlabelled_accuracy": metrics.accuracy(logits[unlabelled], y[unlabelled])
        if unlabelled.any()
        else None,
        "test_reconstruction_mse": test_mse,
        "reconstruction_drift": test_mse - metrics.reconstruction_mse(x[test], pre_recon[test]),
        "cka_to_pretrained": metrics.linear_cka(pre_code, code),
        "knn_accuracy": metrics.knn_accuracy(code, y, labelled, test),
    }


def _baselines(split: Split, run: RunConfig) -> dict[str, float]:
    """scikit-learn's methods on the split's labelled samples, scored on the held-out ones."""
    import warnings

    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.semi_supervised import LabelSpreading

    x, y, train, labelled = split.x, split.y, split.is_train, split.is_labelled
    test = ~train
    n_fit = int(labelled.sum())
    hidden = tuple(run.model.hidden) or (run.model.code,)
    models = {
        "logistic regression": LogisticRegression(max_iter=1000),
        "PCA + logistic regression": make_pipeline(
            PCA(n_components=min(run.model.code, x.shape[1], n_fit)),
            LogisticRegression(max_iter=1000),
        ),
        "MLP": MLPClassifier(hidden, max_iter=500, random_state=0),
        "k-nearest neighbours": KNeighborsClassifier(n_neighbors=min(5, n_fit)),
    }
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # LabelSpreading divides by zero for a held-out sample with no labelled mass among its
        # neighbours; it then predicts class 0, which the score counts as it is.
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        for name, model in models.items():
            out[name] = float(model.fit(x[labelled], y[labelled]).score(x[test], y[test]))
        spreading = LabelSpreading(kernel="knn", n_neighbors=min(7, int(train.sum()) - 1))
        partial = np.where(labelled, y, -1)[train]
        spreading.fit(x[train], partial)
        out["LabelSpreading"] = float(spreading.score(x[test], y[test]))
    return out


# -- the folder -----------------------------------------------------------------------------


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by the user; its folder keeps every finished slice."""

    def __init__(self, sweep_dir: Path, n_rows: int) -> None:
        super().__init__(f"sweep interrupted; {sweep_dir} keeps {n_rows} finished rows")
        self.sweep_dir = sweep_dir
        self.n_rows = n_rows


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` returns: the folder, every row, and the summary."""

    sweep_dir: Path
    config: SweepConfig
    results: Any  # pandas.DataFrame, one row per trained model or baseline fit
    summary: Any  # pandas.DataFrame, one row per setting, best test accuracy first
    figure: Path


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sweep(
    config: SweepConfig | None = None,
    *,
    out: str | Path = "sweeps",
    name: str | None = None,
    resume: str | Path | None = None,
    progress: ProgressFn | None = None,
    mesh: Mesh | None = None,
) -> SweepResult:
    """Train the grid ``config`` describes into a new sweep folder, or finish ``resume``.

    The folder is ``out/name`` (a timestamp by default). ``results.csv`` is rewritten after
    every slice of ``seeds_per_slice`` seeds, so an interrupted sweep loses at most the slice
    in training; ``resume`` (an existing sweep folder) reads its ``sweep.toml`` and trains
    only the seeds without rows. ``mesh`` spreads each slice's seeds over its devices.
    """
    import pandas as pd

    if resume is not None:
        sweep_dir = Path(resume)
        if not (sweep_dir / "sweep.toml").is_file():
            raise ConfigError(
                f"{str(sweep_dir)!r} is not a sweep folder (no sweep.toml); check the path"
            )
        config = load_sweep_config(sweep_dir / "sweep.toml")
        done = (  # settings as written ("none" stays text), empty cells as missing
            pd.read_csv(sweep_dir / "results.csv", keep_default_na=False, na_values=[""])
            if (sweep_dir / "results.csv").is_file()
            else pd.DataFrame()
        )
    else:
        config = SweepConfig() if config is None else config
        sweep_dir = resolve_run_dir(out, name)
        done = pd.DataFrame()

    # Everything that can be checked before training is checked before the folder exists:
    # the data of every variant, its split and labels for the first seed, the batch size.
    datasets: dict[str, Any] = {}
    for run in config.variants():
        key = repr(run.data)
        if key not in datasets:
            dataset = load_data(run.data)[0]
            # A sweep holds every seed's split in memory: a memory-mapped .npy is read once,
            # rather than scaled onto disk again for every seed and label count.
            datasets[key] = dataclasses.replace(dataset, x=np.array(dataset.x))
        first = _splits(run, datasets[key], config.seeds[0], config.labels)
        _check_batch_size(run, next(iter(first.values())).n_train)
    fresh = resume is None
    if fresh:
        sweep_dir.mkdir(parents=True)
        _write_atomic(sweep_dir / "sweep.toml", dump_sweep_config(config))

    rows: list[dict[str, Any]] = done.to_dict("records") if len(done) else []
    work = []
    codes_done: set[int] = set()
    for run in config.variants():
        # Baselines depend on the data and the code size only: once per code size.
        baselines = run.model.code not in codes_done
        codes_done.add(run.model.code)
        finished = _finished_seeds(done, run, config)
        todo = [s for s in config.seeds if s not in finished]
        for start in range(0, len(todo), config.seeds_per_slice):
            work.append((run, todo[start : start + config.seeds_per_slice], baselines))
    for n, (run, seeds, baselines) in enumerate(work, start=1):
        label = f"slice {n}/{len(work)}"
        slice_progress = None
        if progress is not None:
            slice_progress = lambda phase, d, t, label=label: progress(f"{label}: {phase}", d, t)  # noqa: E731
        try:
            rows.extend(
                _train_slice(
                    run, config, datasets[repr(run.data)], seeds, slice_progress, baselines, mesh
                )
            )
        except KeyboardInterrupt:
            raise SweepInterrupted(sweep_dir, len(rows)) from None
        except AelabError:
            if fresh and not rows:  # nothing finished: leave nothing behind
                shutil.rmtree(sweep_dir, ignore_errors=True)
            raise
        _write_atomic(sweep_dir / "results.csv", _frame(rows).to_csv(index=False))
    results = _frame(rows)
    if not (sweep_dir / "results.csv").is_file():
        _write_atomic(sweep_dir / "results.csv", results.to_csv(index=False))
    summary = summarise(results)
    _write_atomic(sweep_dir / "summary.csv", summary.to_csv(index=False))
    from aelab.plots import sweep_figure

    figure = sweep_dir / "sweep.png"
    tmp = sweep_dir / ".sweep.tmp.png"
    sweep_figure(results).savefig(tmp, dpi=110)
    os.replace(tmp, figure)
    from aelab.report import write_report

    write_report(sweep_dir)
    return SweepResult(sweep_dir, config, results, summary, figure)


def _finished_seeds(done, run: RunConfig, config: SweepConfig) -> set[int]:
    """Seeds whose rows of ``run``'s program are in ``done`` (a slice is saved whole)."""
    if not len(done):
        return set()
    mask = np.array(done["kind"] == "aelab", bool)
    if config.codes:
        mask &= np.array(done["code"].map(_setting_text) == str(run.model.code), bool)
    if config.noises:
        kinds = done["noise"].map(lambda v: _kind(_setting_text(v)))
        mask &= np.array(kinds == _kind(run.model.noise), bool)
    return {int(s) for s in done.loc[mask, "seed"]}


def _frame(rows: list[dict[str, Any]]):
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame["labels"] = frame["labels"].map(str)  # "all" or a count, the same after a resume
    front = ["seed", "labels", "kind", "strategy", "recon_weight", "learning_rate", "diverged"]
    front = [c for c in front if c in frame.columns]
    outer = [n[:-1] for n in OUTER if n[:-1] in frame.columns]
    rest = [c for c in METRICS if c in frame.columns]
    return frame[[*front[:2], *outer, *front[2:], *rest]]


SETTING_COLUMNS = (
    "kind",
    "strategy",
    "labels",
    "code",
    "noise",
    "beta",
    "recon_weight",
    "learning_rate",
)


def _setting_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


GAIN = "gain_over_supervised"


def _gain_over_supervised(frame, keys: list[str]):
    """Each row's held-out accuracy minus that of ``supervised`` with the same seed, labels
    and network (and learning rate, for aelab's rows): a paired difference, whose interval
    over seeds is much tighter than the difference of two means' intervals."""
    import pandas as pd

    sup = frame[(frame["kind"] == "aelab") & (frame["strategy"] == "supervised")]
    if sup.empty:
        return frame
    shared = ["seed", *(c for c in ("labels", "code", "noise", "beta") if c in keys)]
    ours = frame["kind"] == "aelab"
    same_lr = sup[[*shared, "learning_rate", "test_accuracy"]].rename(
        columns={"test_accuracy": "_sup"}
    )
    any_lr = sup.drop_duplicates(subset=shared)[[*shared, "test_accuracy"]].rename(
        columns={"test_accuracy": "_sup"}
    )
    parts = [
        frame[ours].merge(same_lr, on=[*shared, "learning_rate"], how="left"),
        frame[~ours].merge(any_lr, on=shared, how="left"),
    ]
    merged = pd.concat(parts, ignore_index=True)
    merged[GAIN] = pd.to_numeric(merged["test_accuracy"]) - pd.to_numeric(merged["_sup"])
    return merged.drop(columns="_sup")


def summarise(results):
    """Mean, standard deviation and 95% confidence interval (Student's t over seeds) of
    every metric, per setting, and of the paired gain over ``supervised`` (when it was
    trained); best mean held-out accuracy first."""
    import pandas as pd
    from scipy import stats

    keys = [c for c in SETTING_COLUMNS if c in results.columns]
    frame = results.copy()
    for c in keys:  # settings group as text; an empty one (a baseline's lambda) as ""
        frame[c] = frame[c].map(_setting_text).astype(object)
    # One row per seed and setting: a repeated row must not narrow the interval.
    frame = frame.drop_duplicates(subset=["seed", *keys], keep="last")
    frame = _gain_over_supervised(frame, keys)
    out = []
    for setting, group in frame.groupby(keys, sort=False):
        row = dict(zip(keys, setting, strict=True))
        row["n_seeds"] = int(group["seed"].nunique())
        if "diverged" in group:  # their numbers are missing, not counted in the means
            row["n_diverged"] = int(group["diverged"].astype(str).isin(["True", "1"]).sum())
        for metric in (*METRICS, GAIN):
            if metric not in group:
                continue
            values = pd.to_numeric(group[metric], errors="coerce").dropna().to_numpy(float)
            if not len(values):
                continue
            mean = float(values.mean())
            sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            half = (
                float(stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values)))
                if len(values) > 1
                else float("nan")
            )
            row[f"{metric}_mean"] = mean
            row[f"{metric}_sd"] = sd
            row[f"{metric}_ci95_low"] = mean - half
            row[f"{metric}_ci95_high"] = mean + half
        out.append(row)
    summary = pd.DataFrame(out)
    return summary.sort_values("test_accuracy_mean", ascending=False, kind="stable").reset_index(
        drop=True
    )

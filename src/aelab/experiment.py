"""The original experiment, end to end: config -> data -> pretraining -> strategies -> numbers.

:func:`train_and_evaluate` does the work in memory and returns plain arrays and dicts;
:func:`aelab.run` (in :mod:`aelab.rundir`) writes them into a run folder. Every strategy
starts from the same random initialisation (the one pretraining starts from), so the only
difference between ``supervised`` and ``finetune`` is the pretraining, and between
``finetune`` and ``finetune-recon`` the reconstruction term.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from aelab import metrics
from aelab.config import RunConfig, TrainConfig
from aelab.corruption import Noise, parse_noise
from aelab.data import Split, split_dataset
from aelab.datafiles import load_data
from aelab.errors import ConfigError, TrainingError
from aelab.greedy import greedy_pretrain
from aelab.models import Model, Params, VariationalAutoencoder, build_model
from aelab.parallel import Mesh
from aelab.strategies import STRATEGIES
from aelab.train import (
    Batch,
    PhaseDiverged,
    PhaseInterrupted,
    PhaseResult,
    PhaseState,
    apply_batched,
    errors_batched,
    stack,
    to_numpy,
    train_phase,
    unstack,
)

# (phase, steps done, steps in the phase); phases are "pretrain" and "finetune".
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Outcome:
    """Everything a run computed, in memory. Axis M of ``finetune`` follows ``strategies``."""

    config: RunConfig
    split: Split
    model: Model
    strategies: tuple[str, ...]
    pretrain: PhaseResult  # M = 1
    finetune: PhaseResult  # M = len(strategies)
    codes: dict[str, np.ndarray]  # "pca", "pretrained" and each strategy -> (N, code)
    metrics: dict  # as metrics.json holds it: undefined numbers are None
    seconds: dict[str, float]

    def params_of(self, stage: str) -> Params:
        """One model's parameters: ``"pretrained"`` or a strategy name."""
        if stage == "pretrained":
            phase, i = self.pretrain, 0
        else:
            phase, i = self.finetune, self.strategies.index(stage)
        return unstack(phase.params, i)


def train_and_evaluate(
    config: RunConfig,
    progress: ProgressFn | None = None,
    stop: Callable[[], bool] | None = None,
    resume: Interrupted | None = None,
    mesh: Mesh | None = None,
) -> Outcome:
    """Run the experiment that ``config`` describes and measure every stage.

    ``stop`` and ``resume``: see :func:`train_strategies` (an interrupted run raises
    :class:`Interrupted`; resuming it gives the uninterrupted run's numbers). ``mesh``: train
    data-parallel over its devices (:func:`aelab.train.train_phase`)."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    dataset, dropped = load_data(config.data)
    split = split_dataset(
        dataset,
        config.data.test_size,
        config.split_seed,
        labels=config.data.labels,
        scaling=config.data.scaling,
    )
    seconds["data"] = time.perf_counter() - t0

    _check_snapshot_size(config, n_samples=len(split.y))
    _check_batch_size(config, n_train=split.n_train)
    _check_streaming(config, split)
    fingerprint = data_fingerprint(split)
    if resume is not None and resume.fingerprint and resume.fingerprint != fingerprint:
        raise ConfigError(
            f"the data of {config.data.dataset!r} is not what the interrupted run trained on "
            "(a file changed since); resuming needs the same data, or start a new run"
        )
    model = build_model(config.model, split.x.shape[1], split.dataset.n_classes)
    batch = Batch.from_split(split.x, split.y, split.is_train, split.is_labelled)
    strategies = tuple(config.strategies)
    try:
        trained = train_strategies(
            model,
            batch,
            config.train,
            strategies,
            seed=config.seed,
            noise=parse_noise(config.model.noise),
            progress=progress,
            stop=stop,
            resume=resume,
            mesh=mesh,
        )
    except Interrupted as exc:
        exc.fingerprint = fingerprint
        raise
    except Diverged as exc:  # what a checkpoint of the last good weights needs
        exc.model = model
        exc.info = {
            "feature_names": list(split.dataset.feature_names),
            "class_names": list(split.dataset.class_names),
            "scaler_mean": split.mean.tolist(),
            "scaler_scale": split.scale.tolist(),
        }
        raise
    pretrain, finetune = trained.pretrain, trained.finetune
    assert pretrain is not None  # a run always pretrains: the figure shows the stage
    seconds.update(trained.seconds)

    t0 = time.perf_counter()
    codes, result = _evaluate(model, split, strategies, pretrain, finetune)
    result["data"]["n_dropped_missing"] = dropped
    seconds["metrics"] = time.perf_counter() - t0
    return Outcome(config, split, model, strategies, pretrain, finetune, codes, result, seconds)


class Diverged(TrainingError):
    """A loss stopped being finite; the last parameters known good come with the error."""

    def __init__(
        self, message: str, phase: str, names: tuple[str, ...], params: Params, step: int
    ) -> None:
        super().__init__(message)
        self.phase, self.names, self.params, self.step = phase, names, params, step
        self.model: Model | None = None  # set by train_and_evaluate, with the data's info
        self.info: dict = {}


def _diverged(
    exc: PhaseDiverged, phase: str, names: tuple[str, ...], learning_rate: float
) -> Diverged:
    return Diverged(
        f"training diverged: the loss of {names[exc.model_index]} stopped being a finite number "
        f"at step {exc.step} of {phase}; lower the learning rate (--lr, now {learning_rate:g})",
        phase,
        names,
        exc.good_params,
        exc.good_step,
    )


class Interrupted(Exception):  # noqa: N818 (a stop the caller asked for, not an error)
    """Training stopped between two chunks: the phase, its state, and the finished
    pretraining when fine-tuning was the phase stopped."""

    def __init__(self, phase: str, state: PhaseState, pretrain: PhaseResult | None) -> None:
        super().__init__(f"{phase} stopped after {state.done} steps")
        self.phase = phase
        self.state = state
        self.pretrain = pretrain
        self.fingerprint = ""  # of the data it trained on (set by train_and_evaluate)


def data_fingerprint(split: Split) -> str:
    """A digest of exactly what training sees: the scaled inputs, labels and masks."""
    import hashlib

    digest = hashlib.sha256()
    for array in (split.x, split.y, split.is_train, split.is_labelled):
        for start in range(0, len(array), 65_536):  # the same digest, a memory-map chunk at a time
            digest.update(np.ascontiguousarray(array[start : start + 65_536]).tobytes())
        digest.update(str(array.shape).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Trained:
    """What :func:`train_strategies` leaves: pretraining (M = 1) and one model a strategy."""

    pretrain: PhaseResult | None  # None when it was skipped (``pretrain=False``)
    finetune: PhaseResult
    seconds: dict[str, float]


def train_strategies(
    model: Model,
    batch: Batch,
    train: TrainConfig,
    strategies: tuple[str, ...],
    *,
    seed: int,
    noise: Noise | None = None,
    progress: ProgressFn | None = None,
    pretrain: bool = True,
    stop: Callable[[], bool] | None = None,
    resume: Interrupted | None = None,
    mesh: Mesh | None = None,
) -> Trained:
    """Pretrain ``model`` on ``batch``, then fine-tune it with every strategy side by side.

    The random initialisation comes from ``seed``; every strategy starts from it (or from the
    pretrained autoencoder with the same fresh head). ``pretrain=False`` skips pretraining,
    for strategies that all start from random weights. Raises :class:`TrainingError` when a
    loss stops being finite.

    ``stop`` is asked between chunks of steps; when it says True, :class:`Interrupted` is
    raised with the state reached, and ``resume=`` that state finishes the same training with
    the same numbers. (Greedy pretraining cannot be interrupted this way: it stops at the end
    of its phase.)
    """
    specs = [STRATEGIES[s] for s in strategies]
    if not pretrain and any(s.from_pretrained for s in specs):
        raise ValueError(f"strategies {strategies} need pretraining")
    root = jax.random.key(seed)
    init = to_numpy(jax.jit(model.init)(root))

    def phase_progress(phase: str, total: int):
        return None if progress is None else (lambda done: progress(phase, done, total))

    seconds = {}
    t0 = time.perf_counter()
    pretrained = None
    common = {
        "learning_rate": train.learning_rate,
        "steps": train.pretrain_steps,
        "snapshot_every": train.snapshot_every,
        "key": jax.random.fold_in(root, 1),
        "noise": noise,
        "batch_size": train.batch_size,
        "sampling": train.sampling,
        "mesh": mesh,
    }
    resume_pre = resume.state if resume is not None and resume.phase == "pretrain" else None
    if resume is not None and resume.phase == "finetune":
        pretrained_phase = resume.pretrain
    elif not pretrain:
        pretrained_phase = None
    elif train.pretraining == "greedy":
        total = train.pretrain_steps * (len(model.hidden) + 1)
        try:
            pretrained_phase = greedy_pretrain(
                model, init, batch, **common, on_progress=phase_progress("pretrain", total)
            )
        except PhaseDiverged:  # a layer's weights alone make no checkpoint
            raise TrainingError(
                f"training diverged: a layer's reconstruction stopped being a finite number in "
                f"greedy pretraining; lower the learning rate (--lr, now {train.learning_rate:g})"
            ) from None
    else:
        try:
            pretrained_phase = train_phase(
                model,
                stack([init]),
                batch,
                ce_weight=np.zeros(1),
                recon_weight=np.ones(1),
                **common,
                on_progress=phase_progress("pretrain", train.pretrain_steps),
                stop=stop,
                resume=resume_pre,
            )
        except PhaseInterrupted as exc:
            raise Interrupted("pretrain", exc.state, None) from None
        except PhaseDiverged as exc:
            raise _diverged(exc, "pretraining", ("pretrained",), train.learning_rate) from None
    seconds["pretrain"] = time.perf_counter() - t0
    if pretrained_phase is not None:
        require_finite(pretrained_phase, "pretraining", ("the autoencoder",), train.learning_rate)
        # Fine-tuning replaces the encoder and decoder by the pretrained ones; the head
        # starts from the same random weights in every strategy.
        pretrained = model.with_head_of(unstack(pretrained_phase.params, 0), init)
    t0 = time.perf_counter()
    try:
        finetune = train_phase(
            model,
            stack([pretrained if s.from_pretrained else init for s in specs]),
            batch,
            ce_weight=np.ones(len(specs)),
            recon_weight=np.array([train.recon_weight if s.uses_recon else 0.0 for s in specs]),
            learning_rate=train.learning_rate,
            steps=train.finetune_steps,
            snapshot_every=train.snapshot_every,
            key=jax.random.fold_in(root, 2),
            noise=noise,
            batch_size=train.batch_size,
            sampling=train.sampling,
            mesh=mesh,
            on_progress=phase_progress("finetune", train.finetune_steps),
            stop=stop,
            resume=resume.state if resume is not None and resume.phase == "finetune" else None,
        )
    except PhaseInterrupted as exc:
        raise Interrupted("finetune", exc.state, pretrained_phase) from None
    except PhaseDiverged as exc:
        raise _diverged(exc, "fine-tuning", strategies, train.learning_rate) from None
    seconds["finetune"] = time.perf_counter() - t0
    require_finite(finetune, "fine-tuning", strategies, train.learning_rate)
    return Trained(pretrained_phase, finetune, seconds)


MAX_SNAPSHOT_BYTES = 2 * 2**30
REFERENCE_SAMPLES = 20_000


def _check_snapshot_size(config: RunConfig, n_samples: int) -> None:
    """Refuse settings whose code snapshots would not fit comfortably in memory."""
    t = config.train
    per_snapshot = 4 * n_samples * config.model.code  # float32 codes of every sample
    count = (-(-t.pretrain_steps // t.snapshot_every) + 1) + len(config.strategies) * (
        -(-t.finetune_steps // t.snapshot_every) + 1
    )
    if count * per_snapshot > MAX_SNAPSHOT_BYTES:
        every = math.ceil(
            per_snapshot
            * (t.pretrain_steps + len(config.strategies) * t.finetune_steps)
            / (MAX_SNAPSHOT_BYTES - per_snapshot * (1 + len(config.strategies)))
        )
        raise ConfigError(
            f"train.snapshot_every={t.snapshot_every} would keep {count:,} snapshots of "
            f"{n_samples:,} codes ({count * per_snapshot / 2**30:.1f} GiB); use "
            f"--snapshot-every {every} or more"
        )


def _check_streaming(config: RunConfig, split: Split) -> None:
    """Data on disk (a memory-mapped ``.npy``) trains only as it can be read: in minibatches
    of shuffled epochs, end to end."""
    if not isinstance(split.x, np.memmap):
        return
    name, train = config.data.dataset, config.train
    if train.batch_size is None:
        raise ConfigError(
            f"{name}: data read from disk trains in minibatches; give --batch-size, e.g. 256"
        )
    if train.sampling != "epochs":
        raise ConfigError(
            f"{name}: data read from disk trains in shuffled epochs; leave --sampling (or "
            "train.sampling) at epochs"
        )
    if train.pretraining == "greedy":
        raise ConfigError(
            f"{name}: greedy pretraining needs the data in memory; use --pretraining end-to-end"
        )


def _check_batch_size(config: RunConfig, n_train: int) -> None:
    size = config.train.batch_size
    if size is not None and size >= n_train:
        raise ConfigError(
            f"train.batch_size={size} is not smaller than the {n_train:,} training samples; "
            "leave it unset to train on all of them at every step"
        )


def require_finite(
    result: PhaseResult, phase: str, names: tuple[str, ...], learning_rate: float
) -> None:
    """Stop with a clear message when a model's loss or code stopped being a number."""
    loss = result.history[..., 0]  # (M, steps)
    bad = ~np.isfinite(loss)
    broken = bad.any(axis=1) | ~np.isfinite(result.snapshots[-1]).all(axis=(1, 2))
    if not broken.any():
        return
    first = np.where(bad.any(axis=1), bad.argmax(axis=1), loss.shape[1])  # (M,)
    i = int(np.argmin(np.where(broken, first, np.iinfo(np.int64).max)))
    when = f"at step {first[i] + 1}" if first[i] < loss.shape[1] else "in its last step"
    raise TrainingError(
        f"training diverged: the loss of {names[i]} stopped being a finite number {when} of "
        f"{phase}; lower the learning rate (--lr, now {learning_rate:g})"
    )


def _evaluate(
    model: Model,
    split: Split,
    strategies: tuple[str, ...],
    pretrain: PhaseResult,
    finetune: PhaseResult,
) -> tuple[dict[str, np.ndarray], dict]:
    x, y, is_train, labelled = split.x, split.y, split.is_train, split.is_labelled
    test, unlabelled = ~is_train, is_train & ~labelled
    if isinstance(x, np.memmap):  # from disk: each sample's error, never (M, N, D) outputs
        outputs = functools.partial(errors_batched, model)

        def mse(errors: np.ndarray, rows: np.ndarray) -> float:
            return float(errors[rows].mean())
    else:
        outputs = functools.partial(apply_batched, model)

        def mse(recon: np.ndarray, rows: np.ndarray) -> float:
            return metrics.reconstruction_mse(x[rows], recon[rows])

    # kNN, probe and silhouette of a code: on a seeded sample above REFERENCE_SAMPLES samples
    # (a kNN of a million 32-D codes would take longer than the training).
    picked = metrics.seeded_rows(labelled, REFERENCE_SAMPLES)

    def quality(code: np.ndarray) -> dict[str, float]:
        return metrics.code_quality(code[picked], y[picked], labelled[picked], test[picked])

    pre_code, pre_recon, _ = (a[0] for a in outputs(pretrain.params, x))
    ft_codes, ft_recons, ft_logits = outputs(finetune.params, x)

    pre_test_mse = mse(pre_recon, test)
    result: dict = {
        "data": {
            "dataset": split.dataset.name,
            "n_train": split.n_train,
            "n_labelled": int(labelled.sum()),
            "n_unlabelled": int(unlabelled.sum()),
            "n_test": int(test.sum()),
            "n_features": int(x.shape[1]),
            "n_classes": split.dataset.n_classes,
            "class_names": list(split.dataset.class_names),
        },
        "pretrained": {
            "train_reconstruction_mse": mse(pre_recon, is_train),
            "test_reconstruction_mse": pre_test_mse,
            **quality(pre_code),
        },
        "strategies": {},
    }
    if len(picked) < len(y):  # say so where the numbers are
        result["data"]["code_metrics_sample"] = len(picked)
    result["references"], pca = _references(split, model.code)
    codes = {"pca": pca, "pretrained": pre_code}
    for i, name in enumerate(strategies):
        code, recon, logits = ft_codes[i], ft_recons[i], ft_logits[i]
        start = finetune.snapshots[0, i]
        test_mse = mse(recon, test)
        result["strategies"][name] = {
            "train_accuracy": metrics.accuracy(logits[labelled], y[labelled]),
            "test_accuracy": metrics.accuracy(logits[test], y[test]),
            "train_reconstruction_mse": mse(recon, is_train),
            "test_reconstruction_mse": test_mse,
            "reconstruction_drift": test_mse - pre_test_mse,
            "cka_to_pretrained": metrics.linear_cka(pre_code, code),
            "cka_to_start": metrics.linear_cka(start, code),
            "mean_displacement": metrics.mean_displacement(start, code),
            **quality(code),
        }
        if unlabelled.any():  # how the labels it never saw come out
            result["strategies"][name]["unlabelled_accuracy"] = metrics.accuracy(
                logits[unlabelled], y[unlabelled]
            )
        codes[name] = code
    if isinstance(model, VariationalAutoencoder):  # the ELBO's other term
        kl = jax.jit(jax.vmap(model.kl, in_axes=(0, None)))
        rows = np.flatnonzero(test)

        def test_kl(params) -> jax.Array:  # (M, n_test), computed in blocks of rows
            blocks = [
                kl(params, np.asarray(x[rows[i : i + 65_536]])) for i in range(0, len(rows), 65_536)
            ]
            return jax.numpy.concatenate(blocks, axis=1)

        result["pretrained"]["test_kl"] = float(test_kl(pretrain.params)[0].mean())
        for name, value in zip(strategies, test_kl(finetune.params).mean(axis=1), strict=True):
            result["strategies"][name]["test_kl"] = float(value)
    return codes, _nan_to_none(result)


def _nan_to_none(value):
    """The metrics as JSON can hold them: an undefined number (NaN) becomes ``None``."""
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _references(split: Split, code_size: int) -> tuple[dict[str, dict[str, float]], np.ndarray]:
    """Codes that need no training: two raw features, PCA to the code size, all features.

    Also returns the PCA projection (N, max(2, code size) or fewer) fitted on the training part;
    its first ``code_size`` columns are the reference code, its first two the plotted ones.
    """
    from sklearn.decomposition import PCA

    x, y, is_train = split.x, split.y, split.is_train
    fit, test = split.is_labelled, ~is_train
    n_components = min(max(2, code_size), x.shape[1], int(is_train.sum()))
    # Above REFERENCE_SAMPLES samples, PCA is fitted and every code scored on a seeded sample
    # of that size (a kNN over every raw feature of every sample would not finish).
    picked = metrics.seeded_rows(fit, REFERENCE_SAMPLES)
    pca = PCA(n_components=n_components).fit(np.asarray(x[picked[is_train[picked]]]))
    projection = np.concatenate(
        [pca.transform(np.asarray(x[i : i + 65_536])) for i in range(0, len(x), 65_536)]
    )

    def quality(code: np.ndarray) -> dict[str, float]:
        return metrics.code_quality(code[picked], y[picked], fit[picked], test[picked])

    references = {
        "raw": quality(np.asarray(x[:, :2])),
        "pca": {
            "n_components": min(code_size, n_components),
            **quality(projection[:, :code_size]),
        },
        "all_features": metrics.code_quality(
            np.asarray(x[picked]), y[picked], fit[picked], test[picked]
        ),  # x[picked]: only the sampled rows are read
    }
    return references, projection.astype(np.float32)

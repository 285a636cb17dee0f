"""What both estimators share: their parameters (the settings of ``aelab run``), scaling,
seeds, training and inference."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.cache import enable_compilation_cache
from aelab.config import ModelConfig, RunConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.estimators.fitting import Watch, fit_plan
from aelab.training.inference import apply_batched
from aelab.training.plan import FINETUNE, PRETRAIN, SeedData, check_batch_size, make_plan
from aelab.training.trees import stack

SCALINGS = ("standard", "minmax", "none")
# Settings of aelab run that are not the estimators' (a run's snapshots and reference stage;
# fine-tuning's for the transformer, which only pretrains).
_NOT_PARAMETERS = {"snapshot_every", "pretrained_reference"}
_FINE_TUNING = ("finetune_steps", "recon_weight")
# With early stopping, the watched phase runs in this many chunks, and the held-out score is
# checked after each: often enough to stop near the best, seldom enough to cost little.
CHECKS = 50


def parameters(*, fine_tuning: bool) -> list[inspect.Parameter]:
    """The estimators' parameters: every model setting, the training settings, the
    estimator's own; keyword-only, with the config's defaults."""
    fields = [*dataclasses.fields(ModelConfig), *dataclasses.fields(TrainConfig)]
    skip = _NOT_PARAMETERS | (set() if fine_tuning else set(_FINE_TUNING))
    own = [("scaling", "standard"), ("random_state", None), ("verbose", 0), ("warm_start", False),
        ("early_stopping", False), ("validation_fraction", 0.1), ("n_iter_no_change", 10),
        ("tol", 1e-4), ("image_shape", None),
    ]  # fmt: skip
    return [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in [*((f.name, f.default) for f in fields if f.name not in skip), *own]
    ]


def make_init(parameters: list[inspect.Parameter]) -> Callable:
    """An ``__init__`` that stores its arguments, with ``parameters`` as its signature (what
    scikit-learn's ``get_params`` reads)."""
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *parameters]
    )

    def __init__(self, *args, **kwargs) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


class AutoencoderBase(BaseEstimator):
    """What both estimators share: their settings as configs, scaling, seeds, inference."""

    def _config(self, strategies: tuple[str, ...], watched: str) -> RunConfig:
        """The settings as a run config, checked by the same rules as ``aelab run``'s; with
        early stopping, the phase of ``watched`` steps runs in :data:`CHECKS` chunks."""
        model = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(ModelConfig)}
        if isinstance(model["hidden"], list | tuple | np.ndarray):
            model["hidden"] = tuple(plain(h) for h in model["hidden"])
        train = {
            f.name: plain(getattr(self, f.name))
            for f in dataclasses.fields(TrainConfig)
            if hasattr(self, f.name) and f.name not in _NOT_PARAMETERS
        }
        config = RunConfig(
            seed=self._seed(),
            strategies=strategies,
            model=ModelConfig(**model),
            train=TrainConfig(**train),
        )
        self._check_stopping()
        t = config.train  # one chunk: an estimator keeps no snapshots between
        chunk = max(t.pretrain_steps, t.finetune_steps)
        if self.early_stopping:
            chunk = max(getattr(t, watched) // CHECKS, 1)
        return dataclasses.replace(config, train=dataclasses.replace(t, snapshot_every=chunk))

    def _check_stopping(self) -> None:
        """Early stopping's settings, checked whether it is on or not."""
        f, n, tol = self.validation_fraction, self.n_iter_no_change, self.tol
        if isinstance(f, bool) or not isinstance(f, int | float | np.number) or not 0 < f < 1:
            raise ConfigError(
                f"validation_fraction must be a number > 0 and < 1 (the share of the samples, "
                f"the labelled ones for a classifier, held out for early stopping), got {f!r}; "
                "0.1 is the default"
            )
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ConfigError(
                f"n_iter_no_change must be an integer >= 1 (checks without improvement before "
                f"early stopping stops), got {n!r}; 10 is the default"
            )
        if isinstance(tol, bool) or not isinstance(tol, int | float | np.number) or tol < 0:
            raise ConfigError(f"tol must be a number >= 0, got {tol!r}; 1e-4 is the default")

    def _hold_out(
        self, seed: int, among: np.ndarray, strata: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The samples to train on and, with early stopping, those held out: a
        ``validation_fraction`` of the samples ``among`` (stratified by ``strata``)."""
        if not self.early_stopping:
            return np.arange(len(among)), None
        candidates = np.flatnonzero(among)
        f = float(self.validation_fraction)
        try:
            _, held = train_test_split(
                candidates,
                test_size=f,
                stratify=None if strata is None else strata[candidates],
                random_state=seed,
            )
        except ValueError as exc:  # too few samples (of a class) to hold some out
            what = "labelled samples, stratified by class" if strata is not None else "samples"
            raise ConfigError(
                f"early_stopping: validation_fraction={f:g} of the {len(candidates)} {what} "
                f"cannot be held out ({exc}); raise validation_fraction, fit more samples, "
                "or set early_stopping=False"
            ) from None
        keep = np.ones(len(among), bool)
        keep[held] = False
        return np.flatnonzero(keep), np.sort(held)

    def _seed(self) -> int:
        """``random_state`` as a seed: ``None`` is 0, so that fits are reproducible."""
        state = self.random_state
        if state is None:
            return 0
        if isinstance(state, np.random.RandomState):
            return int(state.randint(0, 2**31 - 1))
        if isinstance(state, bool) or not isinstance(state, int | np.integer) or state < 0:
            raise ConfigError(
                f"random_state must be None, an integer >= 0 or a RandomState, got {state!r}"
            )
        return int(state) % 2**32

    def _fit_scaling(self, X: np.ndarray) -> np.ndarray:
        if self.scaling not in SCALINGS:
            raise ConfigError(
                f"scaling: unknown scaling {self.scaling!r}; choose one of {', '.join(SCALINGS)}"
            )
        if self.scaling == "standard":
            shift, scale = X.mean(axis=0), X.std(axis=0)
        elif self.scaling == "minmax":
            shift, scale = X.min(axis=0), np.ptp(X, axis=0)
        else:
            shift, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        self.shift_ = shift
        self.scale_ = np.where(scale > 0, scale, 1.0)  # constant columns stay constant
        return self._scaled(X)

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.shift_) / self.scale_).astype(np.float32)

    def _train(self, config: RunConfig, x, labels, labelled, n_classes: int, finetune: bool,
               held: tuple[np.ndarray, np.ndarray] | None = None):  # fmt: skip
        """Train the plan of ``config`` (one strategy, or pretraining alone) on all of ``x``,
        watching the score of the ``held`` out samples (inputs, targets) when given;
        compiled programs go to (and come from) the compilation cache (:mod:`aelab.cache`)."""
        check_batch_size(config.train.batch_size, len(x))
        enable_compilation_cache()
        pretrain = "needed" if finetune else "only"
        shape = () if self.image_shape is None else tuple(plain(s) for s in self.image_shape)
        the_plan = make_plan(config, x.shape[1], n_classes, pretrain=pretrain, input_shape=shape)
        the_plan = dataclasses.replace(the_plan, snapshots=False, lr_setting="learning_rate")
        data = SeedData(x, labels, np.ones(len(x), bool), {config.data.labels: labelled})
        start = None
        if self._warm():
            if the_plan.model != self.model_:
                raise ValueError(
                    "warm_start=True continues the fitted model, but this fit's settings make "
                    f"another ({_differences(the_plan.model, self.model_)}); keep the model's "
                    "settings, or set warm_start=False"
                )
            start = self.params_
        watch = None
        if held is not None:
            model = the_plan.model
            watch = Watch(
                FINETUNE if finetune else PRETRAIN,
                lambda params: self._validation_score(model, params, *held),
                int(self.n_iter_no_change),
                float(self.tol),
            )
        fitted = fit_plan(the_plan, data, start=start, watch=watch)
        self.validation_scores_ = None if watch is None else watch.scores
        self.best_validation_score_ = None if watch is None else watch.best_score
        self.model_ = the_plan.model
        self.params_ = fitted.params
        self.loss_curve_ = fitted.loss_curve
        self.n_iter_ = len(fitted.loss_curve)
        if self.verbose:
            for line in fitted.lines:
                print(f"{type(self).__name__} {line}", file=sys.stderr)

    def _warm(self) -> bool:
        """Whether this fit continues the fitted model (``warm_start`` and fitted)."""
        return bool(self.warm_start) and hasattr(self, "params_")

    def _apply(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        codes, recons, logits = apply_batched(self.model_, stack([self.params_]), self._scaled(X))
        return codes[0], recons[0], logits[0]

    def transform(self, X) -> np.ndarray:
        """The code (n_samples, code) of every sample of ``X``."""
        return self._apply(X)[0].astype(np.float64)


def _differences(new, fitted) -> str:
    """What differs between two models, for messages: ``code 3, fitted 2``."""
    if type(new) is not type(fitted):
        return f"a {type(new).__name__}, fitted a {type(fitted).__name__}"
    return "; ".join(
        f"{f.name} {getattr(new, f.name)!r}, fitted {getattr(fitted, f.name)!r}"
        for f in dataclasses.fields(new)
        if getattr(new, f.name) != getattr(fitted, f.name)
    )


def plain(value):
    """NumPy scalars (from ``np.arange`` grids, scipy distributions) as Python numbers."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value

"""A sweep's slice: every model of a few seeds in one plan, measured, one row each.

Each seed's split and labelled samples are exactly those of ``aelab run --seed S --labels L``,
and so are its initial weights and its epochs' minibatches: a deterministic model's row equals
that run's numbers. Baselines from scikit-learn run on the same splits and label masks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aelab.analysis.baselines import baseline_accuracies
from aelab.analysis.summary import METRICS
from aelab.config import RunConfig, SweepConfig, max_steps, noise_kind
from aelab.data import Dataset, Split, split_dataset
from aelab.training.evaluate import Outputs, knn_quality, model_metrics
from aelab.training.parallel import Mesh
from aelab.training.plan import (
    Member,
    ProgressFn,
    SeedData,
    check_batch_size,
    make_plan,
    train_plan,
)
from aelab.training.trees import unstack


def seed_splits(run: RunConfig, dataset: Dataset, seed: int, labels) -> dict[Any, Split]:
    """Each label count's split for ``seed``: the same samples and scaling, other masks."""
    split_seed = seed if run.data.split_seed is None else run.data.split_seed
    return {
        n: split_dataset(
            dataset,
            run.data.test_size,
            split_seed,
            labels=n,
            scaling=run.data.scaling,
            impute=run.data.impute,
        )
        for n in labels
    }


def train_slice(
    run: RunConfig,
    config: SweepConfig,
    dataset: Dataset,
    seeds: list[int],
    progress: ProgressFn | None = None,
    baselines: bool = True,
    mesh: Mesh | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """Train every model of ``seeds`` (one group a seed) of ``run``'s program and return
    their result rows (and the baselines' when ``baselines``); ``stop`` is asked after every
    chunk of steps, and may raise to stop."""
    splits = [seed_splits(run, dataset, s, config.labels) for s in seeds]
    first = [sp[config.labels[0]] for sp in splits]
    check_batch_size(run.train.batch_size, first[0].n_train)
    kind = noise_kind(run.model.noise)
    the_plan = make_plan(
        run, first[0].x.shape[1], dataset.n_classes, seeds=seeds, labels=config.labels,
        recon_weights=config.recon_weights, learning_rates=config.learning_rates,
        noises=[n for n in config.noises if noise_kind(n) == kind], betas=config.betas,
        input_shape=dataset.image_shape,
    )  # fmt: skip
    # A sweep keeps no snapshots or histories, and a diverging model only marks its row.
    the_plan = dataclasses.replace(
        the_plan, snapshots=False, history=False, stop_on_divergence=False
    )
    trained = train_plan(
        the_plan, [SeedData.from_splits(sp) for sp in splits], progress=progress, stop=stop,
        mesh=mesh,
    )  # fmt: skip
    rows = []
    for i, seed in enumerate(seeds):
        rows += _model_rows(run, config, the_plan, trained, i, seed, splits[i])
        if config.baselines and baselines:
            rows += _baseline_rows(run, config, seed, splits[i])
    return rows


def _model_rows(run, config, the_plan, trained, i: int, seed: int, splits: dict) -> list[dict]:
    """The rows of seed ``i``'s models: settings, and numbers unless it diverged."""
    model, pre, fine = the_plan.model, trained.pretrain, trained.finetune
    x = next(iter(splits.values())).x
    pre_out = Outputs.of(model, unstack(pre.params, i), x)
    out = Outputs.of(model, unstack(fine.params, i), x)
    rows = []
    scorers = {labels: knn_quality(split) for labels, split in splits.items()}
    for k, m in enumerate(the_plan.finetune.members):
        split, j = splits[m.labels], m.setting
        # A model whose loss stopped being finite (or whose pretraining did: its measures are
        # relative to it) keeps its row, marked, with no numbers.
        bad = bool(fine.diverged[i, k] or pre.diverged[i, j])
        numbers = dict.fromkeys(METRICS)  # every metric a column, empty where undefined
        if not bad:
            pre_mse = pre_out.mse(j, ~split.is_train)
            measured = model_metrics(split, out, k, pre_out.codes[j], pre_mse, scorers[m.labels])
            numbers.update({name: measured.get(name) for name in METRICS})
        rows.append(
            {**_settings(run, config, seed, m.labels, m), "kind": "aelab", "strategy": m.name,
             "recon_weight": m.recon_setting, "diverged": bad, **numbers}
        )  # fmt: skip
    return rows


def _baseline_rows(run, config, seed: int, splits: dict) -> list[dict]:
    """scikit-learn's baselines on each label count's split of a seed."""
    rows = []
    for labels in config.labels:
        split = splits[labels]
        base = _settings(run, config, seed, labels, None)
        accuracies = baseline_accuracies(
            split.x, split.y, split.is_train, split.is_labelled,
            tuple(run.model.hidden), run.model.code, max_steps(),
        )  # fmt: skip
        for name, value in accuracies.items():
            rows.append(
                {**base, "kind": "baseline", "strategy": name, "recon_weight": None,
                 "diverged": False, "test_accuracy": value}
            )  # fmt: skip
    return rows


def _settings(run, config: SweepConfig, seed, labels, member: Member | None) -> dict[str, Any]:
    """A row's settings; ``member`` is None for a baseline."""
    out: dict[str, Any] = {"seed": seed, "labels": "all" if labels is None else labels}
    if config.codes:
        out["code"] = run.model.code
    if config.noises:
        out["noise"] = None if member is None else member.noise
    if config.betas:
        out["beta"] = None if member is None else member.beta
    out["learning_rate"] = None if member is None else member.learning_rate
    return out

"""Digits with 40 labels: aelab's semi-supervised strategies against LabelSpreading.

For each seed: the same stratified 50/50 split and the same 4 labelled training samples per
class (aelab's own split code picks them), the other 858 training samples unlabelled, 899 held
out. The peer is scikit-learn's ``LabelSpreading`` as in its label-propagation digits example
(RBF kernel, gamma 0.25, on the raw 0-16 pixel values), plus a kNN-kernel variant on
standardised pixels; both see the unlabelled training samples. Everyone is scored on the
held-out samples. aelab runs reduced step counts (see ``CONFIGS``) to keep the whole benchmark
near a quarter of an hour on two cores.

The ladder network trains as in Rasmus et al. (2015): minibatches of 100 unlabelled + 100
labelled samples, the paper's denoising-cost weights (1000 for the input, 10 for the first
layer, 0.1 above). Its two strategies start from random weights, so it pretrains one step.

    python benchmarks/bench_digits_labels.py [--seeds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import numpy as np
from sklearn.semi_supervised import LabelSpreading

import aelab
from aelab.data import load_dataset, split_dataset

LABELS_PER_CLASS = 4
CONFIGS = {
    "ladder 256-128, code 10, paper weights, batch 100": (
        ("supervised", "joint"),
        aelab.ModelConfig(
            family="ladder", hidden=(256, 128), code=10, activation="relu", ladder_weights="paper"
        ),
        aelab.TrainConfig(
            pretrain_steps=1,
            finetune_steps=4000,
            batch_size=100,
            snapshot_every=500,
            sampling="draws",  # as the recorded numbers were measured
        ),
    ),
    "denoising ae mask:0.25, code 10": (
        ("supervised", "finetune", "finetune-recon", "joint"),
        aelab.ModelConfig(hidden=(64, 32), code=10, activation="relu", noise="mask:0.25"),
        aelab.TrainConfig(pretrain_steps=2000, finetune_steps=4000, snapshot_every=500),
    ),
}


def label_spreading(seed: int) -> dict[str, float]:
    digits = load_dataset("digits")
    split = split_dataset(digits, 0.5, seed, labels=LABELS_PER_CLASS, scaling="standard")
    train, test = split.is_train, ~split.is_train
    partial = np.where(split.is_labelled, split.y, -1)[train]
    peers = {
        "LabelSpreading rbf (example)": (LabelSpreading(gamma=0.25, max_iter=20), digits.x),
        "LabelSpreading knn": (LabelSpreading(kernel="knn", n_neighbors=7, max_iter=100), split.x),
    }
    scores = {}
    for name, (model, x) in peers.items():
        model.fit(x[train], partial)
        scores[name] = float(model.score(x[test], split.y[test]))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as out:
        for seed in range(args.seeds):
            for name, score in label_spreading(seed).items():
                rows.setdefault(name, []).append(score)
            for label, (strategies, model, train) in CONFIGS.items():
                config = aelab.RunConfig(
                    seed=seed,
                    strategies=strategies,
                    data=aelab.DataConfig(dataset="digits", labels=LABELS_PER_CLASS),
                    model=model,
                    train=train,
                )
                t0 = time.perf_counter()
                result = aelab.run(config, out=out)
                seconds.setdefault(label, []).append(time.perf_counter() - t0)
                for s, m in result.metrics["strategies"].items():
                    rows.setdefault(f"{label}: {s}", []).append(m["test_accuracy"])
            print(f"seed {seed} done", flush=True)
    print(f"\n| method | held-out accuracy, mean ± sd over {args.seeds} seeds | per seed |")
    print("| --- | ---: | --- |")
    for name, values in sorted(rows.items(), key=lambda kv: -statistics.mean(kv[1])):
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        each = ", ".join(f"{v:.3f}" for v in values)
        print(f"| {name} | {statistics.mean(values):.3f} ± {sd:.3f} | {each} |")
    for label, values in seconds.items():
        print(f"{label}: {statistics.mean(values):.0f} s a run (all its strategies)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"accuracy": rows, "seconds": seconds}, f, indent=2)


if __name__ == "__main__":
    main()

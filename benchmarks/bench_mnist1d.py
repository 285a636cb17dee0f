"""MNIST-1D: aelab's fine-tuned deep autoencoder against the published baselines.

MNIST-1D (Greydanus 2020) publishes test accuracies of 32% (logistic regression), 68% (MLP)
and 94% (CNN) with all 4,000 training labels. This trains aelab's strategies on the package's
own 4,000 / 1,000 split with every label, then with 400 (40 per class, the other 3,600
training samples unlabelled), and prints held-out accuracy per strategy, next to scikit-learn's
logistic regression and MLP on the same split and labels.

    python benchmarks/bench_mnist1d.py [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

import aelab
from aelab.data import load_dataset, split_dataset

MODEL = aelab.ModelConfig(hidden=(256, 128), code=32, activation="relu", code_activation="relu")
STEPS = aelab.TrainConfig(pretrain_steps=2000, finetune_steps=4000, snapshot_every=1000)


def peers(labels: int | None, seed: int) -> dict[str, float]:
    split = split_dataset(load_dataset("mnist1d"), 0.5, seed, labels=labels)
    fit, test = split.is_labelled, ~split.is_train
    models = {
        "logistic regression (sklearn)": LogisticRegression(max_iter=2000),
        "MLP 256-128 (sklearn)": MLPClassifier((256, 128), max_iter=500, random_state=seed),
    }
    return {
        name: float(m.fit(split.x[fit], split.y[fit]).score(split.x[test], split.y[test]))
        for name, m in models.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for labels in (None, 40):
            config = aelab.RunConfig(
                seed=args.seed,
                data=aelab.DataConfig(dataset="mnist1d", labels=labels),
                model=MODEL,
                train=STEPS,
            )
            t0 = time.perf_counter()
            run = aelab.run(config, out=out)
            seconds = time.perf_counter() - t0
            key = "all 4,000 labels" if labels is None else "400 labels (40 per class)"
            results[key] = {
                **{s: m["test_accuracy"] for s, m in run.metrics["strategies"].items()},
                **peers(labels, args.seed),
                "seconds": seconds,
            }
            print(f"{key}: done in {seconds:.0f} s", flush=True)
    for key, row in results.items():
        print(f"\n{key}")
        for name, value in row.items():
            print(f"  {name:<32} {value:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

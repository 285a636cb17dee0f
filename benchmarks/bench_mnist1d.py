"""MNIST-1D: aelab's fine-tuned deep autoencoder against the published baselines.

MNIST-1D (Greydanus 2020) publishes test accuracies of 32% (logistic regression), 68% (MLP)
and 94% (CNN) with all 4,000 training labels. This trains aelab's strategies on the package's
own 4,000 / 1,000 split with every label, then with 400 (40 per class, the other 3,600
training samples unlabelled), and prints held-out accuracy per strategy, next to scikit-learn's
logistic regression and MLP on the same split and labels.

aelab trains as the published MLP did: Adam with learning rate 0.01, minibatches of 100,
6,000 steps (after 2,000 steps of pretraining); once as is, once with dropout 0.2 on the
hidden and code units. Each seed changes the initial weights, the
minibatches and, with 400 labels, which samples keep their label; the split is the package's.

    python benchmarks/bench_mnist1d.py [--seeds 5] [--only dropout] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

import aelab
from aelab.data import load_dataset, split_dataset

MODEL = aelab.ModelConfig(hidden=(256, 128), code=32, activation="relu", code_activation="relu")
STEPS = aelab.TrainConfig(
    pretrain_steps=2000,
    finetune_steps=6000,
    batch_size=100,
    sampling="draws",  # as the recorded numbers were measured
    learning_rate=0.01,
    snapshot_every=1000,
)
DROPOUT = aelab.ModelConfig(
    hidden=(256, 128), code=32, activation="relu", code_activation="relu", dropout=0.2
)
SETTINGS = {  # name: (labels per class, model)
    "all 4,000 labels": (None, MODEL),
    "all 4,000 labels, dropout 0.2": (None, DROPOUT),
    "400 labels (40 per class)": (40, MODEL),
}


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
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", help="run only the settings whose name contains this")
    parser.add_argument("--json")
    args = parser.parse_args()
    settings = {k: v for k, v in SETTINGS.items() if args.only is None or args.only in k}
    results: dict[str, dict[str, list[float]]] = {key: {} for key in settings}
    with tempfile.TemporaryDirectory() as out:
        for seed in range(args.seeds):
            for key, (labels, model) in settings.items():
                config = aelab.RunConfig(
                    seed=seed,
                    data=aelab.DataConfig(dataset="mnist1d", labels=labels),
                    model=model,
                    train=STEPS,
                )
                t0 = time.perf_counter()
                run = aelab.run(config, out=out)
                seconds = time.perf_counter() - t0
                row = {
                    **{s: m["test_accuracy"] for s, m in run.metrics["strategies"].items()},
                    **peers(labels, seed),
                    "aelab seconds (all 4 strategies)": seconds,
                }
                for name, value in row.items():
                    results[key].setdefault(name, []).append(value)
                print(f"seed {seed}, {key}: done in {seconds:.0f} s", flush=True)
    for key, row in results.items():
        print(f"\n{key}: held-out accuracy, mean ± sd over {args.seeds} seeds (per seed)")
        for name, values in row.items():
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            each = ", ".join(f"{v:.3f}" for v in values)
            print(f"  {name:<34} {statistics.mean(values):.3f} ± {sd:.3f}  ({each})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

"""The convolutional bars: MNIST-1D with every label against the published CNN (and mnist5k
with 100 labels).

MNIST-1D (Greydanus 2020) publishes test accuracies of 32% (logistic regression), 68% (MLP)
and 94% (CNN: three 1-D convolutions of 25 channels, then a linear layer) with all 4,000
training labels; aelab's dense best is 73.9% (``bench_mnist1d.py``). This trains
``--model conv-ae`` on the package's own 4,000 / 1,000 split: three convolutions of 25
channels, kernel 5, stride 2 (40 -> 20 -> 10 -> 5 positions), a 64-unit ReLU code, ReLU
everywhere, the decoder mirroring it with transposed convolutions. Adam at learning rate
0.01, minibatches of 100 drawn with replacement, ``--pretrain-steps`` then ``--finetune-steps``
(every strategy: supervised, finetune, finetune-recon, joint). Each seed changes the initial
weights and the minibatches; the split is always the package's.

    python benchmarks/bench_conv.py [--seeds 3] [--family conv-ae] [--json out.json]

Prints each strategy's held-out accuracy per seed, with each run's wall and CPU seconds.
The same script runs the mnist5k bar (100 labels, 10 a class; 1,000 held out; 2-D
convolutions of 3x3 on the 28x28 digits)::

    python benchmarks/bench_conv.py --dataset mnist5k --labels 10 --test-size 1000 \
        --conv 16,32 --kernel-size 3 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import aelab


def config(seed: int, args: argparse.Namespace) -> aelab.RunConfig:
    model = aelab.ModelConfig(
        family=args.family, conv=args.conv, kernel_size=args.kernel_size, stride=2, code=64,
        activation="relu", code_activation="relu", dropout=args.dropout,
    )  # fmt: skip
    train = aelab.TrainConfig(
        pretrain_steps=args.pretrain_steps, finetune_steps=args.finetune_steps,
        batch_size=100, sampling="draws", learning_rate=0.01,
        snapshot_every=args.finetune_steps,
    )  # fmt: skip
    test_size = 0.5 if args.test_size is None else args.test_size  # mnist1d: its own split
    data = aelab.DataConfig(dataset=args.dataset, labels=args.labels, test_size=test_size)
    strategies = tuple(args.strategies.split(","))
    return aelab.RunConfig(seed=seed, data=data, model=model, train=train, strategies=strategies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--family", default="conv-ae")
    parser.add_argument("--pretrain-steps", type=int, default=1000)
    parser.add_argument("--finetune-steps", type=int, default=3000)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--dataset", default="mnist1d")
    parser.add_argument("--labels", type=int, help="labels a class [all]")
    parser.add_argument("--test-size", type=int)
    parser.add_argument("--conv", default="25,25,25")
    parser.add_argument("--kernel-size", type=int, default=5)
    parser.add_argument("--strategies", default="supervised,finetune,finetune-recon,joint")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as out:
        for seed in range(args.seeds):
            c = config(seed, args)
            t0, c0 = time.perf_counter(), time.process_time()
            run = aelab.run(c, out=out)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            for s, m in run.metrics["strategies"].items():
                rows.setdefault(s, []).append(m["test_accuracy"])
            rows.setdefault("wall seconds (the run)", []).append(wall)
            rows.setdefault("CPU seconds (the run)", []).append(cpu)
            print(f"seed {seed}: {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
    print(f"\n{args.family} on {args.dataset}, held-out accuracy, mean ± sd over {args.seeds} "
          "seeds (per seed)")  # fmt: skip
    for name, values in rows.items():
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        each = ", ".join(f"{v:.3f}" for v in values)
        print(f"  {name:<28} {statistics.mean(values):.3f} ± {sd:.3f}  ({each})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(args), "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()

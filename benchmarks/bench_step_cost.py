"""Steady-state cost of a training step, compile excluded.

Runs the default experiment's two phases (5,000 pretraining steps of one model, 10,000
fine-tuning steps of the four strategies vectorised) several times in one process: the first
call compiles, the fastest later call is the step cost. Compare with the in-process loop of the
PyTorch peer that ``bench_iris_speed.py`` reports.

    python benchmarks/bench_step_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from aelab.data import load_dataset, split_dataset
from aelab.models.autoencoder import Autoencoder
from aelab.training.feeding import Batch
from aelab.training.trainer import train_phase
from aelab.training.trees import stack, to_numpy, unstack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    split = split_dataset(load_dataset("iris"), 0.5, seed=0)
    model = Autoencoder(n_inputs=4, n_classes=3)
    init = to_numpy(model.init(jax.random.key(0)))
    batch = Batch.from_split(split.x, split.y, split.is_train)
    common = {"learning_rate": 0.01, "snapshot_every": 100}

    def both_phases() -> tuple[float, float]:
        t0 = time.perf_counter()
        pre = train_phase(
            model, stack([init]), batch, ce_weight=[0.0], recon_weight=[1.0], steps=5000, **common
        )
        t1 = time.perf_counter()
        tuned = {**unstack(pre.params, 0), "head": init["head"]}
        train_phase(
            model, stack([init, tuned, tuned, init]), batch, ce_weight=np.ones(4),
            recon_weight=[0.0, 0.0, 1.0, 1.0], steps=10000, **common,
        )  # fmt: skip
        return t1 - t0, time.perf_counter() - t1

    first = both_phases()
    pre, fine = min((both_phases() for _ in range(args.repeats)), key=sum)
    print(f"first call (compile included): pretrain {first[0]:.3f} s, finetune {first[1]:.3f} s")
    print(f"pretrain, 1 model:  {pre:.4f} s for 5,000 steps = {pre / 5000 * 1e6:.1f} us a step")
    print(
        f"finetune, 4 models: {fine:.4f} s for 10,000 steps = {fine / 10000 * 1e6:.1f} us a step "
        f"({fine / 40000 * 1e6:.1f} us a model-step)"
    )


if __name__ == "__main__":
    main()

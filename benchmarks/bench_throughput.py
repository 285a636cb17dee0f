"""Minibatch throughput on CPU: a deep autoencoder 784-512-256-32 on 60,000 x 784 samples.

aelab trains it with ``train_phase`` and ``batch_size=256`` (pretraining: the reconstruction
error only; minibatches of shuffled epochs, the default ``sampling``: one order drawn on the
host every epoch, the steps inside the compiled program). The peer is a plain PyTorch (CPU)
loop of the same model, loss, optimiser (Adam, learning rate 0.001) and minibatch, with its
indices drawn by ``torch.randint`` each step
(with replacement: the cost of drawing indices is negligible on either side). Both run
``--short`` and ``--long`` steps after a warm-up; the difference of the two timings is the
cost of the extra steps alone (compile, the data's first copy and aelab's snapshot of every
sample's code cancel out), and samples per second = 256 * (long - short) / (time difference).

Compute efficiency: the FLOPs of a step (forward and backward matrix multiplies of the six
layers) times steps per second, against bare jitted matrix multiplies of the largest layer's
shapes, (256 x 784) @ (784 x 512) and back, chained inside one program on the same machine.

    python benchmarks/bench_throughput.py [--short 100] [--long 400] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from aelab.models.autoencoder import Autoencoder
from aelab.training.feeding import Batch
from aelab.training.trainer import train_phase
from aelab.training.trees import stack, to_numpy

N, D, HIDDEN, CODE, BATCH = 60_000, 784, (512, 256), 32, 256
SIZES = (D, *HIDDEN, CODE)


def step_flops() -> float:
    """FLOPs of one step's matrix multiplies: every layer of encoder and decoder forward (1x)
    and backward (2x: input and weight gradients), except the input gradient of the first
    layer, which no one needs; two FLOPs a multiply-add."""
    layers = list(zip(SIZES[:-1], SIZES[1:], strict=True))
    macs = sum(a * b for a, b in layers) * 2  # encoder + mirrored decoder, per sample
    first = SIZES[0] * SIZES[1]
    return 2.0 * BATCH * (3 * macs - first)


def aelab_seconds(x: np.ndarray, steps: int) -> float:
    model = Autoencoder(D, 1, hidden=HIDDEN, code=CODE, activation="relu", code_activation="linear")
    params = stack([to_numpy(model.init(jax.random.key(0)))])
    ones = np.ones(N, bool)
    batch = Batch.from_split(x, np.zeros(N, np.int32), ones, ones)
    t0 = time.perf_counter()
    train_phase(
        model, params, batch, ce_weight=np.zeros(1), recon_weight=np.ones(1),
        learning_rate=0.001, steps=steps, snapshot_every=steps, key=jax.random.key(1),
        batch_size=BATCH,
    )  # fmt: skip
    return time.perf_counter() - t0


def torch_seconds(x: np.ndarray, steps: int) -> float:
    import torch

    torch.manual_seed(0)
    layers: list = []
    sizes = (*SIZES, *SIZES[-2::-1])
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i not in (len(SIZES) - 2, len(sizes) - 2):  # linear code and output, as aelab's
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    data = torch.from_numpy(x)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, N, (BATCH,))
        xb = data[idx]
        loss = ((net(xb) - xb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def matmul_flops_per_second(
    repeats: int = 1000, shape: tuple[int, int, int] | None = None
) -> float:
    """A chain of (m x k) @ (k x n) and back, by default the largest layer's shapes
    (BATCH x 784) @ (784 x 512): each product needs the previous one, so nothing can be
    hoisted out of the loop; two multiplies per iteration, plus a negligible add."""
    m, k, n = (BATCH, D, HIDDEN[0]) if shape is None else shape
    a = jnp.asarray(np.random.default_rng(0).normal(size=(m, k)), jnp.float32)
    w = jnp.asarray(np.random.default_rng(1).normal(size=(k, n)) / np.sqrt(k), jnp.float32)

    @jax.jit
    def many(a, w):
        def body(h, _):
            return h + 1e-6 * ((h @ w) @ w.T), None

        return jax.lax.scan(body, a, length=repeats)[0]

    many(a, w).block_until_ready()
    t0 = time.perf_counter()
    many(a, w).block_until_ready()
    return 2 * 2.0 * m * k * n * repeats / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=100)
    parser.add_argument("--long", type=int, default=400)
    parser.add_argument("--threads", type=int, help="PyTorch threads [its default]")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    x = np.random.default_rng(0).random((N, D), dtype=np.float32)
    extra = args.long - args.short
    results = {}
    for name, fn in (("aelab", aelab_seconds), ("torch", torch_seconds)):
        fn(x, args.short)  # warm-up: compiles, first copies
        fn(x, args.long)
        short, long = fn(x, args.short), fn(x, args.long)
        results[name] = BATCH * extra / (long - short)
        print(f"{name}: {short:.2f} s for {args.short} steps, {long:.2f} s for {args.long}; "
              f"{results[name]:,.0f} samples/s", flush=True)  # fmt: skip
    peak = matmul_flops_per_second()
    achieved = step_flops() * results["aelab"] / BATCH
    print(f"\nthroughput ratio aelab / torch: {results['aelab'] / results['torch']:.2f}x")
    print(f"aelab achieved {achieved / 1e9:.1f} GFLOP/s; bare matmul {peak / 1e9:.1f} GFLOP/s; "
          f"efficiency {achieved / peak:.0%}")  # fmt: skip


if __name__ == "__main__":
    main()

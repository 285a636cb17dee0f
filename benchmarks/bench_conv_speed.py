"""CPU steps per second of aelab's convolutional autoencoder next to a plain PyTorch loop of
the same model, in one script, on the same data.

The model is the MNIST-1D benchmark's (``bench_conv.py``): three 1-D convolutions of
25 channels, kernel 5, stride 2 (40 -> 20 -> 10 -> 5 positions), a dense ReLU code of 64
units, and the mirror image back (a dense layer to 25 x 5, three transposed convolutions);
ReLU everywhere, a linear output. Both train it as pretraining does: Adam at learning rate
0.01 on the mean squared reconstruction error of minibatches of 100 drawn from MNIST-1D's
4,000 training signals (standardised).

- aelab: ``AutoencoderTransformer(family="conv-ae", ...)`` fitted for ``--steps`` steps,
  once to compile, then timed (the compiled program is reused: steps/s is training alone).
- PyTorch: ``nn.Conv1d`` / ``nn.ConvTranspose1d`` in an eager loop of the same steps, after
  20 untimed warm-up steps; ``torch.set_num_threads`` left at its default (reported) unless
  ``--torch-threads`` sets it.

Each is timed ``--repeats`` times, interleaved; the best and median are printed.

    python benchmarks/bench_conv_speed.py [--steps 2000] [--repeats 3] [--torch-threads N]
        [--json out.json]

It needs PyTorch (the ``bench`` extra: ``pip install torch==2.13.0``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

import aelab
from aelab.data import load_dataset, split_dataset

BATCH, LR, CHANNELS, KERNEL, CODE = 100, 0.01, 25, 5, 64


def data() -> np.ndarray:
    split = split_dataset(load_dataset("mnist1d"), 0.5, 0)
    return split.x[split.is_train].astype(np.float32)  # (4000, 40), standardised


def aelab_seconds(x: np.ndarray, steps: int) -> tuple[float, float, float]:
    """Wall and CPU seconds of a fit of ``steps`` steps, and its final loss."""
    ae = aelab.AutoencoderTransformer(
        family="conv-ae", conv=(CHANNELS,) * 3, kernel_size=KERNEL, stride=2, code=CODE,
        activation="relu", code_activation="relu", image_shape=(40,), scaling="none",
        pretrain_steps=steps, batch_size=BATCH, sampling="draws", learning_rate=LR,
        random_state=0,
    )  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    ae.fit(x)
    return time.perf_counter() - t0, time.process_time() - c0, float(ae.loss_curve_[-1])


def torch_model():
    import torch  # the peer: only this benchmark needs it
    from torch import nn

    class ConvAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c, k = CHANNELS, KERNEL
            self.encoder = nn.Sequential(
                nn.Conv1d(1, c, k, 2, k // 2), nn.ReLU(),
                nn.Conv1d(c, c, k, 2, k // 2), nn.ReLU(),
                nn.Conv1d(c, c, k, 2, k // 2), nn.ReLU(),
                nn.Flatten(), nn.Linear(c * 5, CODE), nn.ReLU(),
            )  # fmt: skip
            self.decoder = nn.Sequential(
                nn.Linear(CODE, c * 5), nn.ReLU(), nn.Unflatten(1, (c, 5)),
                nn.ConvTranspose1d(c, c, k, 2, k // 2, output_padding=1), nn.ReLU(),
                nn.ConvTranspose1d(c, c, k, 2, k // 2, output_padding=1), nn.ReLU(),
                nn.ConvTranspose1d(c, 1, k, 2, k // 2, output_padding=1),
            )  # fmt: skip

        def forward(self, x):
            return self.decoder(self.encoder(x[:, None, :]))[:, 0, :]

    torch.manual_seed(0)
    return ConvAE()


def torch_seconds(x: np.ndarray, steps: int) -> tuple[float, float, float]:
    import torch  # the peer: only this benchmark needs it

    model = torch_model()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    data_t = torch.from_numpy(x)
    gen = torch.Generator().manual_seed(0)

    def step() -> float:
        batch = data_t[torch.randint(0, len(data_t), (BATCH,), generator=gen)]
        loss = torch.mean((model(batch) - batch) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(20):  # warm-up
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = step()
    return time.perf_counter() - t0, time.process_time() - c0, loss


def main() -> None:
    import torch  # the peer: only this benchmark needs it

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads [default]")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    x = data()
    t0 = time.perf_counter()
    aelab_seconds(x, args.steps)  # compiles
    first = time.perf_counter() - t0
    times: dict[str, list[float]] = {"aelab": [], "torch": []}
    cpu: dict[str, list[float]] = {"aelab": [], "torch": []}
    losses: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, timed in (("aelab", aelab_seconds), ("torch", torch_seconds)):
            seconds, cpu_seconds, losses[name] = timed(x, args.steps)
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
    print(f"{args.steps} steps of batch {BATCH}; torch threads {torch.get_num_threads()}")
    print(f"aelab first fit (compiling): {first:.1f} s")
    rows = {}
    for name, values in times.items():
        best, median, best_cpu = min(values), statistics.median(values), min(cpu[name])
        rows[name] = {"best_s": best, "median_s": median, "steps_per_s": args.steps / best,
                      "best_cpu_s": best_cpu, "final_loss": losses[name], "seconds": values,
                      "cpu_seconds": cpu[name]}  # fmt: skip
        print(f"  {name:<6} wall best {best:.2f} s, median {median:.2f} s: "
              f"{args.steps / best:,.0f} steps/s; CPU {best_cpu:.2f} s "
              f"({1000 * best_cpu / args.steps:.2f} ms a step); "
              f"final loss {losses[name]:.3f}")  # fmt: skip
    for what, key in (("wall", "best_s"), ("CPU", "best_cpu_s")):
        print(f"  PyTorch {what} time / aelab {what} time: "
              f"{rows['torch'][key] / rows['aelab'][key]:.2f}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"steps": args.steps, "first_fit_s": first, **rows}, f, indent=2)


if __name__ == "__main__":
    main()

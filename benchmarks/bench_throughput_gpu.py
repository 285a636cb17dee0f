"""Minibatch throughput on an NVIDIA GPU: bench_throughput.py's benchmark, on an H100/H200.

The same deep autoencoder 784-512-256-32 (ReLU, linear code and output) on 60,000 x 784
synthetic float32 samples, Adam at 0.001 on the reconstruction error, timed the same way:
``--short`` and ``--long`` steps after a warm-up, samples per second = batch * (long - short)
/ (time difference), so compile, the data's copy to the GPU and aelab's snapshot of every
sample's code cancel out. The model, the aelab timing, the FLOP count and the same-shape bare
matmul are bench_throughput.py's own functions, run with JAX's default device set to the GPU
and that module's sample count and batch size set for each row. Differences from the CPU run:

- aelab runs on ``jax.devices("gpu")[0]``. Without a GPU the script stops at once with a
  one-line message and exit status 2 (``--allow-cpu`` runs the whole path on the CPU instead:
  a smoke test, with small ``--short``, ``--long``, ``--samples`` and ``--matmul-repeats``).
- The PyTorch peer runs on CUDA, with ``torch.cuda.synchronize()`` around each timing. The
  ``bench`` extra's torch==2.13.0 is the CPU wheel and has no CUDA: install a CUDA build for
  the peer (below). Without one the peer is skipped with a note, and aelab is still timed.
- Batch sizes are swept (``--batch-sizes``, default 256,1024,4096): at 256 a step is a few
  small kernels, so an H200 is bound by launches, not arithmetic.
- The bare matmul (a chain of (batch x 784) @ (784 x 512) and back) is timed for every batch
  size; "efficiency" is aelab's matrix-multiply FLOP/s against it. A second, large chain
  (``--big-shape``, default 8192 x 8192 x 8192) shows what the GPU reaches when the shapes are
  not the limit; "of big" is aelab's FLOP/s against that.

Precision: the data and parameters are float32. JAX on NVIDIA GPUs (Ampere and later) runs
float32 matrix multiplies in TF32 at its default precision (``jax_default_matmul_precision``
unset); ``--precision highest`` sets it to ``highest`` (full float32). PyTorch is set to match
(``torch.set_float32_matmul_precision("high")``, TF32, for ``default``; ``"highest"`` for
``highest``; PyTorch's own default is full float32). Both settings are printed and saved.

Run on the GPU machine, from the repository root:

    pip install -e ".[cuda]"
    pip install torch --index-url https://download.pytorch.org/whl/cu124   # the peer
    python benchmarks/bench_throughput_gpu.py --json gpu_throughput.json

(any CUDA 12 torch build will do: pick the cu12x index that has your torch version, and keep
the jax[cuda12] install working if pip moves the shared nvidia-* packages). Add
``--precision highest`` for a second, full-float32 run. A run takes a minute or two.
Record in BENCHMARKS.md: the date, the device name and the versions printed at the top, the
precision, the table (samples/s of both, their ratio, aelab's TFLOP/s, the same-shape and big
matmul TFLOP/s, the efficiencies) and the one-line summary printed at the end.

Expected order of magnitude (an estimate, not a measurement): on an H100/H200, about 10^6
samples/s for aelab at batch 256 (a step costs tens of microseconds of kernel launches, so
only a few TFLOP/s), rising to 10^7 samples/s and tens of TFLOP/s at batch 4096; the eager
PyTorch loop a few times 10^5 samples/s at 256 (Python and launch overhead), closing the gap
as the batch grows; the big TF32 matmul some hundreds of TFLOP/s (tens with ``highest``).
The 2-core CPU reference is 44,000-46,000 samples/s and 263 GFLOP/s at batch 256.

    python benchmarks/bench_throughput_gpu.py [--batch-sizes 256,1024,4096] [--short 1000]
        [--long 5000] [--trials 3] [--precision default|highest] [--json PATH]
    python benchmarks/bench_throughput_gpu.py --quick   # under a minute on an H200
    python benchmarks/bench_throughput_gpu.py --allow-cpu --samples 2000 --short 5 --long 10 \\
        --batch-sizes 64,128 --matmul-repeats 10 --big-shape 256,256,256   # CPU smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import jax
import numpy as np

NO_GPU = (
    "bench_throughput_gpu: JAX sees no GPU here; install its CUDA build with "
    'pip install -e ".[cuda]" (or pass --allow-cpu for a CPU smoke test)'
)


def load_cpu_bench() -> ModuleType:
    """bench_throughput.py, the file beside this one, imported as a module."""
    path = Path(__file__).resolve().with_name("bench_throughput.py")
    spec = importlib.util.spec_from_file_location("bench_throughput", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bt = load_cpu_bench()


@contextlib.contextmanager
def sizes(n: int, batch: int) -> Iterator[None]:
    """bench_throughput's functions read its N and BATCH when called: set them for a while."""
    saved = bt.N, bt.BATCH
    bt.N, bt.BATCH = n, batch
    try:
        yield
    finally:
        bt.N, bt.BATCH = saved


def torch_seconds(data, steps: int, batch: int) -> float:
    """bench_throughput.torch_seconds on ``data``'s device (the data already there), timed
    between two ``torch.cuda.synchronize()`` calls when that device is a GPU."""
    import torch

    device = data.device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    layers: list = []
    sizes_ = (*bt.SIZES, *bt.SIZES[-2::-1])
    for i, (a, b) in enumerate(zip(sizes_[:-1], sizes_[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i not in (len(bt.SIZES) - 2, len(sizes_) - 2):  # linear code and output, as aelab's
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    n = data.shape[0]
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, n, (batch,), device=device)
        xb = data[idx]
        loss = ((net(xb) - xb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - t0


def samples_per_second(fn: Callable[[int], float], batch: int, short: int, long: int,
                       trials: int) -> tuple[float, list[float]]:  # fmt: skip
    """One warm-up of each length, then ``trials`` pairs; the median pair's samples/s (NaN,
    with a warning, when the long runs were not slower: too few steps to time)."""
    fn(short)
    fn(long)
    diffs = [-fn(short) + fn(long) for _ in range(trials)]
    diff = statistics.median(diffs)
    if diff <= 0:
        print(f"  warning: {long} steps took no longer than {short}; raise --long", flush=True)
        return float("nan"), diffs
    return batch * (long - short) / diff, diffs


def pick_device(allow_cpu: bool) -> jax.Device:
    try:
        return jax.devices("gpu")[0]
    except RuntimeError:
        if not allow_cpu:
            print(NO_GPU, file=sys.stderr)
            sys.exit(2)
    print("--allow-cpu: no GPU; running on the CPU as a smoke test (numbers mean nothing)")
    return jax.devices("cpu")[0]


def torch_device(allow_cpu: bool, skip: bool, precision: str) -> tuple[str | None, str]:
    """The peer's device (None: skipped) and a line saying why and with which settings."""
    if skip:
        return None, "PyTorch peer skipped (--skip-torch)"
    try:
        import torch
    except ImportError:
        return None, "PyTorch peer skipped: torch is not installed"
    torch.set_float32_matmul_precision("high" if precision == "default" else "highest")
    settings = f"torch {torch.__version__}, float32 matmul precision {precision}"
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return "cuda", f"{settings}, CUDA {torch.version.cuda} on {name}"
    if allow_cpu:
        return "cpu", f"{settings}; no CUDA, so --allow-cpu runs the peer on the CPU"
    return None, (
        f"PyTorch peer skipped: torch {torch.__version__} has no CUDA (the bench extra's "
        "torch==2.13.0 is the CPU wheel); install a CUDA build, e.g. pip install torch "
        "--index-url https://download.pytorch.org/whl/cu124"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="256,1024,4096", help="[256,1024,4096]")
    parser.add_argument("--short", type=int, default=1000, help="[1000]")
    parser.add_argument("--long", type=int, default=5000, help="[5000]")
    parser.add_argument("--trials", type=int, default=3, help="timed pairs, median [3]")
    parser.add_argument("--samples", type=int, default=bt.N, help=f"[{bt.N}]")
    parser.add_argument("--precision", choices=["default", "highest"], default="default",
                        help="JAX float32 matmul precision: default (TF32 on NVIDIA) or "
                        "highest (full float32) [default]")  # fmt: skip
    parser.add_argument("--matmul-repeats", type=int, default=5000,
                        help="same-shape chain length [5000]")  # fmt: skip
    parser.add_argument("--big-shape", default="8192,8192,8192", help="M,K,N [8192,8192,8192]")
    parser.add_argument("--big-repeats", type=int, default=50, help="[50]")
    parser.add_argument("--skip-torch", action="store_true", help="time aelab alone")
    parser.add_argument(
        "--allow-cpu", action="store_true", help="no GPU: run on the CPU (a smoke test)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--quick", action="store_true",
        help="under a minute on an H200: 200 and 1,000 steps, one timed pair, fewer matmuls",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:  # the same measurements, shorter: enough steps to time on a GPU
        args.short, args.long, args.trials = 200, 1000, 1
        args.matmul_repeats, args.big_repeats = 1000, 10
    batches = [int(b) for b in args.batch_sizes.split(",")]
    big = tuple(int(s) for s in args.big_shape.split(","))

    device = pick_device(args.allow_cpu)
    jax.config.update("jax_default_device", device)
    if args.precision == "highest":
        jax.config.update("jax_default_matmul_precision", "highest")
    jax_precision = jax.config.jax_default_matmul_precision or "default"
    tdev, tnote = torch_device(args.allow_cpu, args.skip_torch, args.precision)

    import jaxlib

    kind = device.device_kind
    print(f"device: {kind} ({device.platform}); JAX {jax.__version__}, jaxlib {jaxlib.__version__}")
    tf32 = " (TF32 on NVIDIA)" if jax_precision == "default" and device.platform == "gpu" else ""
    print(f"JAX float32 matmul precision: {jax_precision}{tf32}")
    print(tnote)
    print(f"{args.samples:,} x {bt.D} samples; {args.short} and {args.long} steps, "
          f"{args.trials} trials\n", flush=True)  # fmt: skip

    x = np.random.default_rng(0).random((args.samples, bt.D), dtype=np.float32)
    data = None
    if tdev is not None:
        import torch

        data = torch.from_numpy(x).to(tdev)

    rows = []
    for batch in batches:
        with sizes(args.samples, batch):
            aelab, aelab_diffs = samples_per_second(
                lambda steps: bt.aelab_seconds(x, steps), batch, args.short, args.long, args.trials
            )
            peer, peer_diffs = (None, [])
            if data is not None:
                peer, peer_diffs = samples_per_second(
                    lambda steps, b=batch: torch_seconds(data, steps, b),
                    batch, args.short, args.long, args.trials,
                )  # fmt: skip
            matmul = max(bt.matmul_flops_per_second(args.matmul_repeats) for _ in range(3))
            achieved = bt.step_flops() * aelab / batch
        rows.append(
            {"batch": batch, "aelab_samples_per_s": aelab, "torch_samples_per_s": peer,
             "aelab_flops": achieved, "matmul_flops": matmul,
             "aelab_seconds_extra_steps": aelab_diffs, "torch_seconds_extra_steps": peer_diffs}
        )  # fmt: skip
        ratio = f"{aelab / peer:.2f}x" if peer else "-"
        print(f"batch {batch}: aelab {aelab:,.0f} samples/s, torch "
              f"{f'{peer:,.0f}' if peer else '-'} samples/s ({ratio})", flush=True)  # fmt: skip

    big_flops = max(bt.matmul_flops_per_second(args.big_repeats, big) for _ in range(3))

    print(f"\nbig matmul chain {big[0]}x{big[1]}x{big[2]}: {big_flops / 1e12:.2f} TFLOP/s\n")
    head = ("batch", "aelab samp/s", "torch samp/s", "   ratio", "aelab TFLOP/s",
            "matmul TFLOP/s", "efficiency", "of big")  # fmt: skip
    print(" | ".join(head))
    print(" | ".join("-" * len(h) for h in head))
    for r in rows:
        peer = r["torch_samples_per_s"]
        cells = (
            str(r["batch"]), f"{r['aelab_samples_per_s']:,.0f}", f"{peer:,.0f}" if peer else "-",
            f"{r['aelab_samples_per_s'] / peer:.2f}x" if peer else "-",
            f"{r['aelab_flops'] / 1e12:.3f}", f"{r['matmul_flops'] / 1e12:.3f}",
            f"{r['aelab_flops'] / r['matmul_flops']:.0%}", f"{r['aelab_flops'] / big_flops:.0%}",
        )  # fmt: skip
        print(" | ".join(c.rjust(len(h)) for c, h in zip(cells, head, strict=True)))

    date = datetime.date.today().isoformat()
    parts = []
    for r in rows:
        peer = r["torch_samples_per_s"]
        vs = f", torch {peer:,.0f} ({r['aelab_samples_per_s'] / peer:.1f}x)" if peer else ""
        eff = r["aelab_flops"] / r["matmul_flops"]
        parts.append(
            f"batch {r['batch']}: aelab {r['aelab_samples_per_s']:,.0f} samples/s{vs}, "
            f"{r['aelab_flops'] / 1e12:.2f} TFLOP/s = {eff:.0%} of same-shape matmul"
        )
    summary = (f"{date}, {kind}, JAX {jax.__version__}, precision {jax_precision}: "
               + "; ".join(parts) + f"; big matmul {big_flops / 1e12:.3g} TFLOP/s")  # fmt: skip
    print(f"\nsummary: {summary}")

    if args.json:
        import platform

        out = {
            "date": date, "device": kind, "platform": device.platform,
            "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "jax_matmul_precision": jax_precision, "torch": tnote, "torch_device": tdev,
            "python": platform.python_version(), "args": {**vars(args), "json": str(args.json)},
            "rows": rows, "big_shape": big, "big_matmul_flops": big_flops, "summary": summary,
        }  # fmt: skip
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""How fast is ``aelab run`` next to a plain PyTorch loop of the same experiment?

Measures, in one run and on one machine:

1. ``aelab run --quiet --out <tmpdir>``, the default command, as a subprocess: interpreter
   start, imports, compilation, training of all four strategies (5,000 pretraining and 10,000
   fine-tuning full-batch Adam steps), metrics, figure and files. The phase seconds the run
   folder's ``timing.json`` records are reported too. Timed twice per repeat: compiling every
   program (``AELAB_COMPILATION_CACHE=off``, a first run) and with the compiled programs that
   the warm-up left in a temporary compilation cache (every later run on a machine).
2. A plain PyTorch eager-mode loop of ONE strategy, ``finetune-recon``, on the same data: Iris,
   stratified 75/75 split (``random_state=0``), standardised with the training part's
   statistics; ``z = sigmoid(W x + b)``, ``x_hat = W' z + b'``, ``logits = V z + c``; Adam
   (lr 0.01) for 5,000 steps of MSE, then a new Adam for 10,000 steps of cross-entropy + 1.0 *
   MSE over all parameters. It runs as a subprocess of this file (``--peer-torch``) so both
   timings include interpreter start and imports; its in-process loop time and held-out
   accuracy (a check that it learned) are reported as well. ``torch.set_num_threads`` is left at
   its default, which is reported, unless ``--torch-threads N`` sets it.

Each is run ``--repeats`` times, interleaved, after one untimed warm-up of each (``--warmup``);
the table shows the median and the minimum, and the ratio peer (one strategy) / aelab (four).

Run it from the repository root with the environment aelab is installed in::

    python benchmarks/bench_iris_speed.py [--repeats 3] [--json bench.json]

It needs PyTorch: ``pip install torch==2.13.0`` (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

# The original experiment's settings, as aelab's defaults have them.
SEED = 0
TEST_SIZE = 75
LEARNING_RATE = 0.01
PRETRAIN_STEPS = 5_000
FINETUNE_STEPS = 10_000
RECON_WEIGHT = 1.0

TORCH_HINT = (
    "bench_iris_speed: PyTorch is not importable; install it with\n"
    "    pip install torch==2.13.0\n"
    "(this exact spec takes the CPU wheel; another spec may pull a multi-GB CUDA build)"
)


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        print(TORCH_HINT, file=sys.stderr)
        sys.exit(2)


# --------------------------------------------------------------------------------------------
# The peer: one strategy in plain PyTorch, eager mode. Runs in its own interpreter.
# --------------------------------------------------------------------------------------------


def peer_torch(threads: int | None = None) -> dict:
    """Train ``finetune-recon`` in PyTorch eager mode; return its timings and accuracy.

    ``threads``: ``torch.set_num_threads`` (intra-op threads); ``None`` leaves PyTorch's default.
    """
    t0 = time.perf_counter()
    _require_torch()
    import numpy as np
    import torch
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from torch import nn

    seconds = {"imports": time.perf_counter() - t0}
    if threads is not None:
        torch.set_num_threads(threads)

    t0 = time.perf_counter()
    iris = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=TEST_SIZE, stratify=iris.target, random_state=SEED
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train = torch.tensor((x_train - mean) / std, dtype=torch.float32)
    x_test = torch.tensor((x_test - mean) / std, dtype=torch.float32)
    y_train = torch.tensor(y_train, dtype=torch.long)
    y_test = torch.tensor(y_test, dtype=torch.long)
    seconds["data"] = time.perf_counter() - t0

    torch.manual_seed(SEED)
    n_features, n_classes = x_train.shape[1], int(np.max(iris.target)) + 1
    encoder = nn.Sequential(nn.Linear(n_features, 2), nn.Sigmoid())
    decoder = nn.Linear(2, n_features)
    head = nn.Linear(2, n_classes)
    mse, cross_entropy = nn.MSELoss(), nn.CrossEntropyLoss()

    t0 = time.perf_counter()
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=LEARNING_RATE)
    for _ in range(PRETRAIN_STEPS):
        opt.zero_grad()
        loss = mse(decoder(encoder(x_train)), x_train)
        loss.backward()
        opt.step()
    pretrain_loss = loss.item()
    seconds["pretrain"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    params = [*encoder.parameters(), *decoder.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=LEARNING_RATE)
    for _ in range(FINETUNE_STEPS):
        opt.zero_grad()
        z = encoder(x_train)
        loss = cross_entropy(head(z), y_train) + RECON_WEIGHT * mse(decoder(z), x_train)
        loss.backward()
        opt.step()
    finetune_loss = loss.item()
    seconds["finetune"] = time.perf_counter() - t0
    seconds["loop"] = seconds["pretrain"] + seconds["finetune"]

    with torch.no_grad():
        test_accuracy = (head(encoder(x_test)).argmax(dim=1) == y_test).float().mean().item()
        train_accuracy = (head(encoder(x_train)).argmax(dim=1) == y_train).float().mean().item()
    return {
        "seconds": seconds,
        "test_accuracy": test_accuracy,
        "train_accuracy": train_accuracy,
        "final_pretrain_loss": pretrain_loss,
        "final_finetune_loss": finetune_loss,
        "torch": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
    }


# --------------------------------------------------------------------------------------------
# The driver: time both as subprocesses, summarise, compare.
# --------------------------------------------------------------------------------------------


def _aelab_command() -> list[str]:
    script = Path(sys.executable).parent / "aelab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aelab"]


def _run(command: list[str], env: dict | None = None) -> tuple[float, str]:
    """Run ``command``; return its wall time and stdout, or exit with its stderr on failure."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(
            f"bench_iris_speed: {' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}"
        )
    return wall, proc.stdout


def time_aelab(cache: str) -> dict:
    """One ``aelab run --quiet`` into a fresh temporary folder: wall time and ``timing.json``.

    ``cache`` is ``AELAB_COMPILATION_CACHE``: ``off`` compiles every program (a first run),
    a folder filled by an earlier run reuses the compiled programs (every later run).
    """
    with tempfile.TemporaryDirectory(prefix="bench-aelab-") as out:
        wall, stdout = _run(
            [*_aelab_command(), "run", "--quiet", "--out", out],
            env={"AELAB_COMPILATION_CACHE": cache},
        )
        run_dir = Path(stdout.strip().splitlines()[-1])
        phases = json.loads((run_dir / "timing.json").read_text())["seconds"]
        accuracy = json.loads((run_dir / "metrics.json").read_text())["strategies"][
            "finetune-recon"
        ]["test_accuracy"]
    return {"wall": wall, "phases": phases, "finetune_recon_test_accuracy": accuracy}


def _peer_command(threads: int | None) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--peer-torch"]
    return command if threads is None else [*command, "--torch-threads", str(threads)]


def time_peer(threads: int | None) -> dict:
    """One ``--peer-torch`` subprocess: wall time and what the peer reports."""
    wall, stdout = _run(_peer_command(threads))
    return {"wall": wall, **json.loads(stdout.strip().splitlines()[-1])}


def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "all": values}


def machine_info() -> dict:
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    backend = subprocess.run(
        [sys.executable, "-c", "import jax; print(jax.default_backend(), jax.device_count())"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "jax": version("jax"),
        "jaxlib": version("jaxlib"),
        "jax_backend": " ".join(backend) or None,
        "torch": version("torch"),
        "numpy": version("numpy"),
        "aelab": version("aelab"),
    }


def benchmark(repeats: int, warmup: int, threads: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-aelab-xla-") as cache:
        return _benchmark(repeats, warmup, threads, cache)


def _benchmark(repeats: int, warmup: int, threads: int | None, cache: str) -> dict:
    for _ in range(max(warmup, 1)):  # untimed: fills the file and compilation caches
        time_aelab(cache)
        time_peer(threads)
    aelab_runs, warm_runs, peer_runs = [], [], []
    for i in range(repeats):  # interleaved, so a slow spell of the machine hits all three
        aelab_runs.append(time_aelab("off"))
        warm_runs.append(time_aelab(cache))
        peer_runs.append(time_peer(threads))
        print(
            f"  repeat {i + 1}/{repeats}: aelab {aelab_runs[-1]['wall']:.2f} s "
            f"(cached compile {warm_runs[-1]['wall']:.2f} s), "
            f"torch peer {peer_runs[-1]['wall']:.2f} s",
            file=sys.stderr,
        )

    phase_names = list(aelab_runs[0]["phases"])
    aelab = {
        "command": [*_aelab_command(), "run", "--quiet", "--out", "<tmpdir>"],
        "strategies": 4,
        "wall": _stats([r["wall"] for r in aelab_runs]),
        "phases": {p: _stats([r["phases"][p] for r in aelab_runs]) for p in phase_names},
        "training": _stats([r["phases"]["pretrain"] + r["phases"]["finetune"] for r in aelab_runs]),
        "finetune_recon_test_accuracy": [r["finetune_recon_test_accuracy"] for r in aelab_runs],
    }
    warm = {
        "wall": _stats([r["wall"] for r in warm_runs]),
        "training": _stats([r["phases"]["pretrain"] + r["phases"]["finetune"] for r in warm_runs]),
    }
    peer = {
        "command": _peer_command(threads),
        "strategies": 1,
        "wall": _stats([r["wall"] for r in peer_runs]),
        "phases": {
            p: _stats([r["seconds"][p] for r in peer_runs]) for p in peer_runs[0]["seconds"]
        },
        "test_accuracy": [r["test_accuracy"] for r in peer_runs],
        "train_accuracy": [r["train_accuracy"] for r in peer_runs],
        "final_finetune_loss": [r["final_finetune_loss"] for r in peer_runs],
        "num_threads": peer_runs[0]["num_threads"],
        "num_threads_set": threads,
        "num_interop_threads": peer_runs[0]["num_interop_threads"],
    }
    ratio = {stat: peer["wall"][stat] / aelab["wall"][stat] for stat in ("median", "min")}
    training_ratio = {
        stat: peer["phases"]["loop"][stat] / aelab["training"][stat] for stat in ("median", "min")
    }
    return {
        "repeats": repeats,
        "warmup": warmup,
        "aelab": aelab,
        "aelab_cached_compile": warm,
        "ratio_wall_peer_one_over_aelab_four_cached_compile": {
            stat: peer["wall"][stat] / warm["wall"][stat] for stat in ("median", "min")
        },
        "torch_peer": peer,
        "ratio_wall_peer_one_over_aelab_four": ratio,
        "ratio_training_peer_loop_over_aelab_pretrain_finetune": training_ratio,
    }


def print_table(result: dict, info: dict) -> None:
    aelab, peer = result["aelab"], result["torch_peer"]
    rows = [
        ("aelab run, 4 strategies: subprocess wall", aelab["wall"]),
        *((f"  timing.json {p}", s) for p, s in aelab["phases"].items()),
        ("  timing.json pretrain + finetune", aelab["training"]),
        ("aelab run, compiled programs cached: wall", result["aelab_cached_compile"]["wall"]),
        ("  timing.json pretrain + finetune", result["aelab_cached_compile"]["training"]),
        ("torch eager, finetune-recon only: subprocess wall", peer["wall"]),
        *((f"  in-process {p}", s) for p, s in peer["phases"].items()),
    ]
    width = max(len(label) for label, _ in rows)
    print(
        f"\n{info['platform']}, {info['cpus_usable']} of {info['cpu_count']} CPUs usable, "
        f"Python {info['python']}, jax {info['jax']} ({info['jax_backend']}), "
        f"torch {info['torch']} ({peer['num_threads']} threads, "
        f"{'default' if peer['num_threads_set'] is None else 'set by --torch-threads'})"
    )
    print(f"{result['repeats']} repeats after {result['warmup']} warm-up; seconds\n")
    print(f"{'':<{width}}  {'median':>8}  {'min':>8}")
    for label, s in rows:
        print(f"{label:<{width}}  {s['median']:8.3f}  {s['min']:8.3f}")
    ratio = result["ratio_wall_peer_one_over_aelab_four"]
    training = result["ratio_training_peer_loop_over_aelab_pretrain_finetune"]
    print(
        f"\nratio torch peer (1 strategy) / aelab (4 strategies), wall:     "
        f"median {ratio['median']:.2f}x, min {ratio['min']:.2f}x"
    )
    cached = result["ratio_wall_peer_one_over_aelab_four_cached_compile"]
    print(
        f"same, aelab with its compiled programs cached:                 "
        f"median {cached['median']:.2f}x, min {cached['min']:.2f}x"
    )
    print(
        f"ratio torch loop / aelab pretrain + finetune (incl. compile): "
        f"median {training['median']:.2f}x, min {training['min']:.2f}x"
    )
    accuracies = ", ".join(f"{a:.3f}" for a in peer["test_accuracy"])
    aelab_acc = ", ".join(f"{a:.3f}" for a in aelab["finetune_recon_test_accuracy"])
    print(f"held-out accuracy of finetune-recon: torch peer {accuracies}; aelab {aelab_acc}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each [3]")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each first [1]")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument(
        "--torch-threads", type=int, help="torch.set_num_threads in the peer [PyTorch's default]"
    )
    parser.add_argument("--peer-torch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.peer_torch:
        print(json.dumps(peer_torch(args.torch_threads)))
        return
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be at least 1 and --warmup at least 0")
    if args.torch_threads is not None and args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    _require_torch()

    info = machine_info()
    result = benchmark(args.repeats, args.warmup, args.torch_threads)
    info["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print_table(result, info)
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": info, **result}, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

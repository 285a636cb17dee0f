"""Time to result: what a user waits for, command by command, against another checkout.

Each case is one ``aelab`` command run as a fresh subprocess (interpreter start, imports,
compilation, training, metrics, figure and files), with the compilation cache off unless the
case says otherwise. With ``--compare SRC`` every case also runs with ``PYTHONPATH=SRC`` (for
example a ``git worktree`` of the previous commit's ``src``), interleaved with this
checkout's runs, and the table gives the ratio this / that. A run folder's ``timing.json``
phases (data, pretraining, fine-tuning, metrics) and its held-out accuracies are reported
too, so a faster run that learned something else shows.

Cases (``--cases``, comma-separated):

- ``help``: ``aelab --help``; ``datasets``: ``aelab datasets``; ``run-help``: ``aelab run --help``.
- ``iris``: the default ``aelab run``; ``iris-warm``: the same with a warm compilation cache.
- ``digits-ladder``: the README's semi-supervised ladder example on digits
  (``--labels 4 --hidden 256,128 --code 10 --activation relu --model ladder --ladder-weights
  paper --batch-size 100 --finetune-steps 4000 --strategies supervised,joint``).

Run from the repository root::

    python benchmarks/bench_time_to_result.py [--cases iris,datasets] [--repeats 3] \\
        [--compare /work/base/src] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DIGITS_LADDER = [
    "run", "--dataset", "digits", "--labels", "4", "--hidden", "256,128", "--code", "10",
    "--activation", "relu", "--model", "ladder", "--ladder-weights", "paper", "--batch-size",
    "100", "--finetune-steps", "4000", "--strategies", "supervised,joint",
]  # fmt: skip
CASES = {
    "help": (["--help"], False),
    "datasets": (["datasets"], False),
    "run-help": (["run", "--help"], False),
    "iris": (["run"], False),
    "iris-warm": (["run"], True),
    "digits-ladder": (DIGITS_LADDER, False),
}


def run_case(case: str, src: str | None, cache_dir: Path) -> dict:
    """One subprocess of ``case``: its wall seconds, and a run's phases and accuracies."""
    args, warm = CASES[case]
    env = {**os.environ, "AELAB_COMPILATION_CACHE": str(cache_dir) if warm else "off"}
    if src is not None:
        env["PYTHONPATH"] = src
    out = Path(tempfile.mkdtemp(prefix="aelab-bench-"))
    command = [sys.executable, "-m", "aelab", *args]
    if args[0] == "run" and "--help" not in args:
        command += ["--out", str(out), "--name", "r", "--quiet"]
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{case} ({src or 'this checkout'}) failed:\n{done.stderr[-2000:]}")
    result: dict = {"wall": wall}
    if (out / "r" / "timing.json").is_file():
        result["phases"] = json.loads((out / "r" / "timing.json").read_text())["seconds"]
        metrics = json.loads((out / "r" / "metrics.json").read_text())
        result["test_accuracy"] = {
            name: m["test_accuracy"] for name, m in metrics["strategies"].items()
        }
    return result


def benchmark(cases: list[str], repeats: int, compare: str | None) -> dict:
    """Every case ``repeats`` times for each source, interleaved; warm cases get one untimed
    run first to fill their cache."""
    sources = {"this": None, **({"compare": compare} if compare else {})}
    results: dict = {case: {name: [] for name in sources} for case in cases}
    caches = {name: Path(tempfile.mkdtemp(prefix="aelab-bench-xla-")) for name in sources}
    for case in cases:
        if CASES[case][1]:
            for name, src in sources.items():
                run_case(case, src, caches[name])
        for _ in range(repeats):
            for name, src in sources.items():
                results[case][name].append(run_case(case, src, caches[name]))
    return results


def print_table(results: dict) -> None:
    print(f"{'case':<16}{'source':<10}{'median s':>10}{'min s':>9}{'ratio':>8}  phases / accuracy")
    for case, by_source in results.items():
        medians = {n: statistics.median(r["wall"] for r in runs) for n, runs in by_source.items()}
        for name, runs in by_source.items():
            ratio = f"{medians['this'] / medians['compare']:.2f}" if (
                "compare" in medians and name == "this"
            ) else ""  # fmt: skip
            last = runs[-1]
            extra = ""
            if "phases" in last:
                phases = " ".join(f"{k} {v:.1f}" for k, v in last["phases"].items())
                accuracy = " ".join(f"{k} {v:.3f}" for k, v in last["test_accuracy"].items())
                extra = f"{phases} | {accuracy}"
            walls = [r["wall"] for r in runs]
            print(
                f"{case:<16}{name:<10}{medians[name]:>10.2f}{min(walls):>9.2f}{ratio:>8}  {extra}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="help,datasets,run-help,iris,iris-warm")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", help="another checkout's src folder (PYTHONPATH)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; choose from {', '.join(CASES)}")
    results = benchmark(cases, args.repeats, args.compare)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

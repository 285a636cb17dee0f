"""Sweep speed: 64 seeds of the default experiment against one seed, in the same script.

Each measurement runs in a fresh Python process (nothing compiled or cached before it; the
persistent compilation cache is off), times ``aelab.sweep`` of the default experiment
(Iris, all four strategies, 5,000 + 10,000 full-batch steps) without baselines, and inside
that process runs the same sweep a second time: the second run reuses the compiled programs,
so ``first - second`` is the compile (and warm-up) share. The bar (issue 5): 64 seeds take at
most 10 times the wall time of one seed.

    python benchmarks/bench_sweep_speed.py [--repeats 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, tempfile, time
from aelab.config import SweepConfig
from aelab.outputs.sweepdir import sweep
seeds, per_slice = int(sys.argv[1]), int(sys.argv[2])
config = SweepConfig(seeds=tuple(range(seeds)), seeds_per_slice=per_slice, baselines=False)
times = []
with tempfile.TemporaryDirectory() as out:
    for i in range(2):
        t0 = time.perf_counter()
        result = sweep(config, out=out, name=f"s{i}")
        times.append(time.perf_counter() - t0)
print(json.dumps({"first": times[0], "second": times[1], "models": len(result.results)}))
"""

CASES = {  # name: (seeds, seeds per slice)
    "1 seed": (1, 1),
    "64 seeds, slices of 16 (the default)": (64, 16),
    "64 seeds, one slice": (64, 64),
}


def measure(seeds: int, per_slice: int) -> dict:
    env = {**os.environ, "AELAB_COMPILATION_CACHE": "off"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(seeds), str(per_slice)],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, (seeds, per_slice) in CASES.items():
            results[name].append(measure(seeds, per_slice))
            print(f"{name}: {results[name][-1]}", flush=True)
    one = statistics.median(r["first"] for r in results["1 seed"])
    print("\n| case | models | wall time | ratio to 1 seed | compile share | per model, steady |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        first = statistics.median(r["first"] for r in runs)
        second = statistics.median(r["second"] for r in runs)
        models = runs[0]["models"]
        print(
            f"| {name} | {models} | {first:.1f} s | {first / one:.1f}x | "
            f"{(first - second) / first:.0%} | {1000 * second / models:.0f} ms |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

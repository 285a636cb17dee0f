"""Wide tables (issue 14, defect 5): ``aelab``'s table loader against ``pd.read_csv``.

Writes a CSV of ``--rows`` samples and ``--columns`` numeric features (3 decimals, seeded)
plus a ``label`` column of two classes, then times, in turn and ``--repeats`` times each:

- ``pd.read_csv(path)`` with its defaults: what reading the same file costs in pandas;
- ``aelab.data.load_file(path)``: reading, finding the delimiter, the header and the label
  column, checking every value, and returning the float64 array a run trains on.

It prints the median seconds of each and their ratio (aelab / pandas). The bar (issue 14):
about pandas' speed. Before the fix a 200 x 100,000 table took 103 s against pandas' 4.6 s.

    python benchmarks/bench_wide_table.py [--rows 200] [--columns 100000] [--repeats 3]
                                          [--folder /var/tmp/aelab-wide] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aelab.data import load_file


def make_table(path: Path, rows: int, columns: int) -> Path:
    """A seeded table of ``rows`` x ``columns`` numbers and a two-class ``label``."""
    rng = np.random.default_rng(0)
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(f"f{i}" for i in range(columns)) + ",label\n")
        for r in range(rows):
            values = np.round(rng.normal(size=columns), 3)
            out.write(",".join(map(str, values)) + f",{'ab'[r % 2]}\n")
    return path


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--columns", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="aelab-wide-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"wide-{args.rows}x{args.columns}.csv"
    if not path.is_file():
        make_table(path, args.rows, args.columns)
    dataset, _ = load_file(path)  # a warm-up, and a check of what it reads
    assert dataset.x.shape == (args.rows, args.columns), dataset.x.shape
    times: dict[str, list[float]] = {"pandas": [], "aelab": []}
    for _ in range(args.repeats):
        times["pandas"].append(seconds(lambda: pd.read_csv(path)))
        times["aelab"].append(seconds(lambda: load_file(path)))
    result = {
        "rows": args.rows,
        "columns": args.columns,
        "megabytes": round(path.stat().st_size / 1e6, 1),
        "pandas_read_csv_s": statistics.median(times["pandas"]),
        "aelab_load_file_s": statistics.median(times["aelab"]),
        "all_s": times,
        "machine": platform.machine(),
        "pandas": pd.__version__,
    }
    result["ratio"] = result["aelab_load_file_s"] / result["pandas_read_csv_s"]
    print(
        f"{args.rows} x {args.columns:,} ({result['megabytes']} MB): pd.read_csv "
        f"{result['pandas_read_csv_s']:.2f} s, aelab load_file {result['aelab_load_file_s']:.2f} s"
        f" (ratio {result['ratio']:.2f}; medians of {args.repeats})"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""How long ``AutoencoderClassifier().fit`` takes next to scikit-learn's ``MLPClassifier``.

Each trial is a fresh process (``--one``) that imports everything first, then times
``MLPClassifier(random_state=0).fit`` and ``AutoencoderClassifier(random_state=0).fit`` (the
default settings: ``finetune-recon``, 5,000 + 10,000 full-batch steps) on scikit-learn's wine
data, standardised by each estimator as it does by itself. Trials run with a new, empty
compilation cache (cold: every program compiled) and then with the cache the cold trial left
(warm: a second fit on the machine, in a new process). With ``--compare SRC`` the same
trials run with ``PYTHONPATH=SRC`` (another checkout's ``src``), interleaved.

    python benchmarks/bench_estimator.py [--repeats 3] [--compare /work/base/src]
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


def one() -> None:
    """One fresh process: imports, then both fits, timed; prints JSON."""
    from sklearn.datasets import load_wine
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from aelab.estimators import AutoencoderClassifier

    x, y = load_wine(return_X_y=True)
    t0 = time.perf_counter()
    mlp = MLPClassifier(random_state=0, max_iter=2000).fit(StandardScaler().fit_transform(x), y)
    t1 = time.perf_counter()
    ours = AutoencoderClassifier(random_state=0).fit(x, y)
    t2 = time.perf_counter()
    print(json.dumps({
        "mlp": t1 - t0, "aelab": t2 - t1, "mlp_iterations": mlp.n_iter_,
        "train_accuracy": float(ours.score(x, y)),
    }))  # fmt: skip


def trial(src: str | None, cache: str) -> dict:
    env = {**os.environ, "AELAB_COMPILATION_CACHE": cache}
    if src is not None:
        env["PYTHONPATH"] = src
    done = subprocess.run(
        [sys.executable, __file__, "--one"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", help="another checkout's src folder (PYTHONPATH)")
    args = parser.parse_args()
    if args.one:
        one()
        return
    sources = {"this": None, **({"compare": args.compare} if args.compare else {})}
    rows = {(name, kind): [] for name in sources for kind in ("cold", "warm")}
    for _ in range(args.repeats):
        for name, src in sources.items():
            cache = tempfile.mkdtemp(prefix="aelab-bench-xla-")
            rows[name, "cold"].append(trial(src, cache))
            rows[name, "warm"].append(trial(src, cache))
    print(f"{'source':<9}{'cache':<6}{'aelab fit s':>12}{'MLP fit s':>11}{'ratio':>8}  accuracy")
    for (name, kind), runs in rows.items():
        ours = statistics.median(r["aelab"] for r in runs)
        mlp = statistics.median(r["mlp"] for r in runs)
        accuracy = runs[-1]["train_accuracy"]
        print(f"{name:<9}{kind:<6}{ours:>12.2f}{mlp:>11.2f}{ours / mlp:>8.1f}  {accuracy:.3f}")


if __name__ == "__main__":
    main()

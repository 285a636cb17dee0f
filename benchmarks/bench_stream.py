"""Training from disk: a memory-mapped ``.npy`` against the same data in memory.

Makes N x 784 synthetic "images" (uint8: 10 classes, each a random prototype plus noise) as
``X.npy`` + ``y.npy`` in a scratch folder, then:

1. **Throughput.** ``train_phase`` pretrains a 784-512-256-32 autoencoder (ReLU, linear code,
   Adam 0.001, minibatch 256, shuffled epochs) on the scaled data twice: read from the
   memory map chunk by chunk (the scratch file ``split_dataset`` writes), and from the same
   array loaded into memory. After a warm-up of both lengths, the difference of ``--short``
   and ``--long`` step timings is the cost of the extra steps alone (the snapshots of every
   sample's code at both ends cancel out), as in ``bench_throughput.py``. Both runs see the
   same minibatches in the same order.
2. **The whole run.** ``aelab.run`` on ``X.npy`` (``--steps`` pretraining and fine-tuning
   steps of the ``finetune`` strategy, snapshots at the ends only), in a fresh process, with
   the time of each part and the peaks of the process's anonymous memory (``RssAnon``: what
   cannot be paged back to a file; sampled every 50 ms) through the end of training and over
   the whole run, against the size of the data. Pages of the memory map count in RSS only as
   cache the kernel may drop.

    python benchmarks/bench_stream.py [--samples 1000000] [--short 200] [--long 2000]
                                      [--steps 2000] [--folder /var/tmp/aelab-stream]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import jax
import numpy as np

import aelab
from aelab.data import load_file, split_dataset
from aelab.models.autoencoder import Autoencoder
from aelab.training.feeding import Batch
from aelab.training.trainer import train_phase
from aelab.training.trees import stack, to_numpy

D, HIDDEN, CODE, BATCH, CLASSES = 784, (512, 256), 32, 256, 10


def make_data(folder: Path, n: int) -> Path:
    """X.npy (n, 28, 28) uint8 and y.npy, written a chunk at a time."""
    rng = np.random.default_rng(0)
    # Classes differ by a little: a shared pattern plus a small class pattern, under noise.
    prototypes = rng.uniform(60, 196, size=D) + rng.normal(0, 12, size=(CLASSES, D))
    y = rng.integers(0, CLASSES, n)
    x = np.lib.format.open_memmap(folder / "X.npy", "w+", np.uint8, (n, 28, 28))
    for start in range(0, n, 65_536):
        labels = y[start : start + 65_536]
        noisy = prototypes[labels] + rng.normal(0, 60, size=(len(labels), D))
        x[start : start + len(labels)] = np.clip(noisy, 0, 255).reshape(-1, 28, 28)
    x.flush()
    del x
    np.save(folder / "y.npy", y)
    return folder / "X.npy"


class PeakAnonymous:
    """The peak of ``RssAnon`` (/proc/self/status) while the block runs, sampled every 50 ms;
    ``early`` is the peak until ``early_over`` is set (here: the end of training)."""

    def __enter__(self) -> PeakAnonymous:
        self.peak, self._running = self.now(), True
        self.early, self.early_over = self.peak, False
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def now() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
        return 0

    def _watch(self) -> None:
        while self._running:
            now = self.now()
            self.peak = max(self.peak, now)
            if not self.early_over:
                self.early = max(self.early, now)
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        self._running = False
        self._thread.join()


def seconds(x: np.ndarray, split, steps: int) -> float:
    model = Autoencoder(D, CLASSES, hidden=HIDDEN, code=CODE, activation="relu",
                        code_activation="linear")  # fmt: skip
    params = stack([to_numpy(model.init(jax.random.key(0)))])
    batch = Batch.from_split(x, split.y, split.is_train)
    t0 = time.perf_counter()
    train_phase(
        model, params, batch, ce_weight=np.zeros(1), recon_weight=np.ones(1),
        learning_rate=0.001, steps=steps, snapshot_every=steps, key=jax.random.key(1),
        batch_size=BATCH,
    )  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--short", type=int, default=200)
    parser.add_argument("--long", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--folder", type=Path, help="scratch folder [a new one in TMPDIR]")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="aelab-stream-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        path = make_data(folder, args.samples)
        size = path.stat().st_size
        print(f"{args.samples:,} x {D} uint8 samples: {size / 2**30:.2f} GiB on disk "
              f"(float32 scaled copy: {4 * size / 2**30:.2f} GiB), made in "
              f"{time.perf_counter() - t0:.0f} s")  # fmt: skip

        dataset, _ = load_file(path)
        t0 = time.perf_counter()
        split = split_dataset(dataset, 0.1, seed=0, scaling="minmax")
        print(f"split and scaled chunk by chunk onto disk: {time.perf_counter() - t0:.1f} s")
        rates = {}
        for name, x in (("disk", split.x), ("memory", np.array(split.x))):
            for n in (args.short, args.long):  # warm-up: compiles, first reads and copies
                seconds(x, split, n)
            times = {n: seconds(x, split, n) for n in (args.short, args.long)}
            rate = BATCH * (args.long - args.short) / (times[args.long] - times[args.short])
            rates[name] = rate
            print(f"{name:>6}: {args.short} steps {times[args.short]:.1f} s, {args.long} steps "
                  f"{times[args.long]:.1f} s -> {rate:,.0f} samples/s")  # fmt: skip
        print(f"from disk: {rates['disk'] / rates['memory']:.2f}x the in-memory throughput")
        del split, x
        run_whole(folder, path, args.steps, size)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_whole(folder: Path, path: Path, steps: int, size: int) -> None:
    """``aelab.run`` on the file in a fresh process, so that its peak memory is its own."""
    import json
    import subprocess
    import sys

    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); " + (
        f"import bench_stream as b; b.whole({str(folder)!r}, {str(path)!r}, {steps})"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"aelab.run on X.npy (a fresh process): {out['total']:.0f} s in all, finetune test "
          f"accuracy {out['accuracy']:.3f}; parts: {out['seconds']}")  # fmt: skip
    print(f"  anonymous memory: {out['start'] / 2**30:.2f} GiB at start, peak "
          f"{out['training'] / 2**30:.2f} GiB through the end of training (loading and "
          f"scaling included), peak "
          f"{out['peak'] / 2**30:.2f} GiB over the whole run; data {size / 2**30:.2f} GiB "
          f"as uint8, {4 * size / 2**30:.2f} GiB as float32")  # fmt: skip


def whole(folder: str, path: str, steps: int) -> None:
    import json

    config = aelab.RunConfig(
        strategies=("finetune",),
        data=aelab.DataConfig(dataset=str(path), test_size=0.1, scaling="minmax"),
        model=aelab.ModelConfig(
            hidden=HIDDEN, code=CODE, activation="relu", code_activation="linear"
        ),  # fmt: skip
        train=aelab.TrainConfig(
            pretrain_steps=steps,
            finetune_steps=steps,
            learning_rate=0.001,
            batch_size=BATCH,
            snapshot_every=steps,
        ),  # fmt: skip
    )
    start = PeakAnonymous.now()

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "finetune" and done == total:  # training is over: evaluation follows
            memory.early_over = True

    with PeakAnonymous() as memory:
        t0 = time.perf_counter()
        result = aelab.run(config, out=Path(folder) / "runs", name="disk", progress=progress)
        total = time.perf_counter() - t0
    timing = json.loads((result.run_dir / "timing.json").read_text())
    seconds = {k: round(v, 1) for k, v in timing["seconds"].items()}
    accuracy = result.metrics["strategies"]["finetune"]["test_accuracy"]
    print(json.dumps({"total": total, "accuracy": accuracy, "seconds": seconds,
                      "peak": memory.peak, "start": start, "training": memory.early}))  # fmt: skip


if __name__ == "__main__":
    main()

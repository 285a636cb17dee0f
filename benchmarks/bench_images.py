"""Image data as users have it (issue 17): time and peak memory of reading it, against a
plain loop that reads the same files.

Writes, into ``--folder`` (a temporary one by default), seeded synthetic data:

- CIFAR-10's binary layout: ``data_batch_1.bin`` … ``data_batch_5.bin`` of ``--records``
  records each and a ``test_batch.bin`` of as many (random pixels, labels 0-9);
- an image folder of ``--images`` PNG files of 32 x 32 RGB in 10 class folders.

Then, each in a fresh interpreter (so that its peak resident memory is its own), it
measures:

- ``cifar-numpy``: the peer: ``np.fromfile`` of every batch and the float32 pixels / 255
  (what a training loop needs, nothing more);
- ``cifar-aelab``: ``load_data(folder)`` and ``split_dataset`` (scaled to [0, 1], float32);
- ``cifar-aelab-float64``: the same from a float64 copy of the pixels, as an IDX file's or
  an NPZ's are held: what the byte path saves;
- ``folder-pillow``: the peer: a loop of ``np.asarray(Image.open(p).convert("RGB"))`` over
  the sorted files, stacked;
- ``folder-aelab``: ``load_data(folder)``.

It prints each one's seconds and peak resident memory (MB), and the ratios aelab / peer.

    python benchmarks/bench_images.py [--records 10000] [--images 10000] [--folder DIR]
                                      [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_cifar(folder: Path, records: int) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [*(f"data_batch_{k}.bin" for k in range(1, 6)), "test_batch.bin"]:
        batch = rng.integers(0, 256, (records, 3073), dtype=np.uint8)
        batch[:, 0] = np.arange(records) % 10
        batch.tofile(folder / name)


def make_folder(folder: Path, images: int) -> None:
    from PIL import Image  # the benchmark's own files

    rng = np.random.default_rng(0)
    for i in range(images):
        sub = folder / f"class{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(sub / f"{i:06d}.png")


def measure(which: str, folder: Path) -> dict:
    """One measurement, in this interpreter: seconds and the shape read."""
    start = time.perf_counter()
    if which == "cifar-numpy":
        files = sorted(folder.glob("data_batch_*.bin")) + [folder / "test_batch.bin"]
        records = [np.fromfile(p, np.uint8).reshape(-1, 3073) for p in files]
        x = np.concatenate([r[:, 1:] for r in records]).astype(np.float32) / 255
        shape = x.shape
    elif which.startswith("cifar-aelab"):
        import dataclasses

        from aelab.data import load_data, split_dataset

        ds, _ = load_data(str(folder))
        if which.endswith("float64"):
            ds = dataclasses.replace(ds, x=ds.x.astype(np.float64))
        shape = split_dataset(ds, 0.5, 0, scaling="auto").x.shape
    elif which == "folder-pillow":
        from PIL import Image

        files = sorted(p for p in folder.rglob("*.png"))
        shape = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in files]).shape
    else:
        from aelab.data import load_data

        shape = load_data(str(folder))[0].x.shape
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"which": which, "seconds": seconds, "peak_mb": peak_mb, "shape": list(shape)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.folder)))
        return
    root = args.folder or Path(tempfile.mkdtemp(prefix="aelab-images-"))
    cifar, images = root / f"cifar-{args.records}", root / f"images-{args.images}"
    if not cifar.exists():
        make_cifar(cifar, args.records)
    if not images.exists():
        make_folder(images, args.images)
    results = {}
    for which, folder in [
        ("cifar-numpy", cifar), ("cifar-aelab", cifar), ("cifar-aelab-float64", cifar),
        ("folder-pillow", images), ("folder-aelab", images),
    ]:  # fmt: skip
        command = [sys.executable, __file__, "--measure", which, "--folder", str(folder)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[which] = json.loads(out.strip().splitlines()[-1])
        r = results[which]
        print(f"{which:20s} {r['seconds']:7.2f} s  peak {r['peak_mb']:7.0f} MB  {r['shape']}")
    for ours, peer in (("cifar-aelab", "cifar-numpy"), ("folder-aelab", "folder-pillow")):
        a, b = results[ours], results[peer]
        print(
            f"{ours} / {peer}: time {a['seconds'] / b['seconds']:.2f}, "
            f"peak memory {a['peak_mb'] / b['peak_mb']:.2f}"
        )
    if args.json:
        meta = {"python": platform.python_version(), "machine": platform.machine()}
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

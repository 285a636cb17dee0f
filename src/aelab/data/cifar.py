"""CIFAR-10's binary version: ``data_batch_1.bin`` … ``data_batch_5.bin`` and
``test_batch.bin``, and never its pickled Python version (unpickling a file runs code).

A batch file is a run of records of 3,073 bytes: the label (0-9), then the 32 x 32 red
pixels, the green ones and the blue ones, each plane row by row. They become ``uint8`` rows
in height, width, channel order (``image_shape`` (32, 32, 3), as an image folder's colour
images), pixel values 0-255. ``batches.meta.txt`` beside the files names the classes (a
name a line, in label order); without it the classes are named ``0`` … ``9``.

A folder holding the files reads every ``data_batch_*.bin`` in it (in their number's order)
as the training part and its ``test_batch.bin``, when there, as the held-out part: the
dataset's own split, as the built-in ``mnist1d`` has one.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from aelab.data.datasets import Dataset
from aelab.data.images import pixel_names
from aelab.errors import DataError

SIDE, CHANNELS = 32, 3
RECORD = 1 + SIDE * SIDE * CHANNELS  # a label byte, then 3,072 pixel bytes
SHAPE = (SIDE, SIDE, CHANNELS)
_BATCH = re.compile(r"data_batch_(\d+)\.bin", re.IGNORECASE)
_PICKLED = re.compile(r"(data_batch_\d+|test_batch|batches\.meta)", re.IGNORECASE)
_PICKLE_USE = (
    "is CIFAR-10's pickled Python version, which aelab never reads (unpickling runs code); "
    "use its binary version (cifar-10-binary.tar.gz: data_batch_1.bin … test_batch.bin)"
)


def is_pickled(path: Path) -> bool:
    """Whether ``path`` is (a folder of) CIFAR's pickled Python version: a file named like
    its batches without ``.bin``, or a file that starts as a pickle does."""
    if path.is_dir():
        return any(_PICKLED.fullmatch(p.name) for p in path.iterdir() if p.is_file())
    if _PICKLED.fullmatch(path.name):
        return True
    try:
        with path.open("rb") as f:
            start = f.read(2)
    except OSError:
        return False
    return len(start) == 2 and start[0] == 0x80 and 2 <= start[1] <= 5  # pickle protocol 2-5


def refuse_pickled(path: Path) -> None:
    """A one-line error when ``path`` is CIFAR's pickled version (see :func:`is_pickled`)."""
    if is_pickled(path):
        raise DataError(f"{path}: {_PICKLE_USE}")


def is_cifar_folder(path: Path) -> bool:
    """Whether the folder ``path`` holds CIFAR-10's binary batches."""
    return any(_BATCH.fullmatch(p.name) for p in path.iterdir())


def _records(path: Path) -> int:
    """How many records ``path`` holds; a size that is not a whole number of records is
    one line naming the file."""
    size = path.stat().st_size
    if size == 0 or size % RECORD:
        hint = (
            "; it looks like CIFAR-100 (two label bytes a record), which aelab does not read"
            if size and size % (RECORD + 1) == 0
            else ""
        )
        raise DataError(
            f"{path}: holds {size:,} bytes, not a whole number of CIFAR-10 records of "
            f"{RECORD:,} bytes (a label byte, then 3,072 pixels); it is truncated or not "
            f"CIFAR-10's binary version: download it again{hint}"
        )
    return size // RECORD


def _read_into(path: Path, out: np.ndarray, labels: np.ndarray) -> None:
    """Read the records of ``path`` into ``out`` (n, 3072) and ``labels`` (n,)."""
    try:
        records = np.fromfile(path, np.uint8).reshape(-1, RECORD)  # (n, 3073)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    labels[:] = records[:, 0]
    bad = np.flatnonzero(labels > 9)
    if len(bad):
        raise DataError(
            f"{path}: record {bad[0] + 1} has the label {labels[bad[0]]}, not a CIFAR-10 class "
            "(0-9); it is not CIFAR-10's binary version"
        )
    planes = records[:, 1:].reshape(len(records), CHANNELS, SIDE, SIDE)  # (n, C, H, W)
    out.reshape(len(records), SIDE, SIDE, CHANNELS)[:] = planes.transpose(0, 2, 3, 1)


def _class_names(folder: Path) -> list[str]:
    meta = folder / "batches.meta.txt"
    if not meta.is_file():
        return [str(c) for c in range(10)]
    try:
        names = [line.strip() for line in meta.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{meta}: cannot be read as text ({exc}); restore or remove it") from None
    names = [n for n in names if n]
    if len(names) < 10 or len(set(names)) != len(names):
        raise DataError(
            f"{meta}: should name the 10 classes, one a line, each once; it has "
            f"{len(names)} names: restore it, or remove it to name the classes 0-9"
        )
    return names[:10]


def read_cifar(path: str | Path) -> Dataset:
    """CIFAR-10's binary batches as a :class:`Dataset` of ``uint8`` rows (32 x 32 x 3): one
    batch file, or a folder of them (its ``test_batch.bin`` the held-out part)."""
    path = Path(path)
    refuse_pickled(path)
    if path.is_dir():
        batches = sorted(
            (p for p in path.iterdir() if _BATCH.fullmatch(p.name)),
            key=lambda p: int(_BATCH.fullmatch(p.name).group(1)),
        )
        test = path / "test_batch.bin"
        files = [*batches, test] if test.is_file() else batches
        folder = path
    else:
        files, folder = [path], path.parent
    counts = [_records(p) for p in files]  # every file checked before any is read
    x = np.empty((sum(counts), RECORD - 1), np.uint8)  # (N, 3072), the only copy
    labels = np.empty(len(x), np.uint8)
    start = 0
    for p, n in zip(files, counts, strict=True):
        _read_into(p, x[start : start + n], labels[start : start + n])
        start += n
    names = _class_names(folder)
    present, y = np.unique(labels, return_inverse=True)
    test_mask = None
    if path.is_dir() and files[-1].name == "test_batch.bin":
        test_mask = np.arange(len(x)) >= len(x) - counts[-1]
    return Dataset(
        name=path.name, x=x, y=y.astype(np.int32), feature_names=pixel_names(SHAPE),
        class_names=tuple(names[c] for c in present), image_shape=SHAPE, test_mask=test_mask,
    )  # fmt: skip

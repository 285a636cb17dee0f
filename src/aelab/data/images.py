"""Image folders as people have them: one subfolder of PNG or JPEG images per class.

Read as torchvision's ``ImageFolder`` reads them: the classes are the subfolders' names,
sorted; a class folder's images are found in it and in its own subfolders. Read with Pillow,
in two passes: every file's header first (its size and mode: cheap, and every problem is
found before any pixel is decoded), then the pixels, into one ``uint8`` array.

- **Greyscale or colour.** When every image is greyscale (Pillow's modes ``L``, ``1``,
  ``LA``, or a palette of greys), the data is greyscale: ``image_shape`` (height, width).
  When any image is in colour (``RGB``, ``RGBA``, ``CMYK``, ``YCbCr``, a palette of
  colours), every image is read as RGB: ``image_shape`` (height, width, 3), the greyscale
  ones with three equal channels. Transparency is ignored: a pixel keeps its colour as if it
  were opaque. 16-bit and floating-point images (modes ``I;16``, ``I``, ``F``) are refused.
- **Sizes.** Every image must have the same size, unless ``image_size`` resizes all of them
  (bilinear, antialiased, to exactly height x width: the aspect ratio is not kept).
- **Values.** Pixels are kept as bytes 0-255 (rows in height, width, channel order), as an
  MNIST IDX file holds them; the split scales them (``--scaling auto``: to [0, 1]).

Every problem is one :class:`~aelab.errors.DataError` line naming the file and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aelab.data.datasets import Dataset
from aelab.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_GREY = ("L", "1", "LA")
_COLOUR = ("RGB", "RGBA", "CMYK", "YCbCr", "RGBX", "RGBa")
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError)  # what Pillow raises on bad files


def _fail(path: Path, problem: str) -> DataError:
    return DataError(f"{path}: {problem}")


def _pillow():
    from PIL import Image  # imported when images are read: `aelab --help` stays fast

    return Image


@dataclass(frozen=True)
class _Header:
    """What a file's header says: its size (width, height, as Pillow gives it) and whether
    it is in colour."""

    path: Path
    size: tuple[int, int]
    colour: bool


def class_files(folder: Path) -> dict[str, list[Path]]:
    """Each class's image files, sorted: the classes are ``folder``'s subfolders (sorted),
    their files found in them and in their own subfolders. A stray file, an empty class
    folder, or a folder without class folders is one line naming it."""
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    strays = [p for p in entries if not p.is_dir()]
    if strays:
        raise _fail(
            strays[0], "is not in a class folder; an image folder holds one subfolder of "
            "images per class and nothing else: move it into its class's folder or remove it",
        )  # fmt: skip
    if not entries:
        raise _fail(
            folder, "has no class folders; put each class's PNG or JPEG images in a subfolder "
            "named after the class",
        )  # fmt: skip
    classes = {}
    for sub in entries:
        files = []
        for root, dirs, names in os.walk(sub, followlinks=True):  # as ImageFolder walks
            dirs.sort()
            files += [Path(root) / name for name in sorted(names)]
        for path in files:
            if not path.name.lower().endswith(IMAGE_SUFFIXES):
                raise _fail(
                    path, "is not a PNG or JPEG image (.png, .jpg, .jpeg); an image folder "
                    "holds images only: remove it or move it out of the folder",
                )  # fmt: skip
        if not files:
            raise _fail(sub, "is an empty class folder; add its images, or remove the folder")
        classes[sub.name] = files
    return classes


def _header(path: Path) -> _Header:
    """A file's size and colour, read from its header (no pixel is decoded)."""
    image_module = _pillow()
    try:
        with image_module.open(path) as image:
            mode, size = image.mode, image.size
            palette = image.getpalette() if mode in ("P", "PA") else None
    except image_module.DecompressionBombError:
        raise _fail(path, "is too large an image to read safely; make it smaller") from None
    except _UNREADABLE as exc:
        raise _fail(
            path, f"is not an image Pillow can read ({exc}); replace or remove it"
        ) from None
    if palette is not None:
        rgb = np.asarray(palette, np.int64).reshape(-1, 3)
        return _Header(path, size, bool((rgb != rgb[:, :1]).any()))
    if mode not in _GREY + _COLOUR:
        raise _fail(
            path, f"is an image of mode {mode} (16-bit or floating-point pixels); aelab reads "
            "8-bit greyscale or colour images: save it as 8-bit PNG or JPEG",
        )  # fmt: skip
    return _Header(path, size, mode in _COLOUR)


def _pixels(path: Path, colour: bool, size: tuple[int, int] | None) -> np.ndarray:
    """The decoded image (height, width[, 3]) uint8, converted to RGB or to greyscale and
    resized to ``size`` (width, height) when given."""
    image_module = _pillow()
    try:
        with image_module.open(path) as image:
            image.load()  # a truncated or damaged file fails here
            if image.mode in ("P", "PA"):
                image = image.convert("RGBA")  # a palette's transparency, then dropped below
            image = image.convert("RGB" if colour else "L")
            if size is not None and image.size != size:
                image = image.resize(size, image_module.Resampling.BILINEAR)
            return np.asarray(image, np.uint8)
    except _UNREADABLE as exc:
        raise _fail(
            path, f"cannot be decoded ({exc}); it is truncated or damaged: replace or remove it"
        ) from None


def _size_text(size: tuple[int, int]) -> str:
    return f"{size[1]}x{size[0]}"  # Pillow's (width, height) as height x width


def read_image_folder(
    folder: str | Path,
    image_size: tuple[int, int] | None = None,
    colour: bool | None = None,
) -> Dataset:
    """The images of ``folder`` (one subfolder per class) as a :class:`Dataset` of ``uint8``
    rows; see the module's docstring for how they are read.

    Args:
        image_size: (height, width) every image is resized to; ``None`` requires one size.
        colour: read every image in colour (``True``) or greyscale (``False``, colour images
            converted to their luminance); ``None`` decides from the images (any colour
            image: colour). A test folder is read in its training folder's mode.
    """
    folder = Path(folder)
    classes = class_files(folder)
    headers = [[_header(path) for path in files] for files in classes.values()]
    every = [h for group in headers for h in group]
    if colour is None:
        colour = any(h.colour for h in every)
    size = None if image_size is None else (int(image_size[1]), int(image_size[0]))
    if size is None:
        first = every[0]
        other = next((h for h in every if h.size != first.size), None)
        if other is not None:
            raise _fail(
                other.path, f"is {_size_text(other.size)} pixels (height x width) but "
                f"{first.path} is {_size_text(first.size)}; every image needs one size: "
                f"resize them, or give --image-size {_size_text(first.size)}",
            )  # fmt: skip
        size_hw = (first.size[1], first.size[0])
    else:
        size_hw = (size[1], size[0])
    shape = (*size_hw, 3) if colour else size_hw
    x = np.empty((len(every), int(np.prod(shape))), np.uint8)  # (N, H*W[*3])
    for i, h in enumerate(every):
        x[i] = _pixels(h.path, colour, size).reshape(-1)
    y = np.repeat(np.arange(len(classes), dtype=np.int32), [len(g) for g in headers])
    return Dataset(
        name=folder.name or str(folder), x=x, y=y, feature_names=pixel_names(shape),
        class_names=tuple(classes), image_shape=tuple(int(s) for s in shape),
    )  # fmt: skip


def pixel_names(shape: tuple[int, ...]) -> tuple[str, ...]:
    """Feature names of images of ``shape``: ``pixel0`` … for greyscale, ``pixel0.r``,
    ``pixel0.g``, ``pixel0.b`` … for colour (pixels in row-major order)."""
    pixels = int(np.prod(shape[:2]))
    if len(shape) == 2:
        return tuple(f"pixel{i}" for i in range(pixels))
    return tuple(f"pixel{i}.{c}" for i in range(pixels) for c in "rgb")

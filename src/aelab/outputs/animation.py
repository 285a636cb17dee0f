"""``animation.gif``: the code of every sample moving through pretraining, then through each
strategy's fine-tuning, drawn from a run folder's snapshots (a pure function of the folder).

Frames are drawn with Pillow (which matplotlib already needs), one small scatter per stage:
fast enough for hundreds of frames. An ``.mp4`` is written too when ``ffmpeg`` is on the PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from aelab.outputs.folders import RunFolder, read_run
from aelab.outputs.style import COLORS, frames, projection, rgb, shown_rows
from aelab.training.plan import PRETRAINED

PANEL = 220  # pixels a side
MARGIN = 14
_RGB = [rgb(c) for c in COLORS]


@dataclass(frozen=True)
class _Scene:
    """Every stage's path through the plane, and how its samples are drawn."""

    planes: dict[str, np.ndarray]  # stage -> (frames, samples, 2)
    steps: dict[str, np.ndarray]  # stage -> (frames,) step of each frame
    label: np.ndarray
    train: np.ndarray
    labelled: np.ndarray
    lo: np.ndarray
    span: np.ndarray

    def panel(self, draw: ImageDraw.ImageDraw, col: int, xy: np.ndarray, title: str) -> None:
        ox = col * (PANEL + MARGIN) + MARGIN
        draw.rectangle([ox, 24, ox + PANEL, 24 + PANEL], outline=(200, 200, 200))
        draw.text((ox, 6), title, fill=(0, 0, 0))
        pos = (xy - self.lo) / self.span * (PANEL - 10) + 5
        for i in np.argsort(self.train, kind="stable"):  # held-out first, training on top
            x, y = ox + pos[i, 0], 24 + PANEL - pos[i, 1]
            color = _RGB[self.label[i] % len(_RGB)]
            r = 1.5 if self.train[i] and not self.labelled[i] else 3
            box = [x - r, y - r, x + r, y + r]
            if self.train[i]:
                draw.ellipse(box, fill=color)
            else:
                draw.ellipse(box, outline=color)


def _scene(folder: RunFolder) -> _Scene:
    lat = folder.latents
    mean, basis, _ = projection(lat[f"code/{folder.reference_stage}"])
    shown = shown_rows(len(lat["label"]))  # large data: the report's seeded subset of samples
    paths = {s: lat[f"snapshots/{s}"][:, shown] for s in folder.stages}
    planes = {s: (paths[s][frames(paths[s])] - mean) @ basis for s in folder.stages}
    every = np.concatenate([p.reshape(-1, 2) for p in planes.values()])
    lo, hi = every.min(axis=0), every.max(axis=0)
    steps = {
        s: lat[f"snapshot_steps/{'pretrain' if s == PRETRAINED else 'finetune'}"][frames(paths[s])]
        for s in folder.stages
    }
    return _Scene(
        planes, steps, lat["label"][shown].astype(int), lat["is_train"][shown].astype(bool),
        lat["is_labelled"][shown].astype(bool), lo, np.maximum(hi - lo, 1e-6),
    )  # fmt: skip


def _images(scene: _Scene, strategies: list[str]) -> list[Image.Image]:
    """Pretraining's frames (when the run pretrained), then every strategy's side by side,
    pretraining at its end."""
    planes, steps = scene.planes, scene.steps
    pretrained = PRETRAINED in planes
    width = (pretrained + len(strategies)) * (PANEL + MARGIN) + MARGIN
    t_pre = len(planes[PRETRAINED]) if pretrained else 0
    t_ft = max(len(planes[s]) for s in strategies)
    images = []
    for t in range(t_pre + t_ft):
        image = Image.new("RGB", (width, PANEL + 40), "white")
        draw = ImageDraw.Draw(image)
        if pretrained:
            pre = min(t, t_pre - 1)
            title = f"pretraining, step {steps[PRETRAINED][pre]}"
            scene.panel(draw, 0, planes[PRETRAINED][pre], title)
        for col, s in enumerate(strategies, start=int(pretrained)):
            k = max(0, min(t - t_pre, len(planes[s]) - 1))
            scene.panel(draw, col, planes[s][k], f"{s}, step {steps[s][k] if t >= t_pre else 0}")
        images.append(image)
    return images


def write_animation(run_dir: str | Path, fps: int = 8) -> dict[str, Path]:
    """Write ``animation.gif`` (and ``animation.mp4`` with ffmpeg) into ``run_dir``."""
    run_dir = Path(run_dir)
    folder = read_run(run_dir)
    images = _images(_scene(folder), folder.strategies)
    images += [images[-1]] * fps  # rest on the end for a second
    out = {"animation": run_dir / "animation.gif"}
    tmp = run_dir / ".animation.tmp.gif"
    duration = 10 * max(1, round(100 / fps))  # GIF keeps hundredths of a second
    images[0].save(tmp, save_all=True, append_images=images[1:], duration=duration, loop=0)
    os.replace(tmp, out["animation"])
    if shutil.which("ffmpeg"):
        mp4 = run_dir / "animation.mp4"
        tmp_mp4 = run_dir / ".animation.tmp.mp4"
        result = subprocess.run(
            ["ffmpeg", "-y", "-loglevel", "error", "-i", str(out["animation"]),
             "-movflags", "faststart", "-pix_fmt", "yuv420p",
             "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", str(tmp_mp4)],
            capture_output=True, check=False,
        )  # fmt: skip
        if result.returncode == 0:
            os.replace(tmp_mp4, mp4)
            out["animation_mp4"] = mp4
        else:
            tmp_mp4.unlink(missing_ok=True)
    return out


__all__ = ["write_animation"]

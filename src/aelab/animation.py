"""``animation.gif``: the code of every sample moving through pretraining, then through each
strategy's fine-tuning, drawn from a run folder's snapshots (a pure function of the folder).

Frames are drawn with Pillow (which matplotlib already needs), one small scatter per stage:
fast enough for hundreds of frames. An ``.mp4`` is written too when ``ffmpeg`` is on the PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from aelab.report import MAX_POINTS, _frames, _projection

PANEL = 220  # pixels a side
MARGIN = 14
_RGB = [
    (31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (23, 190, 207), (188, 189, 34), (127, 127, 127),
]  # fmt: skip


def write_animation(run_dir: str | Path, fps: int = 8) -> dict[str, Path]:
    """Write ``animation.gif`` (and ``animation.mp4`` with ffmpeg) into ``run_dir``."""
    from PIL import Image, ImageDraw

    run_dir = Path(run_dir)
    with np.load(run_dir / "latents.npz", allow_pickle=False) as npz:
        lat = {k: npz[k] for k in npz.files}
    strategies = [str(s) for s in lat["strategies"]]
    mean, basis, _ = _projection(lat)
    stages = ["pretrained", *strategies]
    n = len(lat["label"])  # large data: the report's seeded subset of samples
    shown = np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False)) if (
        n > MAX_POINTS
    ) else np.arange(n)  # fmt: skip
    paths = {s: lat[f"snapshots/{s}"][:, shown] for s in stages}
    planes = {s: (paths[s][_frames(paths[s])] - mean) @ basis for s in stages}
    every = np.concatenate([p.reshape(-1, 2) for p in planes.values()])
    lo, hi = every.min(axis=0), every.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    steps = {
        "pretrained": lat["snapshot_steps/pretrain"][_frames(paths["pretrained"])],
        **{s: lat["snapshot_steps/finetune"][_frames(paths[s])] for s in strategies},
    }
    label, train = lat["label"][shown].astype(int), lat["is_train"][shown].astype(bool)
    labelled = lat["is_labelled"][shown].astype(bool)

    def panel(draw, col: int, xy: np.ndarray, title: str) -> None:
        ox = col * (PANEL + MARGIN) + MARGIN
        draw.rectangle([ox, 24, ox + PANEL, 24 + PANEL], outline=(200, 200, 200))
        draw.text((ox, 6), title, fill=(0, 0, 0))
        pos = (xy - lo) / span * (PANEL - 10) + 5
        for i in np.argsort(train, kind="stable"):  # held-out first, training on top
            x, y = ox + pos[i, 0], 24 + PANEL - pos[i, 1]
            color = _RGB[label[i] % len(_RGB)]
            r = 1.5 if train[i] and not labelled[i] else 3
            box = [x - r, y - r, x + r, y + r]
            if train[i]:
                draw.ellipse(box, fill=color)
            else:
                draw.ellipse(box, outline=color)

    width = len(stages) * (PANEL + MARGIN) + MARGIN
    height = PANEL + 40
    frames = []
    t_pre = len(planes["pretrained"])
    t_ft = max(len(planes[s]) for s in strategies)
    for t in range(t_pre + t_ft):
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        pre = min(t, t_pre - 1)
        panel(draw, 0, planes["pretrained"][pre], f"pretraining, step {steps['pretrained'][pre]}")
        for col, s in enumerate(strategies, start=1):
            k = max(0, min(t - t_pre, len(planes[s]) - 1))
            panel(draw, col, planes[s][k], f"{s}, step {steps[s][k] if t >= t_pre else 0}")
        frames.append(image)
    frames += [frames[-1]] * fps  # rest on the end for a second
    out = {"animation": run_dir / "animation.gif"}
    tmp = run_dir / ".animation.tmp.gif"
    duration = 10 * max(1, round(100 / fps))  # GIF keeps hundredths of a second
    frames[0].save(tmp, save_all=True, append_images=frames[1:], duration=duration, loop=0)
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

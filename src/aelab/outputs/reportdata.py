"""What a run's ``report.html`` draws, as plain JSON-ready values: a pure function of the run
folder.

Coordinates travel compactly: every panel's snapshots are quantised to 16-bit integers over
the panel's box (65,535 steps across it, far finer than a screen shows even zoomed in 100
times) and written as base64, about 5.3 bytes a point instead of the ~40 of a float's decimal
text. The number of snapshots a stage keeps is set so that the coordinates of the largest
page (2,000 drawn samples, five stages) stay near :data:`POINT_BUDGET`.
"""

from __future__ import annotations

import base64
import io

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.image import imsave

from aelab.analysis.metrics import linear_cka
from aelab.config import STRATEGIES
from aelab.errors import RunFolderError
from aelab.outputs.folders import RunFolder
from aelab.outputs.style import COLORS, MAX_FRAMES, frames, most_variable, projection, shown_rows
from aelab.training.plan import PRETRAINED
from aelab.training.program import HISTORY_FIELDS

MAX_FEATURES = 8  # original features shown on hover
GRID = 240  # decision-region resolution (drawn smoothed: no staircase at panel size)
CURVE_POINTS = 400  # points of a loss curve
POINT_BUDGET = 220_000  # sample positions (x, y) embedded over all stages and snapshots
MIN_FRAMES = 8  # snapshots a stage keeps however large the data


def encode(values: np.ndarray, box) -> dict:
    """``values`` (..., 2) as 16-bit integers over ``box`` ``[[x0, x1], [y0, y1]]``, base64:
    the page decodes ``x0 + (q + 32767) / 65534 * (x1 - x0)``."""
    lo = np.array([box[0][0], box[1][0]])
    span = np.array([box[0][1], box[1][1]]) - lo
    unit = (np.asarray(values, np.float64) - lo) / span  # 0..1 inside the box
    q = np.round(np.clip(unit, 0.0, 1.0) * 65534 - 32767).astype("<i2")
    return {"shape": list(values.shape), "b64": base64.b64encode(q.tobytes()).decode("ascii")}


def decode(block: dict, box) -> np.ndarray:
    """:func:`encode`'s values back (to within 1/65534 of the box)."""
    q = np.frombuffer(base64.b64decode(block["b64"]), "<i2").reshape(block["shape"])
    lo = np.array([box[0][0], box[1][0]])
    span = np.array([box[0][1], box[1][1]]) - lo
    return lo + (q.astype(np.float64) + 32767) / 65534 * span


def short(values) -> list:
    """Numbers as the shortest text of 4 significant digits (``None`` for non-finite ones):
    ``0.0455``, never float32's ``0.045499999076128006``."""
    return [float(f"{v:.4g}") if np.isfinite(v) else None for v in np.asarray(values, np.float64)]


def _box(points: np.ndarray) -> list[list[float]]:
    flat = points.reshape(-1, 2)
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    pad = 0.05 * np.maximum(hi - lo, 1e-6)
    return [[float(f"{lo[i] - pad[i]:.6g}"), float(f"{hi[i] + pad[i]:.6g}")] for i in (0, 1)]


def frame_limit(n_shown: int, n_stages: int) -> int:
    """Snapshots each stage keeps: all of them (up to ``MAX_FRAMES``) while the page's
    coordinates fit :data:`POINT_BUDGET`, fewer (down to ``MIN_FRAMES``) beyond."""
    return int(np.clip(POINT_BUDGET // max(n_shown * n_stages, 1), MIN_FRAMES, MAX_FRAMES))


def code_stages(folder: RunFolder, shown: np.ndarray) -> tuple[list[dict], list, list[str]]:
    """Every stage's kept snapshots in the run's plane (one box: the units agree), their
    steps, its phase and whether it starts from the pretrained code; the box; the axes."""
    lat = folder.latents
    mean, basis, axes = projection(lat[f"code/{folder.reference_stage}"], folder.reference_stage)
    limit = frame_limit(len(shown), len(folder.stages))
    planes, stages = [], []
    if basis.shape[0] == 1:  # a 1-D code: the class (jittered, fixed seed) up, as the figure
        axes = [axes[0], "class (spread out to be seen)"]
        jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(lat["label"]))
        mean, basis = np.zeros(1), np.array([[1.0, 0.0]])
        up = (lat["label"] + jitter)[shown]  # (n,)
    for name in folder.stages:
        snaps = lat[f"snapshots/{name}"]
        keep = frames(snaps, limit)
        phase = "pretrain" if name == PRETRAINED else "finetune"
        plane = (snaps[keep][:, shown, :] - mean) @ basis  # (T, n, 2)
        if basis.shape[0] == 1:
            plane[..., 1] = up
        planes.append(plane)
        stages.append(
            {
                "name": name,
                "phase": phase,
                "from_pretrained": name != PRETRAINED and STRATEGIES[name].from_pretrained,
                "steps": [int(s) for s in lat[f"snapshot_steps/{phase}"][keep]],
            }
        )
    box = _box(np.concatenate([p.reshape(-1, 2) for p in planes]))
    for stage, plane in zip(stages, planes, strict=True):
        stage["frames"] = encode(plane, box)
    return stages, box, axes


def raw_panel(names: list[str], raw: np.ndarray) -> dict | None:
    """The raw data's panel: its two most variable features, in their own units (``None``
    for data of one feature)."""
    if raw.shape[1] < 2:
        return None
    cols = most_variable(raw)
    points = raw[None, :, cols]  # (1, n, 2): one frame, raw data does not train
    box = _box(points)
    return {"axes": [str(names[c]) for c in cols], "box": box, "frames": encode(points, box)}


def decision_regions(folder: RunFolder, box, n_classes: int) -> dict[str, str]:
    """Each strategy's softmax head on a grid of 2-D codes, as a PNG data URI (2-D codes
    only: a head over more units has no plane to draw on)."""
    (x0, x1), (y0, y1) = box
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y1, y0, GRID))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    palette = np.array([mcolors.to_rgb(COLORS[c % len(COLORS)]) for c in range(n_classes)])
    out = {}
    for stage in folder.strategies:
        if not folder.has_checkpoint(stage):
            continue
        model, params = folder.checkpoint(stage)
        if model.code != 2 or model.n_classes != n_classes:
            raise RunFolderError(
                f"{folder.path / 'checkpoints' / (stage + '.npz')}: its model is not the run's; "
                "rerun to write it again, or restore the file"
            )
        winner = np.asarray(model.logits(params, grid)).argmax(axis=1).reshape(GRID, GRID)
        rgba = np.concatenate([palette[winner], np.full((GRID, GRID, 1), 0.22)], axis=2)
        png = io.BytesIO()
        imsave(png, rgba, format="png")
        out[stage] = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")
    return out


def _curve_rows(length: int) -> np.ndarray:
    """At most ``CURVE_POINTS`` step indices, evenly spread on a linear and on a log axis."""
    if length <= CURVE_POINTS:
        return np.arange(length)
    lin = np.linspace(0, length - 1, CURVE_POINTS // 2)
    log = np.geomspace(1, length, CURVE_POINTS // 2) - 1
    return np.unique(np.concatenate([lin, log]).round().astype(int))


def history(folder: RunFolder) -> dict:
    """Each stage's losses by field (the fields that are not all zero), at most
    ``CURVE_POINTS`` steps each (step 1 is the first)."""
    out: dict = {"fields": [], "stages": {}}
    raw = folder.history()
    used = [
        i for i in range(len(HISTORY_FIELDS))
        if any(np.nanmax(np.abs(h[:, i]), initial=0.0) > 0 for h in raw.values() if len(h))
    ]  # fmt: skip
    out["fields"] = [HISTORY_FIELDS[i] for i in used]
    for name, losses in raw.items():
        rows = _curve_rows(len(losses))
        out["stages"][name] = {
            "steps": (rows + 1).tolist(),
            "values": [short(losses[rows, i]) for i in used],
        }
    return out


def cka_curves(folder: RunFolder) -> dict:
    """Each strategy's linear CKA to the final pretrained code at every snapshot (all
    samples), and each strategy's per-layer CKA at the end when the model has more than one
    encoder layer. ``{}`` for a run without pretraining."""
    lat = folder.latents
    if not folder.pretrained:
        return {}
    reference = lat[f"code/{PRETRAINED}"]
    out = {"steps": [int(s) for s in lat["snapshot_steps/finetune"]], "stages": {}, "layers": {}}
    for name in folder.strategies:
        out["stages"][name] = short([linear_cka(s, reference) for s in lat[f"snapshots/{name}"]])
        layers = folder.metrics["strategies"].get(name, {}).get("layer_cka_to_pretrained")
        if layers and len(layers) > 1:
            out["layers"][name] = short(layers)
    return out


def shown_features(
    names: list[str], raw: np.ndarray, categorical: dict[str, list[str]]
) -> tuple[list[str], list[list], int]:
    """What a sample's tooltip lists: the first ``MAX_FEATURES`` columns of the table, each
    sample's values in them (``raw``: (n, D), unscaled), and how many columns are left out.
    A categorical column's one-hot features fold back into the column and the sample's
    category (``(unseen in training)`` when training never saw it)."""
    starts = {f"{c}={values[0]}": (c, values) for c, values in categorical.items() if values}
    columns, shown, j = [], [], 0
    while j < len(names):
        name = str(names[j])
        column, values = starts.get(name, (name, ()))
        width = max(len(values), 1)
        if len(columns) < MAX_FEATURES:
            if values:
                block = raw[:, j : j + width]  # (n, C) one-hot; all 0: an unseen category
                seen = block.max(axis=1) > 0.5
                picked = np.where(seen, np.argmax(block, axis=1), -1)
                shown.append([values[i] if i >= 0 else "(unseen in training)" for i in picked])
            else:
                shown.append(short(raw[:, j]))
        columns.append(column)
        j += width
    kept = columns[:MAX_FEATURES]
    return kept, [list(row) for row in zip(*shown, strict=True)], len(columns) - len(kept)


def run_report_data(folder: RunFolder) -> dict:
    """Everything the page draws, as plain JSON-ready values."""
    lat = folder.latents
    n = len(lat["label"])
    shown = shown_rows(n)
    stages, box, axes = code_stages(folder, shown)
    # A run on data from disk keeps only the shown rows of its inputs ("x_rows").
    rows = lat["x"] if "x_rows" in lat else lat["x"][shown]
    raw = np.asarray(rows, np.float64) * lat["scaler_scale"] + lat["scaler_mean"]
    names = [str(f) for f in lat["feature_names"]]
    categorical = folder.metrics["data"].get("categorical", {})
    features, values, more = shown_features(names, raw, categorical)
    regions = {}
    if lat[f"code/{folder.reference_stage}"].shape[1] == 2:
        regions = decision_regions(folder, box, len(lat["class_names"]))
    return {
        "colors": COLORS,
        "classes": [str(c) for c in lat["class_names"]],
        "axes": axes,
        "box": box,
        "shown": len(shown),
        "total": n,
        "samples": {
            "index": shown.tolist(),
            "label": lat["label"][shown].astype(int).tolist(),
            "train": lat["is_train"][shown].astype(bool).tolist(),
            "labelled": lat["is_labelled"][shown].astype(bool).tolist(),
            "features": values,
        },
        "feature_names": features,
        "more_features": more,
        "raw": raw_panel(names, raw),
        "stages": stages,
        "regions": regions,
        "history": history(folder),
        "cka": cka_curves(folder),
    }

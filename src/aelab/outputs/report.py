"""``report.html``: one self-contained page that tells the story of a run, a pure function of
its folder.

Everything is inlined (the stage figure as a data URI, the data as JSON, the script and the
styles), so the page opens offline and no request leaves it. Every string the user supplied
(file, column, class and run names) reaches the page either escaped as HTML text or inside a
JSON block whose ``<``, ``>`` and ``&`` are escaped, and the script only ever writes them with
``textContent``: a class named ``<script>alert(1)</script>`` shows as text.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from importlib import resources
from pathlib import Path
from string import Template

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.image import imsave

from aelab.errors import RunFolderError
from aelab.outputs.folders import RunFolder, is_run, is_sweep, read_run
from aelab.outputs.style import COLORS, frames, projection, shown_rows
from aelab.training.plan import PRETRAINED

MAX_FEATURES = 8  # original features shown on hover
GRID = 96  # decision-region resolution


def _json_block(value) -> str:
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _decision_regions(folder: RunFolder, box, n_classes: int) -> dict[str, str]:
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


def _history(folder: RunFolder) -> dict[str, list[float | None]]:
    """Loss curves, at most 400 points each."""
    out = {}
    for name, losses in folder.history().items():
        loss = losses[:, 0]
        idx = np.unique(np.linspace(0, len(loss) - 1, min(400, len(loss))).astype(int))
        out[name] = [float(v) if np.isfinite(v) else None for v in loss[idx]] if len(loss) else []
    return out


def run_report_data(folder: RunFolder) -> dict:
    """Everything the page draws, as plain JSON-ready values."""
    lat = folder.latents
    n = len(lat["label"])
    shown = shown_rows(n)
    mean, basis, axes = projection(lat[f"code/{folder.reference_stage}"], folder.reference_stage)

    def plane(codes: np.ndarray) -> list:
        return np.round((codes[..., shown, :] - mean) @ basis, 4).tolist()

    stages = _stages(folder, plane)
    every = np.concatenate([np.asarray(s["frames"]).reshape(-1, 2) for s in stages])
    lo, hi = every.min(axis=0), every.max(axis=0)
    pad = 0.05 * np.maximum(hi - lo, 1e-6)
    box = [
        [float(lo[0] - pad[0]), float(hi[0] + pad[0])],
        [float(lo[1] - pad[1]), float(hi[1] + pad[1])],
    ]
    # A run on data from disk keeps only the shown rows of its inputs ("x_rows").
    rows = lat["x"] if "x_rows" in lat else lat["x"][shown]
    raw = rows * lat["scaler_scale"] + lat["scaler_mean"]
    categorical = folder.metrics["data"].get("categorical", {})
    features, values, more = _shown_features(list(lat["feature_names"]), raw, categorical)
    regions = {}
    if lat[f"code/{folder.reference_stage}"].shape[1] == 2:
        regions = _decision_regions(folder, box, len(lat["class_names"]))
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
        "stages": stages,
        "regions": regions,
        "history": _history(folder),
        "metrics": folder.metrics,
    }


def _shown_features(
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
                shown.append(np.round(raw[:, j], 4).tolist())
        columns.append(column)
        j += width
    kept = columns[:MAX_FEATURES]
    return kept, [list(row) for row in zip(*shown, strict=True)], len(columns) - len(kept)


def _stages(folder: RunFolder, plane) -> list[dict]:
    """Every stage's snapshots (at most ``MAX_FRAMES``) in the plane, with their steps."""
    lat, stages = folder.latents, []
    for name in folder.stages:
        snaps = lat[f"snapshots/{name}"]
        keep = frames(snaps)
        phase = "pretrain" if name == PRETRAINED else "finetune"
        stages.append(
            {
                "name": name,
                "steps": [int(s) for s in lat[f"snapshot_steps/{phase}"][keep]],
                "frames": plane(snaps[keep]),
            }
        )
    return stages


def _metrics_table(metrics: dict) -> str:
    columns = {
        "test_accuracy": "held-out accuracy",
        "train_accuracy": "training accuracy",
        "unlabelled_accuracy": "unlabelled accuracy",
        "test_reconstruction_mse": "held-out reconstruction MSE",
        "reconstruction_drift": "reconstruction drift",
        "cka_to_pretrained": "CKA to pretrained",
        "mean_displacement": "mean displacement",
        "knn_accuracy": "kNN on the code",
        "probe_accuracy": "linear probe on the code",
    }
    pretrained = {PRETRAINED: metrics[PRETRAINED]} if PRETRAINED in metrics else {}
    rows = pretrained | metrics["strategies"]
    used = [k for k in columns if any(k in r for r in rows.values())]
    head = "".join(f"<th>{html.escape(columns[k])}</th>" for k in used)
    body = []
    for name, values in rows.items():
        cells = "".join(f"<td>{_number(values.get(k))}</td>" for k in used)
        body.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    return f"<table><tr><th>stage</th>{head}</tr>{''.join(body)}</table>"


def _number(value) -> str:
    return "–" if not isinstance(value, int | float) else f"{value:.3f}"


def _settings_list(folder: RunFolder) -> str:
    data = folder.metrics["data"]
    facts = [
        ("data", data.get("dataset", "?")),
        ("samples", f"{data.get('n_train', 0)} training ({data.get('n_labelled', 0)} labelled, "
                    f"{data.get('n_unlabelled', 0)} unlabelled), {data.get('n_test', 0)} held out"),
        ("features", str(data.get("n_features", "?"))),
        ("classes", ", ".join(str(c) for c in data.get("class_names", []))),
    ]  # fmt: skip
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in facts)
    config = (folder.path / "config.toml").read_text(encoding="utf-8")
    return (
        f"<ul>{items}</ul><details><summary>settings (config.toml)</summary>"
        f"<pre>{html.escape(config)}</pre></details>"
    )


def _template(name: str) -> str:
    return (resources.files("aelab.outputs") / "templates" / name).read_text(encoding="utf-8")


def render_run(run_dir: str | Path, name: str | None = None) -> str:
    """The page of a run folder, as HTML text."""
    folder = read_run(run_dir)
    data = run_report_data(folder)
    figure = folder.path / "stages.png"
    figure_html = (
        f'<img class="figure" alt="stage figure" src="{_data_uri(figure)}">'
        if figure.is_file()
        else "<p>(no stages.png in this folder)</p>"
    )
    subset = (
        f"<p class=note>{data['shown']:,} of {data['total']:,} samples drawn (a seeded subset).</p>"
        if data["shown"] < data["total"]
        else ""
    )
    title = name or folder.path.name
    return Template(_template("run.html")).substitute(
        title=html.escape(f"aelab run {title}"),
        heading=html.escape(title),
        settings=_settings_list(folder),
        figure=figure_html,
        metrics=_metrics_table(folder.metrics),
        subset=subset,
        data=_json_block(data),
        style=_template("report.css"),
        script=_template("report.js"),
    )


def write_report(folder: str | Path, name: str | None = None) -> Path:
    """Write ``report.html`` into a run or sweep folder (atomically) and return its path.

    ``name`` is the run's name as the page shows it (the folder's name by default).
    """
    folder = Path(folder)
    if is_run(folder):
        page = render_run(folder, name)
    elif is_sweep(folder) and (folder / "summary.csv").is_file():
        from aelab.outputs.sweeppage import render_sweep  # pandas, scipy: for a sweep only

        page = render_sweep(folder)
    else:
        raise RunFolderError(
            f"{str(folder)!r} is neither a run folder (latents.npz, metrics.json) nor a finished "
            "sweep folder (sweep.toml, summary.csv); check the path"
        )
    target = folder / "report.html"
    tmp = folder / ".report.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target

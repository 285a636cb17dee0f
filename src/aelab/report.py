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
from pathlib import Path

import numpy as np

from aelab.errors import ConfigError

MAX_FRAMES = 40  # snapshots per stage in the slider
MAX_POINTS = 2000  # samples drawn (a seeded subset beyond this)
MAX_FEATURES = 8  # original features shown on hover
GRID = 96  # decision-region resolution


def _json_block(value) -> str:
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _frames(snapshots: np.ndarray) -> list[int]:
    """At most MAX_FRAMES snapshot indices, the first and the last always among them."""
    t = len(snapshots)
    if t <= MAX_FRAMES:
        return list(range(t))
    return sorted(set(np.linspace(0, t - 1, MAX_FRAMES).round().astype(int).tolist()))


def _projection(lat) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A fixed map from the code to the plane: the code itself when it is 2-D, else the PCA
    of the final pretrained code (the stage figure's own choice)."""
    code = lat["code/pretrained"]
    if code.shape[1] == 2:
        return np.zeros(2), np.eye(2), ["z0", "z1"]
    if code.shape[1] == 1:
        return np.zeros(1), np.array([[1.0, 0.0]]), ["z0", "-"]
    mean = code.mean(axis=0)
    _, _, vt = np.linalg.svd(code - mean, full_matrices=False)
    return mean, vt[:2].T, ["PC1 of the pretrained code", "PC2 of the pretrained code"]


def _decision_regions(run_dir: Path, stages: list[str], box, n_classes: int) -> dict[str, str]:
    """Each strategy's softmax head on a grid of 2-D codes, as a PNG data URI (2-D codes
    only: a head over more units has no plane to draw on)."""
    import matplotlib.colors as mcolors
    from matplotlib.image import imsave

    from aelab.checkpoint import load_checkpoint
    from aelab.plots import _COLORS

    (x0, x1), (y0, y1) = box
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y1, y0, GRID))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    palette = np.array([mcolors.to_rgb(_COLORS[c % len(_COLORS)]) for c in range(n_classes)])
    out = {}
    for stage in stages:
        path = run_dir / "checkpoints" / f"{stage}.npz"
        if not path.is_file():
            continue
        model, params = load_checkpoint(path)
        winner = np.asarray(model.logits(params, grid)).argmax(axis=1).reshape(GRID, GRID)
        rgba = np.concatenate([palette[winner], np.full((GRID, GRID, 1), 0.22)], axis=2)
        png = io.BytesIO()
        imsave(png, rgba, format="png")
        out[stage] = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")
    return out


def _history(run_dir: Path) -> dict[str, list[float]]:
    """Loss curves, at most 400 points each."""
    path = run_dir / "history.npz"
    if not path.is_file():
        return {}
    out = {}
    with np.load(path, allow_pickle=False) as h:
        for name in h.files:
            if name == "fields":
                continue
            loss = np.asarray(h[name])[:, 0]
            idx = np.unique(np.linspace(0, len(loss) - 1, min(400, len(loss))).astype(int))
            out[name] = [float(v) if np.isfinite(v) else None for v in loss[idx]]
    return out


def shown_rows(n: int) -> np.ndarray:
    """The samples the page draws: all, or a seeded subset of ``MAX_POINTS`` in order."""
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))


def run_report_data(run_dir: Path) -> dict:
    """Everything the page draws, as plain JSON-ready values."""
    with np.load(run_dir / "latents.npz", allow_pickle=False) as npz:
        lat = {k: npz[k] for k in npz.files}
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    strategies = [str(s) for s in lat["strategies"]]
    n = len(lat["label"])
    shown = shown_rows(n)
    mean, basis, axes = _projection(lat)

    def plane(codes: np.ndarray) -> list:
        return np.round((codes[..., shown, :] - mean) @ basis, 4).tolist()

    stages = []
    steps = {
        "pretrained": lat["snapshot_steps/pretrain"],
        "finetune": lat["snapshot_steps/finetune"],
    }
    for name in ("pretrained", *strategies):
        snaps = lat[f"snapshots/{name}"]
        keep = _frames(snaps)
        phase = "pretrained" if name == "pretrained" else "finetune"
        stages.append(
            {
                "name": name,
                "steps": [int(s) for s in np.asarray(steps[phase])[keep]],
                "frames": plane(snaps[keep]),
            }
        )
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
    features = [str(f) for f in lat["feature_names"][:MAX_FEATURES]]
    regions = {}
    if lat["code/pretrained"].shape[1] == 2:
        regions = _decision_regions(run_dir, strategies, box, len(lat["class_names"]))
    return {
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
            "features": np.round(raw[:, :MAX_FEATURES], 4).tolist(),
        },
        "feature_names": features,
        "more_features": int(len(lat["feature_names"]) - len(features)),
        "stages": stages,
        "regions": regions,
        "history": _history(run_dir),
        "metrics": metrics,
    }


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
    rows = {"pretrained": metrics.get("pretrained", {}), **metrics.get("strategies", {})}
    used = [k for k in columns if any(k in r for r in rows.values())]
    head = "".join(f"<th>{html.escape(columns[k])}</th>" for k in used)
    body = []
    for name, values in rows.items():
        cells = "".join(
            f"<td>{'–' if values.get(k) is None else f'{values[k]:.3f}'}</td>" for k in used
        )
        body.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    return f"<table><tr><th>stage</th>{head}</tr>{''.join(body)}</table>"


def _settings_list(run_dir: Path, metrics: dict) -> str:
    data = metrics.get("data", {})
    facts = [
        ("data", data.get("dataset", "?")),
        ("samples", f"{data.get('n_train', 0)} training ({data.get('n_labelled', 0)} labelled, "
                    f"{data.get('n_unlabelled', 0)} unlabelled), {data.get('n_test', 0)} held out"),
        ("features", str(data.get("n_features", "?"))),
        ("classes", ", ".join(str(c) for c in data.get("class_names", []))),
    ]  # fmt: skip
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in facts)
    config = (run_dir / "config.toml").read_text(encoding="utf-8")
    return (
        f"<ul>{items}</ul><details><summary>settings (config.toml)</summary>"
        f"<pre>{html.escape(config)}</pre></details>"
    )


def render_run(run_dir: Path, name: str | None = None) -> str:
    data = run_report_data(run_dir)
    figure = run_dir / "stages.png"
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
    return _PAGE.format(
        title=html.escape(f"aelab run {name or run_dir.name}"),
        heading=html.escape(name or run_dir.name),
        settings=_settings_list(run_dir, data["metrics"]),
        figure=figure_html,
        metrics=_metrics_table(data["metrics"]),
        subset=subset,
        data=_json_block(data),
        style=_STYLE,
        script=_SCRIPT,
    )


def render_sweep(sweep_dir: Path) -> str:
    import pandas as pd

    summary = pd.read_csv(sweep_dir / "summary.csv", keep_default_na=False, na_values=[""])
    show = [c for c in ("kind", "strategy", "labels", "code", "noise", "beta", "recon_weight",
                        "learning_rate", "n_seeds") if c in summary.columns]  # fmt: skip
    stats = [
        c
        for c in (
            "test_accuracy_mean", "test_accuracy_ci95_low", "test_accuracy_ci95_high",
            "gain_over_supervised_mean", "gain_over_supervised_ci95_low",
            "gain_over_supervised_ci95_high", "cka_to_pretrained_mean",
        )
        if c in summary.columns
    ]  # fmt: skip
    head = "".join(f"<th>{html.escape(c)}</th>" for c in (*show, *stats))
    body = []
    for _, row in summary.iterrows():
        cells = [html.escape("" if pd.isna(row[c]) else str(row[c])) for c in show]
        cells += ["" if pd.isna(row[c]) else f"{row[c]:.3f}" for c in stats]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    figure = sweep_dir / "sweep.png"
    config = (sweep_dir / "sweep.toml").read_text(encoding="utf-8")
    return _SWEEP_PAGE.format(
        title=html.escape(f"aelab sweep {sweep_dir.name}"),
        heading=html.escape(sweep_dir.name),
        figure=f'<img class="figure" alt="sweep figure" src="{_data_uri(figure)}">'
        if figure.is_file()
        else "",
        table=f"<table><tr>{head}</tr>{''.join(body)}</table>",
        config=html.escape(config),
        style=_STYLE,
    )


def write_report(folder: str | Path, name: str | None = None) -> Path:
    """Write ``report.html`` into a run or sweep folder (atomically) and return its path.

    ``name`` is the run's name as the page shows it (the folder's name by default).
    """
    folder = Path(folder)
    if (folder / "latents.npz").is_file() and (folder / "metrics.json").is_file():
        page = render_run(folder, name)
    elif (folder / "sweep.toml").is_file() and (folder / "summary.csv").is_file():
        page = render_sweep(folder)
    else:
        raise ConfigError(
            f"{str(folder)!r} is neither a run folder (latents.npz, metrics.json) nor a finished "
            "sweep folder (sweep.toml, summary.csv); check the path"
        )
    target = folder / "report.html"
    tmp = folder / ".report.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .5em;
text-align:right}th{background:#f5f5f5}tr th:first-child{text-align:left}
.figure{max-width:100%}.note{color:#666;font-size:.9em}
#scatter{border:1px solid #ccc;background:#fff}#tip{position:fixed;pointer-events:none;
background:#fffff0;border:1px solid #999;padding:.3em .5em;font-size:.85em;display:none;
white-space:pre}.controls{margin:.5em 0}.controls label{margin-right:1em}
#legend span{display:inline-block;margin-right:1em}#legend i{display:inline-block;width:.8em;
height:.8em;border-radius:50%;margin-right:.3em}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{title}</title><style>{style}</style></head>
<body>
<h1>aelab run: {heading}</h1>
<h2>The data and the settings</h2>
{settings}
<h2>The stages</h2>
{figure}
<h2>The code, step by step</h2>
<p>Pick a stage and move the slider through its training snapshots. Filled markers are
labelled training samples, small faint ones unlabelled training samples, hollow ones held-out
samples. Hover a sample for its index, class, split and original features. The shaded
background of a fine-tuned stage's last snapshot is its softmax head's decision regions.</p>
<div class="controls">
<label>stage <select id="stage"></select></label>
<label>snapshot <input id="frame" type="range" min="0" value="0"></label>
<span id="step"></span>
</div>
<div id="legend"></div>
{subset}
<svg id="scatter" width="640" height="640" viewBox="0 0 640 640"></svg>
<div id="tip"></div>
<h2>Numbers</h2>
{metrics}
<h2>Loss curves</h2>
<svg id="losses" width="900" height="260" viewBox="0 0 900 260"></svg>
<script type="application/json" id="data">{data}</script>
<script>{script}</script>
</body></html>
"""

_SWEEP_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{title}</title><style>{style}</style></head>
<body>
<h1>aelab sweep: {heading}</h1>
{figure}
<h2>Summary, best held-out accuracy first</h2>
{table}
<h2>Settings</h2>
<pre>{config}</pre>
</body></html>
"""

_SCRIPT = r"""
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                  "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("scatter");
  const tip = document.getElementById("tip");
  const stageBox = document.getElementById("stage");
  const slider = document.getElementById("frame");
  const stepText = document.getElementById("step");
  const S = 640, M = 30;
  const [[x0, x1], [y0, y1]] = D.box;
  const sx = v => M + (v - x0) / (x1 - x0) * (S - 2 * M);
  const sy = v => S - M - (v - y0) / (y1 - y0) * (S - 2 * M);
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  const regions = el("image", {x: sx(x0), y: sy(y1), width: sx(x1) - sx(x0),
                               height: sy(y0) - sy(y1), preserveAspectRatio: "none"});
  svg.appendChild(regions);
  const xl = el("text", {x: S / 2, y: S - 6, "text-anchor": "middle", "font-size": 12});
  xl.textContent = D.axes[0]; svg.appendChild(xl);
  const yl = el("text", {x: 12, y: S / 2, "font-size": 12,
                         transform: "rotate(-90 12 " + S / 2 + ")", "text-anchor": "middle"});
  yl.textContent = D.axes[1]; svg.appendChild(yl);
  const smp = D.samples;
  const dots = smp.index.map((index, i) => {
    const color = COLORS[smp.label[i] % COLORS.length];
    const train = smp.train[i], labelled = smp.labelled[i];
    const c = el("circle", {
      r: train && !labelled ? 2.5 : 4.5,
      fill: train ? color : "none",
      stroke: color,
      "stroke-width": train ? 0.5 : 1.5,
      opacity: train && !labelled ? 0.45 : 0.9,
      "class": "sample",
    });
    c.addEventListener("mousemove", ev => {
      const split = train ? (labelled ? "training, labelled" : "training, unlabelled")
                          : "held out";
      const feats = D.feature_names.map((f, j) => f + " = " + smp.features[i][j]).join("\n");
      const more = D.more_features > 0 ? "\n… and " + D.more_features + " more" : "";
      tip.textContent = "sample " + index + "\nclass: " + D.classes[smp.label[i]] +
                        "\nsplit: " + split + "\n" + feats + more;
      tip.style.display = "block";
      tip.style.left = (ev.clientX + 12) + "px";
      tip.style.top = (ev.clientY + 12) + "px";
    });
    c.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    svg.appendChild(c);
    return c;
  });
  const legend = document.getElementById("legend");
  D.classes.forEach((name, c) => {
    const span = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = COLORS[c % COLORS.length];
    span.appendChild(dot);
    span.appendChild(document.createTextNode(name));
    legend.appendChild(span);
  });
  D.stages.forEach((s, i) => {
    const o = document.createElement("option");
    o.value = i; o.textContent = s.name; stageBox.appendChild(o);
  });
  function draw() {
    const s = D.stages[+stageBox.value];
    const t = Math.min(+slider.value, s.frames.length - 1);
    const xy = s.frames[t];
    dots.forEach((d, i) => { d.setAttribute("cx", sx(xy[i][0])); d.setAttribute("cy", sy(xy[i][1])); });
    const last = t === s.frames.length - 1;
    const img = last && D.regions[s.name];
    if (img) regions.setAttribute("href", img); else regions.removeAttribute("href");
    stepText.textContent = (s.name === "pretrained" ? "pretraining" : "fine-tuning") +
                           " step " + s.steps[t] + " of " + s.steps[s.steps.length - 1];
  }
  stageBox.addEventListener("change", () => {
    slider.max = D.stages[+stageBox.value].frames.length - 1;
    slider.value = slider.max; draw();
  });
  slider.addEventListener("input", draw);
  slider.max = D.stages[0].frames.length - 1;
  slider.value = slider.max;
  draw();

  const L = document.getElementById("losses");
  const names = Object.keys(D.history);
  const W = 900, H = 260, P = 40;
  let lo = Infinity, hi = -Infinity;
  names.forEach(n => D.history[n].forEach(v => {
    if (v !== null && v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }));
  if (names.length && lo < hi) {
    const ly = v => H - P - (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) * (H - 2 * P);
    names.forEach((n, k) => {
      const ys = D.history[n];
      const pts = ys.map((v, i) => v === null || v <= 0 ? null :
        (P + i / Math.max(ys.length - 1, 1) * (W - 3 * P)) + "," + ly(v)).filter(p => p);
      const color = COLORS[k % COLORS.length];
      L.appendChild(el("polyline", {points: pts.join(" "), fill: "none", stroke: color}));
      const label = el("text", {x: W - 2 * P + 4, y: P + 14 * k, "font-size": 11, fill: color});
      label.textContent = n; L.appendChild(label);
    });
    const cap = el("text", {x: P, y: 14, "font-size": 11});
    cap.textContent = "loss per step (log scale): " + lo.toPrecision(3) + " to " + hi.toPrecision(3);
    L.appendChild(cap);
  }
})();
"""

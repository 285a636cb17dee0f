"""A sweep's ``report.html``: its summary as a table to sort and filter, and its curves (accuracy
against labels, CKA and other measures against λ) to hover and zoom; a pure function of the
sweep folder.

The page is one file with nothing to fetch (its script, styles, data and figure are inside, and
its Content-Security-Policy forbids any request). Every string from the folder (strategy and
setting names, the sweep's settings) reaches the page as escaped HTML text or inside a JSON
block whose ``<``, ``>`` and ``&`` are escaped, and the script writes them with
``textContent`` only.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from string import Template

from aelab.analysis.summary import FEW_SEEDS, SAME_AS, few_seeds, lambda_rows
from aelab.outputs.folders import SweepFolder, read_sweep
from aelab.outputs.style import page_json, page_template

# The summary's settings the table can show, with their headers: a setting that takes one
# value in aelab's rows is said once above the table instead.
SETTINGS = {
    "labels": "Labels per class",
    "recon_weight": "λ",
    "learning_rate": "Learning rate",
    "code": "Code units",
    "noise": "Noise",
    "beta": "β",
}
# The measures against λ the page can draw: (summary metric, axis title).
LAMBDA_MEASURES = {
    "cka_to_pretrained": "CKA to the pretrained code",
    "reconstruction_drift": "reconstruction drift (held-out MSE − pretrained's)",
    "test_accuracy": "held-out accuracy",
    "test_reconstruction_mse": "held-out reconstruction MSE",
}
# Numbers of the table after the accuracy: (metric, header), shown when the sweep has them.
MORE_NUMBERS = {
    "cka_to_pretrained": "CKA to pretrained",
    "reconstruction_drift": "Reconstruction drift",
    "knn_accuracy": "kNN on the code",
    "unlabelled_accuracy": "Unlabelled accuracy",
}


def _text(value) -> str:
    """A cell as text: ``""`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _number(value) -> float | None:
    """A cell as a finite number, else ``None`` (JSON has no NaN)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _interval(row, metric: str) -> list[float | None]:
    """``[mean, low, high]`` of ``metric`` in a summary row."""
    return [_number(row.get(f"{metric}_{k}")) for k in ("mean", "ci95_low", "ci95_high")]


def _label_order(values) -> list[str]:
    """Label counts in order: the counts up, then ``all``."""
    order = list(dict.fromkeys(_text(v) for v in values))
    return sorted(order, key=lambda v: (v == "all", int(v) if v.isdecimal() else 0, v))


def _varying(summary) -> list[str]:
    """The settings that take more than one value in aelab's rows (the label count always,
    λ whenever a strategy has one)."""
    ours = summary[summary["kind"] == "aelab"]
    out = []
    for c in SETTINGS:
        if c in summary.columns:
            values = {_text(v) for v in ours[c]} - {""}
            if c == "labels" or (c == "recon_weight" and values) or len(values) > 1:
                out.append(c)
    return out


def _name(row, settings: list[str], twin: bool = True) -> str:
    """A line's name: the strategy, the strategy it equals at λ = 0 (with ``twin``), and its
    settings other than the label count."""
    name = _text(row.get("strategy"))
    same = _text(row.get(SAME_AS)) if twin else ""
    if same:
        name += f" = {same} at λ = 0"
    for c in settings:
        value = _text(row.get(c))
        if c != "labels" and value:
            name += f", {'λ' if c == 'recon_weight' else SETTINGS[c]} = {value}"
    return name


def _table(summary, settings: list[str]) -> dict:
    """The table's columns (``key``, ``header``, ``type``: text, number or interval) and rows
    (each with its point on the accuracy chart: its line's name and label count)."""
    gain = "gain_over_supervised_mean" in summary.columns
    columns = [
        {"key": "kind", "header": "Kind", "type": "text"},
        {"key": "strategy", "header": "Strategy", "type": "text"},
        *({"key": c, "header": SETTINGS[c], "type": "text"} for c in settings),
        {"key": "seeds", "header": "Seeds", "type": "number"},
        {"key": "acc", "header": "Held-out accuracy", "type": "number"},
        {"key": "acc_ci", "header": "95% CI", "type": "interval"},
    ]
    if gain:
        columns += [
            {"key": "gain", "header": "Gain over supervised", "type": "number", "signed": True},
            {"key": "gain_ci", "header": "Its 95% CI", "type": "interval", "signed": True},
        ]
    more = [m for m in MORE_NUMBERS if f"{m}_mean" in summary.columns]
    columns += [{"key": m, "header": MORE_NUMBERS[m], "type": "number"} for m in more]
    if "n_diverged" in summary.columns and any(_number(v) for v in summary["n_diverged"]):
        columns.append({"key": "diverged", "header": "Diverged", "type": "number"})
    rows, order = [], _label_order(summary["labels"])
    for _, row in summary.iterrows():
        seeds, bad = _number(row.get("n_seeds")), _number(row.get("n_diverged"))
        acc, gains = _interval(row, "test_accuracy"), _interval(row, "gain_over_supervised")
        twin = _text(row.get(SAME_AS))
        cells = {
            "kind": "baseline" if row["kind"] == "baseline" else "aelab",
            "strategy": _text(row["strategy"]) + (f" = {twin} at λ = 0" if twin else ""),
            **{c: _text(row.get(c)) for c in settings},
            "seeds": seeds,
            "acc": acc[0],
            "acc_ci": acc[1:],
            "gain": gains[0],
            "gain_ci": gains[1:],
            **{m: _number(row.get(f"{m}_mean")) for m in more},
            "diverged": bad,
        }
        few = few_seeds(seeds if seeds is not None else math.nan, bad or 0.0)
        point = [_name(row, settings), order.index(_text(row.get("labels")))]
        rows.append({"cells": [cells[c["key"]] for c in columns], "few": few, "point": point})
    return {"columns": columns, "rows": rows}


def _accuracy_curves(summary, settings: list[str]) -> dict:
    """Held-out accuracy against the label count: a line per setting, baselines apart."""
    order = _label_order(summary["labels"])
    lines: dict[str, dict] = {}
    for _, row in summary.iterrows():
        name = _name(row, settings)
        baseline = row["kind"] == "baseline"
        line = lines.setdefault(name, {"name": name, "baseline": baseline, "points": []})
        mean, low, high = _interval(row, "test_accuracy")
        if mean is not None:
            x = order.index(_text(row.get("labels")))
            line["points"].append({"x": x, "y": [mean, low, high], "n": _number(row["n_seeds"])})
    for line in lines.values():
        line["points"].sort(key=lambda p: p["x"])
    ticks = [f"{v} per class" if v.isdecimal() else v for v in order]
    return {"ticks": ticks, "lines": list(lines.values())}


def _lambda_curves(summary, settings: list[str]) -> dict:
    """Each measure against λ: a line per strategy with a reconstruction term and setting
    (its λ = 0 is the row of the strategy it then is)."""
    if "recon_weight" not in summary.columns or not (summary["kind"] == "aelab").any():
        return {"measures": {}, "lines": [], "lambdas": []}
    frame = summary.assign(recon_weight=summary["recon_weight"].map(_text))
    if SAME_AS in frame.columns:
        frame[SAME_AS] = frame[SAME_AS].map(_text)
    rows = lambda_rows(frame)
    measures = {m: t for m, t in LAMBDA_MEASURES.items() if f"{m}_mean" in summary.columns}
    lines: dict[str, dict] = {}
    for _, row in rows.iterrows():
        name = _name(row, [c for c in settings if c != "recon_weight"], twin=False)
        labels = _text(row.get("labels"))
        name += ", all labels" if labels == "all" else f", {labels} per class"
        line = lines.setdefault(name, {"name": name, "points": []})
        values = {m: _interval(row, m) for m in measures}
        line["points"].append({"x": float(row["lam"]), "y": values, "n": _number(row["n_seeds"])})
    lambdas = sorted({p["x"] for line in lines.values() for p in line["points"]})
    return {"measures": measures, "lines": list(lines.values()), "lambdas": lambdas}


def sweep_page_data(folder: SweepFolder) -> dict:
    """Everything the page shows, as JSON-ready values."""
    summary = folder.summary
    settings = _varying(summary)
    return {
        "table": _table(summary, settings),
        "accuracy": _accuracy_curves(summary, settings),
        "lambda": _lambda_curves(summary, settings),
        "few": FEW_SEEDS,
    }


def render_sweep(sweep_dir: str | Path) -> str:
    """The page of a finished sweep folder, as HTML text."""
    folder = read_sweep(sweep_dir, finished=True)
    figure = folder.path / "sweep.png"
    picture = ""
    if figure.is_file():
        uri = "data:image/png;base64," + base64.b64encode(figure.read_bytes()).decode("ascii")
        picture = (
            "<details><summary>The same curves as a picture (sweep.png)</summary>"
            f'<img class="figure" alt="sweep figure" src="{uri}"></details>'
        )
    config = (folder.path / "sweep.toml").read_text(encoding="utf-8")
    return Template(page_template("sweep.html")).substitute(
        title=html.escape(f"aelab sweep {folder.path.name}"),
        heading=html.escape(folder.path.name),
        few=FEW_SEEDS,
        figure=picture,
        config=html.escape(config),
        data=page_json(sweep_page_data(folder)),
        style=page_template("sweep.css"),
        script=page_template("sweep.js"),
    )

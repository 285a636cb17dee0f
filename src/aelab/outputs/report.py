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
import os
from pathlib import Path
from string import Template

from aelab.errors import RunFolderError
from aelab.outputs.folders import RunFolder, is_run, is_sweep, read_run
from aelab.outputs.reportdata import run_report_data
from aelab.outputs.style import page_json, page_template
from aelab.training.plan import PRETRAINED


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


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
    return f"<div class=scroll><table><tr><th>stage</th>{head}</tr>{''.join(body)}</table></div>"


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
    return Template(page_template("run.html")).substitute(
        title=html.escape(f"aelab run {title}"),
        heading=html.escape(title),
        settings=_settings_list(folder),
        figure=figure_html,
        metrics=_metrics_table(folder.metrics),
        subset=subset,
        data=page_json(data),
        style=page_template("run.css"),
        script=page_template("run.js"),
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

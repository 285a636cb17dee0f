"""The run page (issue 16): its size and load time, before and after, and against the same
small multiples drawn by a plotting library (Plotly with its bundled plotly.js, Bokeh with its
inline resources), all of them self-contained offline files.

From one finished run folder (``--run``; by default it trains ``aelab run --dataset digits
--code 10``, the issue's worst case) it writes:

- ``after.html``: the page of this tree (``aelab.outputs.report.render_run``);
- ``before.html``: the page of another source tree (``--before-src``, e.g. main's ``src``),
  made in a subprocess;
- ``plotly.html`` and ``bokeh.html`` (with ``--libs``, a folder where ``pip install --target``
  put plotly and bokeh): the raw panel and every stage's panel, code panels on shared axes,
  one slider over the same snapshots, class colours; no hover text, paths, arrows or curves,
  so they carry less than the page they are compared with.

Then it opens each page ``--repeats`` times in headless Chromium and reports its size, the
size of its embedded data, and the median time from navigation to the charts being drawn
(``load`` for pages that draw while loading; for Bokeh, which draws after, until its views
exist). Times are machine-dependent: compare the ratios.

    python benchmarks/bench_report_page.py [--run RUN_DIR] [--before-src /work/main/src]
        [--libs /tmp/libs] [--repeats 5] [--out /tmp/aelab-report-bench] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import aelab
from aelab.config import DataConfig, ModelConfig, RunConfig
from aelab.outputs.folders import read_run
from aelab.outputs.report import render_run
from aelab.outputs.reportdata import decode, run_report_data

READY = {  # when each page's charts are drawn
    "after": "document.querySelectorAll('figure.chart canvas').length > 0",
    "before": "document.querySelectorAll('circle.sample').length > 0",
    "plotly": "document.querySelectorAll('.plotly .scatterlayer .trace').length >= 5",
    "bokeh": "window.Bokeh && Bokeh.index && Object.keys(Bokeh.index).length > 0",
}


def panels(run_dir: Path):
    """The raw panel and each stage's snapshots (T, n, 2), with the clock over them."""
    data = run_report_data(read_run(run_dir))
    raw = decode(data["raw"]["frames"], data["raw"]["box"])[0]
    stages = [(s["name"], s["phase"], decode(s["frames"], data["box"])) for s in data["stages"]]
    colors = [data["colors"][c % 10] for c in data["samples"]["label"]]
    tp = sum(len(f) for _, p, f in stages if p == "pretrain")
    tf = max(len(f) for _, p, f in stages if p == "finetune")
    return raw, stages, colors, tp, tf


def at(frames: np.ndarray, phase: str, clock: int, tp: int) -> np.ndarray:
    t = (
        min(clock, len(frames) - 1)
        if phase == "pretrain"
        else max(0, min(clock - tp, len(frames) - 1))
    )
    return frames[t].astype(np.float32)


def plotly_page(run_dir: Path) -> str:
    import plotly.graph_objects as go  # the peer: only in this script
    from plotly.subplots import make_subplots

    raw, stages, colors, tp, tf = panels(run_dir)
    fig = make_subplots(rows=2, cols=3, subplot_titles=["raw", *[s[0] for s in stages]])
    marker = {"color": colors, "size": 5}
    fig.add_trace(go.Scatter(x=raw[:, 0], y=raw[:, 1], mode="markers", marker=marker), 1, 1)
    for k, (_, phase, frames) in enumerate(stages, start=1):
        xy = at(frames, phase, tp + tf - 1, tp)
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", marker=marker),
                      1 + k // 3, 1 + k % 3)  # fmt: skip
    for k in range(2, 7):  # the code panels share axes
        fig.update_xaxes(matches="x2", row=1 + (k - 1) // 3, col=1 + (k - 1) % 3)
        fig.update_yaxes(matches="y2", row=1 + (k - 1) // 3, col=1 + (k - 1) % 3)
    fig.frames = [
        go.Frame(
            name=str(c), traces=list(range(1, 1 + len(stages))),
            data=[go.Scatter(x=at(f, p, c, tp)[:, 0], y=at(f, p, c, tp)[:, 1])
                  for _, p, f in stages],
        )
        for c in range(tp + tf)
    ]  # fmt: skip
    steps = [{"method": "animate", "label": str(c),
              "args": [[str(c)], {"mode": "immediate", "frame": {"duration": 0}}]}
             for c in range(tp + tf)]  # fmt: skip
    fig.update_layout(sliders=[{"steps": steps, "active": tp + tf - 1}], showlegend=False,
                      width=1300, height=900)  # fmt: skip
    return fig.to_html(include_plotlyjs=True, full_html=True)


def bokeh_page(run_dir: Path) -> str:
    from bokeh.embed import file_html  # the peer: only in this script
    from bokeh.layouts import column, gridplot
    from bokeh.models import ColumnDataSource, CustomJS, Slider
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    raw, stages, colors, tp, tf = panels(run_dir)
    plots = [figure(title="raw", width=400, height=400)]
    plots[0].scatter(raw[:, 0], raw[:, 1], color=colors, size=5)
    shown, alls = [], []
    for name, phase, frames in stages:
        extra = (
            {} if len(plots) == 1 else {"x_range": plots[1].x_range, "y_range": plots[1].y_range}
        )
        p = figure(title=name, width=400, height=400, **extra)
        xy = at(frames, phase, tp + tf - 1, tp)
        src = ColumnDataSource({"x": xy[:, 0], "y": xy[:, 1], "c": colors})
        every = {
            f"{a}{c}": at(frames, phase, c, tp)[:, i]
            for c in range(tp + tf)
            for i, a in enumerate("xy")
        }
        p.scatter("x", "y", color="c", size=5, source=src)
        plots.append(p)
        shown.append(src)
        alls.append(ColumnDataSource(every))
    slider = Slider(start=0, end=tp + tf - 1, value=tp + tf - 1, step=1, title="clock")
    slider.js_on_change("value", CustomJS(args={"shown": shown, "alls": alls}, code="""
        const c = cb_obj.value;
        shown.forEach((s, k) => { s.data = {x: alls[k].data['x' + c], y: alls[k].data['y' + c],
                                            c: s.data.c}; });"""))  # fmt: skip
    return file_html(column(slider, gridplot(plots, ncols=3)), INLINE, "bokeh")


def data_bytes(name: str, page: str) -> int:
    """The embedded data: the JSON block (ours), plotly's figure, bokeh's document."""
    pattern = {
        "after": r'id="data">(.*?)</script>',
        "before": r'id="data">(.*?)</script>',
        "plotly": r"Plotly\.newPlot\((.*?)\)\s*};",
        "bokeh": r'type="application/json"[^>]*>(.*?)</script>',
    }[name]  # fmt: skip
    found = re.search(pattern, page, re.S)
    return len(found.group(1).encode()) if found else -1


def load_times(pages: dict[str, Path], repeats: int) -> dict[str, list[float]]:
    from selenium import webdriver  # the browser: only in this script and the browser tests
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_script_timeout(60)
    times: dict[str, list[float]] = {name: [] for name in pages}
    try:
        for _ in range(repeats + 1):  # the first round warms the browser up, not counted
            for name, path in pages.items():
                driver.get("about:blank")
                driver.get(path.as_uri())
                ready = driver.execute_async_script(
                    "const done = arguments[arguments.length - 1];"
                    f"(function poll() {{ if ({READY[name]}) done(performance.now());"
                    " else requestAnimationFrame(poll); })();"
                )
                load = driver.execute_script(
                    "return performance.getEntriesByType('navigation')[0].loadEventEnd"
                )
                times[name].append(max(ready, load) / 1000)
    finally:
        driver.quit()
    return {name: t[1:] for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path)
    parser.add_argument("--before-src", type=Path)
    parser.add_argument("--libs", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/aelab-report-bench"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    run = args.run
    if run is None:  # the worst case, trained once
        config = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(code=10))
        run = aelab.run(config, out=args.out, name=f"digits10-{int(time.time())}").run_dir
    pages = {"after": args.out / "after.html"}
    pages["after"].write_text(render_run(run), encoding="utf-8")
    if args.before_src:
        code = (
            "import sys; from aelab.outputs.report import render_run; "
            "open(sys.argv[2], 'w', encoding='utf-8').write(render_run(sys.argv[1]))"
        )
        pages["before"] = args.out / "before.html"
        env = os.environ | {"PYTHONPATH": str(args.before_src)}
        subprocess.run(
            [sys.executable, "-c", code, str(run), str(pages["before"])], env=env, check=True
        )
    if args.libs:
        sys.path.insert(0, str(args.libs))
        for name, make in (("plotly", plotly_page), ("bokeh", bokeh_page)):
            t0 = time.perf_counter()
            pages[name] = args.out / f"{name}.html"
            pages[name].write_text(make(run), encoding="utf-8")
            print(f"{name}: written in {time.perf_counter() - t0:.1f} s")
    times = load_times(pages, args.repeats)
    rows = {}
    for name, path in pages.items():
        page = path.read_text(encoding="utf-8")
        rows[name] = {
            "page_bytes": len(page.encode()),
            "data_bytes": data_bytes(name, page),
            "load_s_median": statistics.median(times[name]),
            "load_s": times[name],
        }
        print(f"{name:7} page {rows[name]['page_bytes'] / 1e6:6.2f} MB  data "
              f"{rows[name]['data_bytes'] / 1e6:6.2f} MB  load {rows[name]['load_s_median']:.3f} s "
              f"(min {min(times[name]):.3f})")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

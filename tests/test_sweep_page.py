"""A sweep's report.html in a real browser (headless Chromium, as tests/test_report_browser.py):
the table sorts and filters, the charts have axes and answer the mouse, nothing scrolls
sideways, and hostile names stay text. One tiny sweep for the whole file."""

import os
import shutil
import time

import pandas as pd
import pytest

import aelab
from aelab.config import DataConfig, RunConfig, SweepConfig, TrainConfig
from aelab.outputs.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs chromium and chromedriver: .ci/run installs them")
    pytest.skip("chromium and chromedriver are not installed", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver")

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A tiny sweep of a table whose file name is markup, with lambda = 0 among its lambdas;
    a baseline renamed to markup in its summary, and the page written again."""
    folder = tmp_path_factory.mktemp("hostile")
    rows = ["a,b,kind"] + [f"{i % 9},{(i * 7) % 5},{'x' if i % 2 else 'y'}" for i in range(60)]
    path = folder / f"{EVIL}.csv"
    path.write_text("\n".join(rows) + "\n")
    grid = SweepConfig(
        base=RunConfig(data=DataConfig(dataset=str(path)),
                       train=TrainConfig(pretrain_steps=40, finetune_steps=40, snapshot_every=40)),
        seeds=(0, 1), labels=(3, None), recon_weights=(0.0, 1.0),
    )  # fmt: skip
    result = aelab.sweep(grid, out=folder / "sweeps", name="s")
    summary = pd.read_csv(result.sweep_dir / "summary.csv", keep_default_na=False)
    summary.loc[summary["strategy"] == "MLP", "strategy"] = EVIL
    summary.to_csv(result.sweep_dir / "summary.csv", index=False)
    write_report(result.sweep_dir)
    return result.sweep_dir


def _open(browser, sweep_dir, width=1400):
    browser.set_window_size(width, 1000)
    browser.get((sweep_dir / "report.html").as_uri())
    time.sleep(0.3)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    return browser


def _column(page, header: str) -> list[str]:
    return page.execute_script(
        "const i = Array.from(document.querySelectorAll('#summary th'))"
        "  .findIndex(th => th.textContent === arguments[0]);"
        "return Array.from(document.querySelectorAll('#summary tbody tr'))"
        "  .map(tr => tr.children[i].textContent);",
        header,
    )


def _click_header(page, header: str) -> None:
    page.execute_script(
        "Array.from(document.querySelectorAll('#summary th'))"
        "  .find(th => th.textContent === arguments[0]).click();",
        header,
    )


def test_the_table_sorts_and_filters(browser, sweep_dir):
    page = _open(browser, sweep_dir)
    headers = page.execute_script(
        "return Array.from(document.querySelectorAll('#summary th')).map(t => t.textContent)"
    )
    assert {"Strategy", "Labels per class", "λ", "Seeds", "Held-out accuracy", "95% CI"} <= set(
        headers
    )
    assert not any("_" in h for h in headers)  # no snake_case
    n_rows = len(_column(page, "Strategy"))
    strategies = _column(page, "Strategy")
    # the same model once: finetune-recon at lambda 0 is finetune's row
    assert "finetune = finetune-recon at λ = 0" in strategies
    assert not [s for s, lam in zip(strategies, _column(page, "λ"), strict=True)
                if s == "finetune-recon" and lam in ("0", "0.0")]  # fmt: skip
    _click_header(page, "Held-out accuracy")
    first = [float(v) for v in _column(page, "Held-out accuracy")]
    _click_header(page, "Held-out accuracy")
    again = [float(v) for v in _column(page, "Held-out accuracy")]
    assert first == sorted(first, reverse=True) and again == sorted(again)
    _click_header(page, "Strategy")
    names = _column(page, "Strategy")
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    box = page.find_element("id", "filter")
    box.send_keys("joint")
    shown = _column(page, "Strategy")
    assert shown and all("joint" in s for s in shown) and len(shown) < n_rows
    assert page.find_element("id", "count").text == f"showing {len(shown)} of {n_rows} rows"
    box.clear()
    page.execute_script(
        "const k = document.getElementById('kind'); k.value = 'baseline';"
        "k.dispatchEvent(new Event('change'));"
    )
    assert set(_column(page, "Kind")) == {"baseline"}
    # fewer than 5 seeds: every row's seed count carries the mark
    assert page.execute_script("return document.querySelectorAll('td.few').length") > 0


def test_the_charts_have_axes_and_answer_the_mouse(browser, sweep_dir):
    page = _open(browser, sweep_dir)
    for chart in ("acc-chart", "lambda-chart"):
        texts = page.execute_script(
            "return Array.from(document.querySelectorAll('#' + arguments[0] + ' text'))"
            ".map(t => t.textContent)",
            chart,
        )
        numbers = [t for t in texts if t.replace(".", "", 1).isdigit()]
        assert len(numbers) >= 3, texts  # ticks of the value axis
        assert any("accuracy" in t or "CKA" in t for t in texts)  # its title
        lines = page.execute_script(
            "return document.querySelectorAll('#' + arguments[0] + ' polyline.line').length", chart
        )
        assert lines >= 2
    acc_ticks = page.execute_script(
        "return Array.from(document.querySelectorAll('#acc-chart text')).map(t => t.textContent)"
    )
    assert "3 per class" in acc_ticks and "all" in acc_ticks
    lam_ticks = page.execute_script(
        "return Array.from(document.querySelectorAll('#lambda-chart text')).map(t => t.textContent)"
    )
    assert "0" in lam_ticks and "1" in lam_ticks  # lambda 0 is on the curve (the merged row)
    # hovering a point shows its numbers
    page.execute_script(
        "const c = document.querySelector('#acc-chart circle.point').getBoundingClientRect();"
        "document.getElementById('acc-chart').dispatchEvent(new MouseEvent('mousemove',"
        "{clientX: c.x + c.width / 2, clientY: c.y + c.height / 2, bubbles: true}));"
    )
    tip = page.find_element("id", "tip").text
    assert "held-out accuracy" in tip and "95% CI" in tip and "few" in tip
    # zooming changes the ticks; a double-click shows it whole again
    ticks = (
        "return Array.from(document.querySelectorAll('#acc-chart text')).map(t => t.textContent)"
    )
    before = page.execute_script(ticks)
    page.execute_script("window.aelabCharts.accuracy.zoom(300, 190, 0.25)")
    assert page.execute_script(ticks) != before
    page.execute_script(
        "document.getElementById('acc-chart').dispatchEvent(new MouseEvent('dblclick'))"
    )
    assert page.execute_script(ticks) == before
    # dragging pans, two pointers moving apart zoom in
    page.execute_script(
        "const s = document.getElementById('acc-chart'), r = s.getBoundingClientRect();"
        "const at = (type, id, dx) => s.dispatchEvent(new PointerEvent(type, {pointerId: id,"
        "  clientX: r.x + r.width / 2 + dx, clientY: r.y + r.height / 2, bubbles: true}));"
        "at('pointerdown', 1, 0); at('pointermove', 1, 80); at('pointerup', 1, 80);"
    )
    panned = page.execute_script("return window.aelabCharts.accuracy.view")
    page.execute_script(
        "document.getElementById('acc-chart').dispatchEvent(new MouseEvent('dblclick'))"
    )
    whole = page.execute_script("return window.aelabCharts.accuracy.view")
    assert panned["x0"] < whole["x0"] and panned["x1"] - panned["x0"] == pytest.approx(
        whole["x1"] - whole["x0"]
    )
    page.execute_script(
        "const s = document.getElementById('acc-chart'), r = s.getBoundingClientRect();"
        "const at = (type, id, dx) => s.dispatchEvent(new PointerEvent(type, {pointerId: id,"
        "  clientX: r.x + r.width / 2 + dx, clientY: r.y + r.height / 2, bubbles: true}));"
        "at('pointerdown', 1, -10); at('pointerdown', 2, 10); at('pointermove', 2, 60);"
        "at('pointerup', 2, 60); at('pointerup', 1, -10);"
    )
    pinched = page.execute_script("return window.aelabCharts.accuracy.view")
    assert pinched["x1"] - pinched["x0"] < (whole["x1"] - whole["x0"]) / 2
    # hovering a row of the table rings its point
    page.execute_script(
        "document.querySelector('#summary tbody tr').dispatchEvent(new MouseEvent('mouseenter'))"
    )
    assert page.execute_script("return document.querySelectorAll('#acc-chart .ring').length") == 1
    # a legend entry hides its line
    count = "return document.querySelectorAll('#acc-chart polyline.line').length"
    n = page.execute_script(count)
    page.execute_script("document.querySelector('#acc-legend button').click()")
    assert page.execute_script(count) == n - 1
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []  # none while the charts were used either


@pytest.mark.parametrize("width", [1400, 390])
def test_nothing_scrolls_sideways(browser, sweep_dir, width):
    page = _open(browser, sweep_dir, width)
    scroll, client = page.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client
    box = page.execute_script("return document.querySelector('.tablebox').clientWidth")
    assert box <= client


def test_hostile_names_stay_text(browser, sweep_dir):
    from selenium.common.exceptions import NoAlertPresentException

    page = _open(browser, sweep_dir)
    with pytest.raises(NoAlertPresentException):  # no markup ran
        page.switch_to.alert.text  # noqa: B018
    assert page.execute_script("return document.querySelectorAll('img:not(.figure)').length") == 0
    assert page.execute_script("return document.querySelectorAll('script').length") == 2
    assert EVIL in _column(page, "Strategy")
    assert EVIL + " (scikit-learn)" in page.find_element("id", "acc-legend").text
    assert EVIL in page.find_element("tag name", "pre").text  # the data file, in the settings

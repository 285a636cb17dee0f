"""report.html in a real browser: headless Chromium (Debian's), driven by Selenium.

Skipped where Chromium or its driver is not installed, except in CI (CI=true), where
``.ci/run`` installs them and a missing browser is a failure. One run folder serves every
test; each test opens its page afresh and checks the console stays clean.

``python tests/test_report_browser.py docs`` takes the README's pictures of the page (a default
run, desktop 1400x1000 and phone 390x844) with the same code as the screenshot test.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

import aelab
from aelab.config import DataConfig, RunConfig, TrainConfig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if __name__ != "__main__" and not (CHROMIUM and DRIVER):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs chromium and chromedriver: .ci/run installs them")
    pytest.skip("chromium and chromedriver are not installed", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver")

FAST = TrainConfig(pretrain_steps=100, finetune_steps=150, snapshot_every=25)
EVIL = "<script>alert(1)</script>"
DESKTOP, PHONE = (1400, 1000), (390, 844)
CODE_PANELS = range(1, 6)  # after the raw data: pretrained and the four strategies


def _driver():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = _driver()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """Every test's run: two features, a class named like a script, five stages."""
    folder = tmp_path_factory.mktemp("hostile")
    rows = ["a,b,kind"] + [f"{i % 9},{(i * 7) % 5},{EVIL if i % 2 else 'plain'}" for i in range(60)]
    path = folder / "pets.csv"
    path.write_text("\n".join(rows) + "\n")
    config = RunConfig(data=DataConfig(dataset=str(path), labels=10), train=FAST)
    return aelab.run(config, out=folder / "runs", name="hostile")


def _open(browser, run_dir: Path, size=DESKTOP):
    width, height = size  # the page's own size (the viewport), one CSS pixel a pixel
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    browser.get((run_dir / "report.html").as_uri())
    time.sleep(0.3)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    return browser


def _images(page) -> list[str]:
    """What every scatter panel shows now, as PNG data."""
    return page.execute_script("return aelabReport.panels.map(p => p.canvas.toDataURL())")


def _clock(page, value) -> None:
    page.execute_script(
        "const s = document.getElementById('clock'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        value,
    )


def _pointer(page, kind: str, panel: int, xy) -> None:
    page.execute_script(
        "aelabReport.panels[arguments[1]].canvas.dispatchEvent(new PointerEvent(arguments[0],"
        "{clientX: arguments[2], clientY: arguments[3], bubbles: true, pointerId: 1}));",
        kind, panel, *xy,
    )  # fmt: skip


def test_every_chart_has_axes_with_ticks_and_labels(browser, hostile_run):
    page = _open(browser, hostile_run.run_dir)
    charts = page.execute_script(
        "return Array.from(document.querySelectorAll('figure.chart')).map(f => ["
        "f.querySelector('figcaption b').textContent,"
        "f.querySelectorAll('text.tick.x').length, f.querySelectorAll('text.tick.y').length,"
        "Array.from(f.querySelectorAll('text.label')).map(t => t.textContent)])"
    )
    titles = [c[0] for c in charts]
    assert titles[:3] == ["Raw data: the two most variable features", "Pretrained autoencoder",
                          "Fine-tuned: supervised"]  # fmt: skip
    assert "CKA to the pretrained code" in titles and "Fine-tuning: loss" in titles
    for title, xticks, yticks, labels in charts:
        assert xticks >= 2 and yticks >= 2, title
        assert len(labels) == 2 and all(labels), title
    assert charts[1][3] == ["z0", "z1"]  # a 2-D code is drawn as itself


def test_the_clock_moves_every_panel_and_zoom_is_shared(browser, hostile_run):
    page = _open(browser, hostile_run.run_dir)
    _clock(page, 0)  # the first pretraining snapshot
    start = _images(page)
    statuses = page.execute_script("return aelabReport.panels.map(p => p.status.textContent)")
    assert statuses[1] == "step 0" and statuses[2] == "waits for pretraining"
    _clock(page, page.execute_script("return +document.getElementById('clock').max"))
    end = _images(page)
    assert page.find_element("id", "step").text == "fine-tuning step 150 of 150"
    assert start[0] == end[0]  # the raw data does not train
    assert all(start[p] != end[p] for p in CODE_PANELS)  # every stage's code moved
    ticks = (
        "return aelabReport.panels.map(p => Array.from(p.svg.querySelectorAll('text.tick'))"
        ".map(t => t.textContent + '@' + t.getAttribute('x') + ',' + t.getAttribute('y')))"
    )
    before = page.execute_script(ticks)
    x, y = page.execute_script("return aelabReport.where(2, 0)")
    page.execute_script(
        "aelabReport.panels[2].canvas.dispatchEvent(new WheelEvent('wheel',"
        "{deltaY: -500, clientX: arguments[0], clientY: arguments[1], bubbles: true}))",
        x, y,
    )  # fmt: skip
    zoomed = page.execute_script(ticks)
    assert all(zoomed[p] != before[p] for p in CODE_PANELS)  # the code panels share axes
    assert zoomed[0] == before[0]  # the raw data's own axes stay
    plain = _images(page)
    page.find_element("id", "moved").click()  # arrows from the pretrained positions
    moved = _images(page)  # in the two strategies that start from them
    assert [moved[p] != plain[p] for p in (2, 3, 4, 5)] == [False, True, True, False]
    page.find_element("id", "shared").click()  # each code panel on its own axes
    before = page.execute_script(ticks)
    page.execute_script(
        "aelabReport.panels[2].canvas.dispatchEvent(new WheelEvent('wheel',"
        "{deltaY: -500, clientX: arguments[0], clientY: arguments[1], bubbles: true}))",
        x, y,
    )  # fmt: skip
    alone = page.execute_script(ticks)
    assert [alone[p] != before[p] for p in range(6)] == [False, False, True, False, False, False]


def test_a_sample_hovered_brushed_or_clicked_in_one_panel_shows_in_every_panel(
    browser, hostile_run
):
    page = _open(browser, hostile_run.run_dir)
    plain = _images(page)
    _pointer(page, "pointermove", 3, page.execute_script("return aelabReport.where(3, 7)"))
    assert page.execute_script("return aelabReport.state.hover") == 7
    hovered = _images(page)
    assert all(hovered[p] != plain[p] for p in range(6))  # ringed in every panel
    assert page.find_element("id", "tip").text.startswith("sample ")
    _pointer(page, "pointerleave", 3, (0, 0))
    assert _images(page) == plain
    # a click draws the sample's path through the snapshots, in every panel
    xy = page.execute_script("return aelabReport.where(4, 7)")
    _pointer(page, "pointerdown", 4, xy)
    _pointer(page, "pointerup", 4, xy)
    assert page.execute_script("return Array.from(aelabReport.state.paths)") == [7]
    _pointer(page, "pointerleave", 4, (0, 0))
    with_path = _images(page)
    assert all(with_path[p] != plain[p] for p in CODE_PANELS)
    # a brushed rectangle in one panel selects the same samples everywhere
    page.execute_script("const d = document.getElementById('drag'); d.value = 'select';"
                        "d.dispatchEvent(new Event('change'));")  # fmt: skip
    box = page.execute_script("return aelabReport.panels[1].canvas.getBoundingClientRect()")
    _pointer(page, "pointerdown", 1, (box["left"] + 60, box["top"] + 10))
    _pointer(page, "pointermove", 1, (box["left"] + box["width"] / 2, box["bottom"] - 40))
    _pointer(page, "pointerup", 1, (box["left"] + box["width"] / 2, box["bottom"] - 40))
    picked = page.execute_script(
        "return aelabReport.state.selected && aelabReport.state.selected.size"
    )
    assert 0 < picked < 60
    assert all(a != b for a, b in zip(_images(page), with_path, strict=True))


def test_at_phone_width_the_panels_stack_and_nothing_scrolls_sideways(browser, hostile_run):
    page = _open(browser, hostile_run.run_dir, PHONE)
    width = page.execute_script("return window.innerWidth")
    assert width == PHONE[0]
    assert page.execute_script("return document.documentElement.scrollWidth") <= width
    rects = page.execute_script(
        "return aelabReport.charts.map(c => c.canvas.getBoundingClientRect())"
    )
    assert len({round(r["left"]) for r in rects}) == 1  # one column
    for r in rects:  # each chart fits the screen
        assert r["left"] >= 0 and r["right"] <= width and r["height"] <= PHONE[1]


def test_a_hostile_class_name_shows_as_text(browser, hostile_run):
    from selenium.common.exceptions import NoAlertPresentException

    page = _open(browser, hostile_run.run_dir)
    with pytest.raises(NoAlertPresentException):  # the name's script never ran
        page.switch_to.alert.text  # noqa: B018
    assert EVIL in page.find_element("id", "legend").text  # shown as the text it is
    assert page.execute_script("return document.querySelectorAll('script').length") == 2
    # hovering a sample of that class shows its name as text too
    data = page.execute_script("return JSON.parse(document.getElementById('data').textContent)")
    i = data["samples"]["label"].index(data["classes"].index(EVIL))
    _pointer(page, "pointermove", 1, page.execute_script(f"return aelabReport.where(1, {i})"))
    tip = page.find_element("id", "tip").text
    assert f"class: {EVIL}" in tip and "split:" in tip


def pictures(browser, run_dir: Path, out: Path) -> list[Path]:
    """The page at desktop and phone sizes, scrolled to its panels: ``report-desktop.png``
    and ``report-phone.png`` in ``out``."""
    paths = []
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page = _open(browser, run_dir, size)
        page.execute_script(
            "window.scrollTo(0, document.getElementById('panels').offsetTop - "
            "document.querySelector('.controls').offsetHeight - 40)"
        )
        time.sleep(0.2)
        paths.append(out / f"report-{name}.png")
        page.save_screenshot(str(paths[-1]))
    return paths


def test_screenshots_at_desktop_and_phone_sizes(browser, hostile_run, tmp_path):
    from PIL import Image

    for path, size in zip(pictures(browser, hostile_run.run_dir, tmp_path), (DESKTOP, PHONE),
                          strict=True):  # fmt: skip
        with Image.open(path) as image:
            assert image.size == size
            assert len(image.convert("RGB").getcolors(1 << 16) or range(1 << 16)) > 50


if __name__ == "__main__":  # the README's pictures, from a default run
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    run = aelab.run(out=Path(tempfile.mkdtemp(prefix="aelab-pictures-")), name="iris")
    driver = _driver()
    try:
        print(*pictures(driver, run.run_dir, out))
    finally:
        driver.quit()

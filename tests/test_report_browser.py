"""report.html in a real browser: headless Chromium (Debian's), driven by Selenium.

Skipped where Chromium or its driver is not installed, except in CI (CI=true), where
``.ci/run`` installs them and a missing browser is a failure.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

import aelab
from aelab.config import DataConfig, RunConfig, TrainConfig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs chromium and chromedriver: .ci/run installs them")
    pytest.skip("chromium and chromedriver are not installed", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver")

FAST = TrainConfig(pretrain_steps=100, finetune_steps=150, snapshot_every=25)
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,2400"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    rows = ["a,b,kind"] + [f"{i % 9},{(i * 7) % 5},{EVIL if i % 2 else 'plain'}" for i in range(60)]
    path = folder / "pets.csv"
    path.write_text("\n".join(rows) + "\n")
    config = RunConfig(data=DataConfig(dataset=str(path), labels=10), train=FAST)
    return aelab.run(config, out=folder / "runs", name="hostile")


def _open(browser, run_dir: Path):
    browser.get((run_dir / "report.html").as_uri())
    time.sleep(0.5)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    return browser


def _positions(browser):
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('circle.sample'))"
        ".map(c => [+c.getAttribute('cx'), +c.getAttribute('cy')])"
    )


def test_the_report_renders_and_the_slider_moves_the_code(browser, hostile_run, tmp_path):
    page = _open(browser, hostile_run.run_dir)
    assert len(_positions(page)) == 60  # every sample drawn
    page.execute_script(
        "const b = document.getElementById('stage'); b.value = 4;"
        "b.dispatchEvent(new Event('change'));"
    )
    last = _positions(page)
    page.execute_script(
        "const s = document.getElementById('frame'); s.value = 0;"
        "s.dispatchEvent(new Event('input'));"
    )
    first = _positions(page)
    assert first != last  # the code moved during fine-tuning
    step = page.find_element("id", "step").text
    assert step.startswith("fine-tuning step 0 of 150")
    shot = tmp_path / "report.png"
    page.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000


def test_a_hostile_class_name_shows_as_text(browser, hostile_run):
    from selenium.common.exceptions import NoAlertPresentException

    page = _open(browser, hostile_run.run_dir)
    with pytest.raises(NoAlertPresentException):  # the name's script never ran
        page.switch_to.alert.text  # noqa: B018
    legend = page.find_element("id", "legend").text
    assert EVIL in legend  # shown as the text it is
    assert page.execute_script("return document.querySelectorAll('script').length") == 2
    # hovering a sample of that class shows its name as text too
    classes = page.execute_script(
        "return JSON.parse(document.getElementById('data').textContent).classes"
    )
    labels = page.execute_script(
        "return JSON.parse(document.getElementById('data').textContent).samples.label"
    )
    i = labels.index(classes.index(EVIL))
    page.execute_script(
        "document.querySelectorAll('circle.sample')[arguments[0]].dispatchEvent("
        "new MouseEvent('mousemove', {clientX: 20, clientY: 20}));",
        i,
    )
    tip = page.find_element("id", "tip").text
    assert f"class: {EVIL}" in tip and "split:" in tip

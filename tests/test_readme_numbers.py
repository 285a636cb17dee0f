"""Every number the README quotes comes from a run: the story of its opening figure is checked
against the default run (and seed 2's), and every other paragraph that quotes a measurement
names the benchmark that measures it.

The story's numbers are read from the README's own sentences, so a run whose numbers moved,
or a README edited by hand, fails here until the two agree again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import aelab

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
# A measurement: a number with two or more decimals, or a duration, a ratio or a share.
MEASURED = re.compile(r"(?<![\w.:/-])(\d+\.\d{2,}|\d[\d,]*(?:\.\d+)? ?(?:s|ms|µs|×|%))(?!\w)")
# What may quote one without a benchmark: a setting, not a result.
SETTINGS = ("95%", "within 60 s", "learning rate 0.01", "differ by 0.02")
# The sentences of the opening story whose numbers tests below check.
STORY = ("*Read it left to right", "Look at `joint` before concluding")


def paragraphs(text: str) -> list[tuple[int, str]]:
    """The prose paragraphs (and list items) of ``text``, outside fences, tables, headings and
    HTML comments, with the line each starts on."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start, fenced = 0, False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        item = line.lstrip().startswith(("- ", "1. ", "2. ", "3. ", "4. ", "5. "))
        ends = fenced or line.startswith(("```", "#", "|", "<!--")) or not line.strip() or item
        if ends and current:
            out.append((start, " ".join(current)))
            current = []
        if item or not ends:
            if not current:
                start = number
            current.append(line.strip())
    if current:
        out.append((start, " ".join(current)))
    return out


def _story(start: str) -> str:
    return next(p for _, p in paragraphs(TEXT) if p.startswith(start))


def test_every_quoted_measurement_is_checked_or_names_its_benchmark():
    unchecked = []
    for line, paragraph in paragraphs(TEXT):
        prose = re.sub(r"`[^`]*`", "", paragraph)
        for setting in SETTINGS:
            prose = prose.replace(setting, "")
        if paragraph.startswith(STORY) or not MEASURED.search(prose):
            continue
        if "BENCHMARKS.md" not in paragraph and "benchmarks/" not in paragraph:
            unchecked.append(f"README.md:{line}: {MEASURED.findall(prose)}")
    assert not unchecked, "measurements with no test and no benchmark:\n" + "\n".join(unchecked)


def test_the_rule_finds_a_bare_measurement():
    found = paragraphs("Intro.\n\nIt takes 5.5 s here.\n\n```\n0.123\n```\n- an item 0.95\n")
    bare = [p for _, p in found if MEASURED.search(p)]
    assert bare == ["It takes 5.5 s here.", "- an item 0.95"]


def _two(value: float) -> str:
    return f"{value:.2f}"


def test_the_opening_story_quotes_the_default_run(default_run):
    m = default_run.metrics
    s, pre = m["strategies"], m["pretrained"]
    assert _two(s["supervised"]["test_accuracy"]) == _two(s["finetune"]["test_accuracy"])
    story = _story(STORY[0])
    expected = [
        f"({_two(s['finetune']['test_accuracy'])} held-out",
        f"(MSE {_two(s['finetune']['test_reconstruction_mse'])} against "
        f"{_two(pre['test_reconstruction_mse'])} after pretraining)",
        f"almost as well ({_two(s['finetune-recon']['test_accuracy'])})",
        f"(MSE {_two(s['finetune-recon']['test_reconstruction_mse'])})",
        f"(CKA {_two(s['finetune-recon']['cka_to_pretrained'])} against "
        f"{_two(s['finetune']['cka_to_pretrained'])};",
        f"moved {_two(s['finetune-recon']['mean_displacement'])} instead of "
        f"{_two(s['finetune']['mean_displacement'])})",
    ]
    assert [e for e in expected if e not in story] == []
    assert f"(CKA {_two(s['joint']['cka_to_pretrained'])})" in _story(STORY[1])


@pytest.fixture(scope="module")
def seed_two() -> dict:
    """The default experiment on seed 2 (the default run's programs: nothing new compiles)."""
    return aelab.train_and_evaluate(aelab.RunConfig(seed=2)).metrics["strategies"]


def test_the_seed_two_aside_quotes_seed_two(seed_two):
    joint = _two(seed_two["joint"]["cka_to_pretrained"])
    recon = _two(seed_two["finetune-recon"]["cka_to_pretrained"])
    assert f"(CKA {joint}) while `finetune-recon` stays close ({recon})" in _story(STORY[1])

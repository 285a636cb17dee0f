"""The README runs as written: every fenced ``bash`` and ``python`` block, in order, in one
temporary folder, with ``AELAB_MAX_STEPS`` capping every phase (the documented way to try a
long example quickly) and the test session's compilation cache.

A comment just before a fence changes how its block runs:

- ``<!-- readme-test: skip (why) -->``: not run here (several hosts, a GPU, an install, a file
  the user must supply); the test reports it as skipped with that reason.
- ``<!-- readme-test: slow (why) -->``: it runs here, but costs more than the test's minute
  allows; run with ``AELAB_README_SLOW=1`` (``AELAB_README_SLOW=1 pytest tests/test_readme.py``)
  to run it too.
- ``<!-- readme-test: full steps (why) -->``: run without the cap, because a later block
  checks the numbers it produces.

``bash`` blocks run with ``bash -e`` and the venv's ``aelab`` first on ``PATH``; each
``python`` block runs in a fresh interpreter; a block of ``>>>`` lines runs as a doctest whose
numbers may differ from those written by 0.02 (seeds are fixed, machines are not). A block
fails when it exits with an error or writes outside its folder: the checkout's ``git status``
changes, or something appears in its home folder, an empty one of its own (``HOME``), so that
what the tests running beside it write in the real one (a browser's first start makes
``~/.pki``) is not taken for its writing. The blocks run once per session, in the first worker
that asks, and every worker reads the outcome, so each block is its own test, named by its
line. When the whole suite runs, ``conftest.py`` starts them at the start of the session, in a
process of their own (``python tests/test_readme.py``), so that no worker sits waiting for
them while a core is free.
"""

from __future__ import annotations

import doctest
import fcntl
import importlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_STEPS = "50"
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*readme-test:\s*(skip|slow|full steps)\s*\((.+)\)\s*-->\s*$")
SLOW = os.environ.get("AELAB_README_SLOW") == "1"  # also run the blocks marked slow
BLOCK_TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: str | None  # "skip", "full steps" or None
    reason: str

    @property
    def id(self) -> str:
        return f"README.md:{self.line}:{self.language}"


def readme_blocks(text: str) -> list[Block]:
    """Every fenced ``bash`` and ``python`` block of ``text``, with the marker before it."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(before.strip())
        if fence.group(1) in ("bash", "python"):
            blocks.append(
                Block(
                    i + 1,
                    fence.group(1),
                    "\n".join(lines[i + 1 : end]) + "\n",
                    marker.group(1) if marker else None,
                    marker.group(2) if marker else "",
                )
            )
        i = end + 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))

# Runs a ``>>>`` block as a doctest (argv[1]: the block's file), comparing numbers with a
# tolerance: the rest of the text must match exactly, whitespace aside.
DOCTEST = r"""
import doctest, re, sys
NUMBER = re.compile(r"-?\d+\.?\d*(?:e[-+]?\d+)?")

class Checker(doctest.OutputChecker):
    def check_output(self, want, got, optionflags):
        if super().check_output(want, got, optionflags):
            return True
        shape = lambda s: re.sub(r"\s+", "", NUMBER.sub("#", s))
        a, b = NUMBER.findall(want), NUMBER.findall(got)
        return shape(want) == shape(got) and len(a) == len(b) and all(
            abs(float(x) - float(y)) <= 0.02 for x, y in zip(a, b))

text = open(sys.argv[1], encoding="utf-8").read()
test = doctest.DocTestParser().get_doctest(text, {}, "README", sys.argv[1], 0)
runner = doctest.DocTestRunner(Checker(), optionflags=doctest.ELLIPSIS)
runner.run(test)
sys.exit(1 if runner.failures else 0)
"""


def _command(block: Block, folder: Path) -> list[str]:
    script = folder.parent / f"block-{block.line}.{'sh' if block.language == 'bash' else 'py'}"
    script.write_text(block.text, encoding="utf-8")
    if block.language == "bash":
        return ["bash", "-e", str(script)]
    if block.text.lstrip().startswith(">>>"):
        return [sys.executable, "-c", DOCTEST, str(script)]
    return [sys.executable, str(script)]


def _outside(home: Path) -> tuple[str, list[str]]:
    """What a block must leave alone: the checkout's git status and its home folder's names."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return status, sorted(os.listdir(home))


def _run_block(block: Block, folder: Path) -> dict:
    if block.marker == "skip" or (block.marker == "slow" and not SLOW):
        slow = f"slow ({block.reason}); AELAB_README_SLOW=1 runs it"
        return {"outcome": "skipped", "message": slow if block.marker == "slow" else block.reason}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["AELAB_COMPILATION_CACHE"] = os.environ["AELAB_TEST_SESSION_CACHE"]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    # matplotlib's own cache, outside the block's home: its first import makes one
    env.setdefault("MPLCONFIGDIR", str(folder.parent / "matplotlib"))
    home = folder.parent / "home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env.pop("AELAB_MAX_STEPS", None)
    if block.marker != "full steps":
        env["AELAB_MAX_STEPS"] = MAX_STEPS
    before, start = _outside(home), time.monotonic()
    try:
        done = subprocess.run(
            _command(block, folder),
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "failed", "message": f"did not end within {BLOCK_TIMEOUT} s"}
    seconds = time.monotonic() - start
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        return {"outcome": "failed", "message": f"exit {done.returncode}:\n{tail}"}
    if _outside(home) != before:
        return {"outcome": "failed", "message": "wrote outside its temporary folder"}
    return {"outcome": "passed", "message": f"{seconds:.1f} s"}


def _run_all() -> dict:
    """Every block's outcome, in order, in one temporary folder, and the CPU time they took."""
    home = Path(tempfile.mkdtemp(prefix="aelab-readme-"))
    folder = home / "work"
    folder.mkdir()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        outcomes = {str(b.line): _run_block(b, folder) for b in BLOCKS}
    finally:
        shutil.rmtree(home, ignore_errors=True)
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
    return {"blocks": outcomes, "cpu_seconds": cpu}


def outcomes_of_the_session() -> dict:
    """The blocks' outcomes: run by the first process of the session that asks (pytest-xdist
    workers and the process ``conftest.py`` may start share the session's cache folder), read
    from its file by the others."""
    shared = Path(os.environ["AELAB_TEST_SESSION_CACHE"])
    path = shared / "readme-outcomes.json"
    with open(shared / "readme.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            path.write_text(json.dumps(_run_all()))
        return json.loads(path.read_text())


@pytest.fixture(scope="session")
def readme_outcomes() -> dict:
    """The blocks' outcomes (:func:`outcomes_of_the_session`), printed."""
    outcomes = outcomes_of_the_session()
    blocks = outcomes["blocks"].items()
    lines = [f"README.md:{k}: {v['outcome']}: {v['message']}" for k, v in blocks]
    print(f"README blocks: {outcomes['cpu_seconds']:.1f} s of CPU", *lines, sep="\n")
    return outcomes


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.id)
def test_readme_block(block, readme_outcomes):
    outcome = readme_outcomes["blocks"][str(block.line)]
    if outcome["outcome"] == "skipped":
        pytest.skip(f"README.md:{block.line}: {outcome['message']}")
    assert outcome["outcome"] == "passed", f"README.md:{block.line}: {outcome['message']}"


def test_markers_are_found():
    blocks = readme_blocks(
        "<!-- readme-test: skip (needs a GPU) -->\n```bash\nx\n```\n"
        "```python\ny = 1\n```\n```toml\nz\n```\n"
        "<!-- readme-test: slow (a minute) -->\n```bash\nw\n```\n"
    )
    assert [(b.line, b.marker, b.reason, b.text) for b in blocks] == [
        (2, "skip", "needs a GPU", "x\n"),
        (5, None, "", "y = 1\n"),
        (12, "slow", "a minute", "w\n"),
    ]


@pytest.mark.parametrize("module", ["aelab", "aelab.estimators"])
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    """The public API's docstring examples, as doctests, with the steps capped."""
    monkeypatch.setenv("AELAB_MAX_STEPS", MAX_STEPS)
    monkeypatch.chdir(tmp_path)  # the examples write their runs here
    failures, tried = doctest.testmod(importlib.import_module(module), verbose=False)
    assert tried and not failures


if __name__ == "__main__":  # conftest.py's early start: the outcomes, into the session's folder
    outcomes_of_the_session()

"""The README runs as written: every fenced ``bash`` and ``python`` block and every shell
transcript, in order, in one temporary folder, with ``AELAB_MAX_STEPS`` capping every phase (the
documented way to try a long example quickly) and the test session's compilation cache.

A comment just before a fence changes how its block runs:

- ``<!-- readme-test: skip (why) -->``: not run here (several hosts, a GPU, an install, a file
  the user must supply, a Ctrl-C); the test reports it as skipped with that reason.
- ``<!-- readme-test: slow (why) -->``: it runs here, but costs more than the test's minute
  allows; run with ``AELAB_README_SLOW=1`` (``AELAB_README_SLOW=1 pytest tests/test_readme.py``)
  to run it too.
- ``<!-- readme-test: full steps (why) -->``: run without the cap, because a later block
  checks the numbers it produces, or a transcript's decimals are to be checked (below).

``bash`` blocks run with ``bash -e`` and the venv's ``aelab`` first on ``PATH``; each
``python`` block runs as a script; a block of ``>>>`` lines runs as a doctest whose numbers may
differ from those written by 0.02 (seeds are fixed, machines are not).

**Transcripts.** A fence with no language whose first line starts with ``$ `` is a transcript
of a terminal: each ``$ `` line is a command, run with ``bash -c`` (in the same folder and
environment as the blocks), and the lines up to the next ``$ `` are what it prints, standard
output and error together. Any other fence without a language (the source layout, the command
line's summary) is not run. The output must be the one shown, with doctest's leniencies and the
doctests' tolerance: ``...`` stands for any text, a run of whitespace for any run, an integer
(a count of rows, layers, samples) must be the one shown; a decimal may differ by 0.02 in a
transcript marked ``full steps`` (the predictions of the full-steps run), and be any number in
the others, whose capped steps change every trained number. A command whose output shown starts with
``aelab: error:`` must exit with status 2 (the contract for bad input); any other must exit 0.

A block fails when it exits with an error, prints other than its transcript shows, or writes
outside its folder: the checkout's ``git status`` changes, or something appears in its home
folder, an empty one of its own (``HOME``), so that what the tests running beside it write in
the real one (a browser's first start makes ``~/.pki``) is not taken for its writing.

**CPU.** Starting Python and importing JAX, scikit-learn, matplotlib and aelab costs about
2.5 s of CPU, and the README starts some twenty commands: ``readme_forks.py`` imports them
once, and the ``aelab`` on ``PATH`` (and each ``python`` block) runs as a forked child of that
interpreter, with the command's own arguments, folder, environment, streams, signals and exit
status; where forking is not safe, or the environment differs in what imports read, it
starts a fresh interpreter instead. Each block reports its CPU seconds (user + system, of
every process it started), and the run its total.

The blocks run once per session, in the first worker that asks, and every worker reads the
outcome, so each block is its own test, named by its line. When the whole suite runs,
``conftest.py`` starts them at the start of the session, in a process of their own (``python
tests/test_readme.py``), so that no worker sits waiting for them while a core is free.
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
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

try:  # under pytest, tests/ is a package; as a script (conftest's early start), it is the path
    from tests.readme_forks import SOCKET_VARIABLE
except ImportError:
    from readme_forks import SOCKET_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FORKS = Path(__file__).resolve().parent / "readme_forks.py"
MAX_STEPS = "50"
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*readme-test:\s*(skip|slow|full steps)\s*\((.+)\)\s*-->\s*$")
SLOW = os.environ.get("AELAB_README_SLOW") == "1"  # also run the blocks marked slow
BLOCK_TIMEOUT = 300
TOLERANCE = 0.02  # how far a decimal shown in a doctest or a transcript may be from the run's
NUMBER = r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?"
TOKEN = re.compile(rf"(\.\.\.)|(\s+)|({NUMBER})")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    language: str  # "bash", "python" or "transcript"
    text: str
    marker: str | None  # "skip", "slow", "full steps" or None
    reason: str

    @property
    def id(self) -> str:
        return f"README.md:{self.line}:{self.language}"


def _language(fence: str, first_line: str) -> str | None:
    if fence in ("bash", "python"):
        return fence
    return "transcript" if not fence and first_line.startswith("$ ") else None


def readme_blocks(text: str) -> list[Block]:
    """Every fenced ``bash`` and ``python`` block of ``text`` and every transcript, with the
    marker before it."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(before.strip())
        language = _language(fence.group(1), lines[i + 1] if i + 1 < end else "")
        if language:
            blocks.append(
                Block(
                    i + 1,
                    language,
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


def transcript(text: str) -> list[tuple[str, str]]:
    """A transcript's ``(command, output shown)`` pairs: each ``$ `` line and the lines up to
    the next one."""
    pairs: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        else:
            pairs[-1][1].append(line)
    return [(command, "\n".join(shown)) for command, shown in pairs]


def output_differs(shown: str, got: str, *, shape_only: bool = False) -> str | None:
    """Why ``got`` is not the output ``shown`` (``None``: it is). ``...`` stands for any text
    and a run of whitespace for any run; an integer must be the one shown; a decimal may
    differ by ``TOLERANCE``, or be any number with ``shape_only``."""
    parts, wanted, start = [], [], 0
    for token in TOKEN.finditer(shown.strip()):
        parts.append(re.escape(shown.strip()[start : token.start()]))
        ellipsis, space, number = token.groups()
        parts.append(".*?" if ellipsis else r"\s+" if space else f"({NUMBER})")
        wanted += [number] if number else []
        start = token.end()
    parts.append(re.escape(shown.strip()[start:]))
    pattern = "".join(parts).replace(r"\s+.*?", ".*?").replace(r".*?\s+", ".*?")  # or none
    match = re.fullmatch(pattern, got.strip(), re.DOTALL)
    if not match:
        return f"printed:\n{got.strip()}\ninstead of:\n{shown.strip()}"
    for want, number in zip(wanted, match.groups(), strict=True):
        if re.search(r"[.e]", want):  # a decimal
            wrong = not shape_only and abs(float(want) - float(number)) > TOLERANCE
        else:
            wrong = want != number
        if wrong:
            return f"printed {number} where the README shows {want}:\n{got.strip()}"
    return None


def _command(block: Block, folder: Path) -> list[str]:
    """The block's command: ``python`` blocks through the interpreter that has imported aelab
    (``readme_forks.py``)."""
    script = folder.parent / f"block-{block.line}.{'sh' if block.language == 'bash' else 'py'}"
    script.write_text(block.text, encoding="utf-8")
    if block.language == "bash":
        return ["bash", "-e", str(script)]
    client = [sys.executable, "-IS", str(FORKS)]
    if block.text.lstrip().startswith(">>>"):
        return [*client, "doctest", DOCTEST, str(script)]
    return [*client, "python", str(script)]


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


def _environment(folder: Path) -> dict[str, str]:
    """What every block runs with (the step cap aside): the venv's ``aelab`` and the forking
    one (``readme_forks.py``) first on ``PATH``, this checkout's ``src``, the session's
    compilation cache, a home folder of its own."""
    bin_folder, home = folder.parent / "bin", folder.parent / "home"
    path = [str(bin_folder), str(Path(sys.executable).parent), os.environ["PATH"]]
    env = {**os.environ, "PATH": os.pathsep.join(path)}
    env["AELAB_COMPILATION_CACHE"] = os.environ["AELAB_TEST_SESSION_CACHE"]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    # matplotlib's own cache, outside the block's home: its first import makes one
    env.setdefault("MPLCONFIGDIR", str(folder.parent / "matplotlib"))
    env["HOME"] = str(home)
    env[SOCKET_VARIABLE] = str(folder.parent / "forks.socket")
    env.pop("AELAB_MAX_STEPS", None)
    return env


def _run_transcript(block: Block, folder: Path, env: dict[str, str]) -> str | None:
    """Run a transcript's commands in order; why one failed (``None``: none did)."""
    for command, shown in transcript(block.text):
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
        status = 2 if shown.startswith("aelab: error:") else 0
        if done.returncode != status:
            return f"$ {command}: exit {done.returncode}, not {status}:\n{done.stdout[-3000:]}"
        differs = output_differs(shown, done.stdout, shape_only=block.marker != "full steps")
        if differs:
            return f"$ {command}: {differs}"
    return None


def _run_commands(block: Block, folder: Path, env: dict[str, str]) -> str | None:
    """Run a ``bash`` or ``python`` block; why it failed (``None``: it did not)."""
    done = subprocess.run(
        _command(block, folder),
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        return f"exit {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}"
    return None


def _forked_seconds(folder: Path) -> float:
    log = folder.parent / "forks.log"
    return sum(map(float, log.read_text().split())) if log.exists() else 0.0


def _run_block(block: Block, folder: Path, env: dict[str, str]) -> dict:
    if block.marker == "skip" or (block.marker == "slow" and not SLOW):
        slow = f"slow ({block.reason}); AELAB_README_SLOW=1 runs it"
        return {"outcome": "skipped", "message": slow if block.marker == "slow" else block.reason}
    env = dict(env)
    if block.marker != "full steps":
        env["AELAB_MAX_STEPS"] = MAX_STEPS
    home = Path(env["HOME"])
    before, start, cpu = _outside(home), time.monotonic(), _cpu_seconds(folder)
    run = _run_transcript if block.language == "transcript" else _run_commands
    try:
        failed = run(block, folder, env)
    except subprocess.TimeoutExpired:
        failed = f"did not end within {BLOCK_TIMEOUT} s"
    if failed:
        return {"outcome": "failed", "message": failed}
    if _outside(home) != before:
        return {"outcome": "failed", "message": "wrote outside its temporary folder"}
    seconds, cpu = time.monotonic() - start, _cpu_seconds(folder) - cpu
    return {"outcome": "passed", "message": f"{seconds:.1f} s, {cpu:.1f} s of CPU"}


def _ended_cpu_seconds() -> float:
    """CPU seconds (user + system) of the processes that ended and were waited for."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _cpu_seconds(folder: Path) -> float:
    """CPU seconds of the blocks' processes so far: those that ended, and the commands forked
    by ``readme_forks.py``, which logs them (its own are counted when it ends)."""
    return _ended_cpu_seconds() + _forked_seconds(folder)


def _start_forks(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    """The interpreter that imports aelab once and forks each command (``readme_forks.py``),
    and the ``aelab`` on ``PATH`` that asks it; ready when this returns."""
    bin_folder = folder.parent / "bin"
    bin_folder.mkdir()
    client = bin_folder / "aelab"
    client.write_text(
        f"#!{sys.executable} -IS\nimport sys\nsys.path.insert(0, {str(FORKS.parent)!r})\n"
        "import readme_forks\nreadme_forks.call('aelab', sys.argv[1:])\n"
    )
    client.chmod(0o755)
    (folder.parent / "home").mkdir()
    log = folder.parent / "forks.log"
    server = subprocess.Popen(
        [sys.executable, str(FORKS), "serve", env[SOCKET_VARIABLE], str(log)],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    while not Path(env[SOCKET_VARIABLE]).exists() and server.poll() is None:
        time.sleep(0.05)
    # the first command waits for its imports: a command that trains nothing, to wait here
    subprocess.run([str(client), "--help"], env=env, cwd=folder, capture_output=True, check=False)
    return server


def _run_all() -> dict:
    """Every block's outcome, in order, in one temporary folder, and the CPU time they took."""
    home = Path(tempfile.mkdtemp(prefix="aelab-readme-"))
    folder = home / "work"
    folder.mkdir()
    env = _environment(folder)
    start = _ended_cpu_seconds()
    server = _start_forks(folder, env)
    try:
        outcomes = {str(b.line): _run_block(b, folder, env) for b in BLOCKS}
        server.terminate()  # it waits for the next command: nothing is lost
        server.wait()
        cpu = _ended_cpu_seconds() - start  # the server's, its children's included
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(home, ignore_errors=True)
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


def test_markers_and_transcripts_are_found():
    blocks = readme_blocks(
        "<!-- readme-test: skip (needs a GPU) -->\n```bash\nx\n```\n"
        "```python\ny = 1\n```\n```toml\nz\n```\n"
        "<!-- readme-test: slow (a minute) -->\n```bash\nw\n```\n"
        "```\nsrc/aelab/\n  cli/\n```\n"
        "<!-- readme-test: full steps (checked) -->\n```\n$ aelab run\nruns/a\n$ ls\n```\n"
    )
    assert [(b.line, b.language, b.marker, b.reason, b.text) for b in blocks] == [
        (2, "bash", "skip", "needs a GPU", "x\n"),
        (5, "python", None, "", "y = 1\n"),
        (12, "bash", "slow", "a minute", "w\n"),
        (20, "transcript", "full steps", "checked", "$ aelab run\nruns/a\n$ ls\n"),
    ]
    assert transcript(blocks[-1].text) == [("aelab run", "runs/a"), ("ls", "")]


def test_transcript_output_rules():
    shown = "compare  (30 layers, 1797 samples)\nd0,h1,0.815033\n..."
    layers = "compare  (30 layers, 1797 samples)\n"
    assert output_differs(shown, layers.replace("  ", " ") + "d0,h1,0.80\nmore\nlines") is None
    assert "0.70" in output_differs(shown, layers + "d0,h1,0.70\n")
    assert output_differs(shown, layers + "d0,h1,0.7\n", shape_only=True) is None
    assert "31" in output_differs(shown, layers.replace("30", "31") + "d0,h1,0.8", shape_only=True)
    assert output_differs("p 2.0938323e-27", "p 1.7926027e-26") is None
    assert output_differs("runs/a", "runs/a\nTraceback (most recent call last):") is not None


def test_a_forked_command_runs_as_a_fresh_one(tmp_path):
    """``readme_forks.py``: a command gets its arguments, folder, environment, exit status and
    Ctrl-C as in a fresh interpreter, and runs in one when the environment differs in what an
    import reads. (The server imports nothing here: the mechanism is what is tested.)"""
    env = {**os.environ, SOCKET_VARIABLE: str(tmp_path / "socket"), "WHO": "readme"}
    log, folder = tmp_path / "log", tmp_path / "folder"
    folder.mkdir()
    server = subprocess.Popen(
        [sys.executable, str(FORKS), "serve", env[SOCKET_VARIABLE], str(log), "--bare"], env=env
    )
    script = tmp_path / "script.py"
    script.write_text(
        "import os, sys, time\n"
        "print(os.getpid(), os.getcwd(), os.environ['WHO'], sys.argv[1:], flush=True)\n"
        "if sys.argv[1] == 'wait':\n    time.sleep(60)\nsys.exit(3)\n"
    )
    client = [sys.executable, "-IS", str(FORKS), "python", str(script)]
    try:
        while not Path(env[SOCKET_VARIABLE]).exists():
            time.sleep(0.05)
        done = subprocess.Popen([*client, "a"], cwd=folder, env=env, stdout=subprocess.PIPE)
        pid, cwd, who, argv = done.communicate()[0].decode().split(" ", 3)
        assert (done.returncode, cwd, who, argv) == (3, str(folder), "readme", "['a']\n")
        assert int(pid) != done.pid and len(log.read_text().split()) == 1  # forked
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        waiting = subprocess.Popen([*client, "wait"], env=env, **pipes)
        waiting.stdout.readline()
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(timeout=30) == -signal.SIGINT
        stderr = waiting.stderr.read().decode()
        assert f'"{script}"' in stderr and "KeyboardInterrupt" in stderr  # the script's
        fresh = subprocess.Popen([*client, "a"], env={**env, "XLA_PROBE": "1"}, **pipes)
        pid = int(fresh.communicate()[0].split()[0])
        assert (fresh.returncode, pid, len(log.read_text().split())) == (3, fresh.pid, 2)
    finally:
        server.terminate()
        server.wait()


@pytest.mark.parametrize("module", ["aelab", "aelab.estimators"])
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    """The public API's docstring examples, as doctests, with the steps capped."""
    monkeypatch.setenv("AELAB_MAX_STEPS", MAX_STEPS)
    monkeypatch.chdir(tmp_path)  # the examples write their runs here
    failures, tried = doctest.testmod(importlib.import_module(module), verbose=False)
    assert tried and not failures


if __name__ == "__main__":  # conftest.py's early start: the outcomes, into the session's folder
    outcomes_of_the_session()

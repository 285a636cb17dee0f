"""The README test's commands, started from one interpreter that has imported aelab already.

Every ``aelab`` command of the README, and every ``python`` block, would otherwise start a
fresh interpreter that imports JAX, scikit-learn, matplotlib and aelab again: about 2.5 s of
CPU each, half of what a short run costs. A server (``python readme_forks.py serve SOCKET
LOG``) imports them once and forks a child for each command; the command itself is the same
call a fresh process makes (``aelab.cli.main`` with the command's arguments, or the script as
``__main__``), in the command's folder, with its environment, its standard input, output and
error (passed over the socket), its signals (SIGINT, SIGTERM: forwarded) and its exit status.

A client (``python -I -S readme_forks.py aelab|python|doctest ARGS...``) is what the blocks
call: the README test puts an ``aelab`` that runs it first on ``PATH``. It runs the command
itself, in a fresh interpreter (``exec``), when no server answers, when the command's
environment differs from the server's in what an import reads (``JAX_*``, ``XLA_*``, ...),
or when forking would not be safe (a thread running, or JAX's backend started: JAX is then
multithreaded). The server runs one command at a time (a command that the child itself
starts runs fresh), appends each child's CPU seconds (user + system) to LOG, so that the test
counts them, and ends on SIGTERM. A child ends as the interpreter ends (atexit handlers, weak
finalizers, streams flushed) but does not tear down the modules it shares with the server.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import pkgutil
import runpy
import select
import signal
import socket
import sys
import threading

SOCKET_VARIABLE = "AELAB_README_FORKS"
# What a module reads from the environment when it is imported: a command whose values differ
# from the server's is run in a fresh interpreter instead.
READ_AT_IMPORT = ("JAX_", "XLA_", "TF_", "MPL", "PYTHON", "OMP_", "AELAB_COMPILATION_CACHE")
# What the commands import: aelab's own modules (all of them), and what it imports lazily.
PRELOAD = (
    "jax",
    "jax.numpy",
    "optax",
    "pandas",
    "sklearn.decomposition",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.neighbors",
    "sklearn.neural_network",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.semi_supervised",
    "sklearn.metrics",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "PIL.Image",
    "safetensors.numpy",
)


def _preload() -> None:
    import aelab  # here, not at the top: the client must start without it

    names = list(PRELOAD)
    modules = pkgutil.walk_packages(aelab.__path__, "aelab.")
    names += [m.name for m in modules if not m.name.endswith("__main__")]  # that one runs
    for name in names:
        # one that fails is imported again by the command, which reports why
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def _reads_at_import(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(READ_AT_IMPORT) or k == "HOME"}


def _fork_is_safe() -> bool:
    if threading.active_count() != 1:
        return False
    if "jax" in sys.modules:
        from jax._src import xla_bridge  # already imported: the question is JAX's own

        return not xla_bridge.backends_are_initialized()
    return True


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds = b"", []
    while not data.endswith(b"\n"):
        chunk, more, _, _ = socket.recv_fds(conn, 1 << 20, 8)
        if not chunk:
            raise ConnectionError("the client went away")
        data, fds = data + chunk, fds + list(more)
    return json.loads(data), fds


def _send(conn: socket.socket, message: dict) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def _child(request: dict, fds: list[int]) -> None:
    """In the forked child: become the command, run it, and exit as it exits."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    del os.environ[SOCKET_VARIABLE]  # the server waits for this child: one it starts runs fresh
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.argv = request["argv"]
    try:
        _command(request["kind"], request)
        code = 0
    except SystemExit as stop:
        code = stop.code
    except BaseException as error:  # noqa: BLE001 - what the interpreter does with it
        sys.excepthook(type(error), error, error.__traceback__)
        code = -signal.SIGINT if isinstance(error, KeyboardInterrupt) else 1
    _leave(code)


def _command(kind: str, request: dict) -> None:
    if kind == "aelab":
        from aelab.cli import main  # imported already: what the console script calls

        sys.path[0] = request["bin"]
        sys.exit(main())
    if kind == "python":
        sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
        runpy.run_path(sys.argv[0], run_name="__main__")
    else:  # "doctest": python -c CODE ARGS
        code, sys.path[0], sys.argv = sys.argv[0], "", ["-c", *sys.argv[1:]]
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})


def _leave(code: object) -> None:
    """End the child as the interpreter ends (atexit handlers and weak finalizers run, garbage
    collected, streams flushed), but without tearing down every module the server imported:
    touching their objects would copy the shared pages, about 0.8 s of CPU."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    gc.collect()
    sys.stdout.flush()
    sys.stderr.flush()
    if code is not None and code < 0:  # a KeyboardInterrupt: end by the signal, as Python does
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code or 0)


def _wait(conn: socket.socket, pid: int) -> tuple[int, float]:
    """The child's wait status and CPU seconds; a client that goes away takes the child."""
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage.ru_utime + usage.ru_stime
        if select.select([conn], [], [], 0.1)[0] and not conn.recv(1 << 10):
            os.kill(pid, signal.SIGKILL)


def serve(path: str, log: str, preload: bool = True) -> None:
    """Answer commands on the Unix socket ``path`` until it is sent SIGTERM or its parent
    ends (``preload``: import what the commands import first; its own test skips that)."""
    parent = os.getppid()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)  # clients wait in the queue while the imports run
    started = dict(os.environ)
    if preload:
        _preload()
    # what the imports set (JAX's TF_CPP_MIN_LOG_LEVEL...): a fresh process's imports set it too
    added = {k: v for k, v in os.environ.items() if k not in started}
    gc.freeze()  # the children's collections leave the imported objects (and their pages) alone
    server.settimeout(1.0)
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test that started it is gone (killed): so is it
                return
            continue
        conn.setblocking(True)
        request, fds = _receive(conn)
        if _reads_at_import(request["env"]) != _reads_at_import(started) or not _fork_is_safe():
            _send(conn, {"exec": True})
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        request["env"] = {**added, **request["env"]}
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            server.close()
            conn.close()
            _child(request, fds)
        for fd in fds:
            os.close(fd)
        _send(conn, {"pid": pid})
        status, seconds = _wait(conn, pid)
        with open(log, "a") as file:
            file.write(f"{seconds}\n")
        with contextlib.suppress(OSError):  # a client that went away asks for nothing
            _send(conn, {"status": status})
        conn.close()


def _exec(kind: str, argv: list[str]) -> None:
    python = os.path.join(os.path.dirname(sys.executable), "python")
    if kind == "aelab":
        command = [os.path.join(os.path.dirname(sys.executable), "aelab"), *argv]
    elif kind == "python":
        command = [python, *argv]
    else:
        command = [python, "-c", *argv]
    os.execv(command[0], command)


def call(kind: str, argv: list[str]) -> None:
    """Run the command in a child of the server, or (no server, or not safe) in a fresh
    interpreter; exit as the command exits."""
    path = os.environ.get(SOCKET_VARIABLE)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path or "")
    except OSError:
        _exec(kind, argv)
    request = {"kind": kind, "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
    request["bin"] = os.path.dirname(sys.executable)
    if kind == "aelab":
        request["argv"] = ["aelab", *argv]
    answer: dict = {}
    pending: list[int] = []  # signals that came before the child's pid

    def forward(number: int, _) -> None:
        if "pid" in answer:
            os.kill(answer["pid"], number)
        else:
            pending.append(number)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, forward)
    socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
    answer.update(_receive(conn)[0])
    if answer.get("exec"):
        _exec(kind, argv)
    for number in pending:
        os.kill(answer["pid"], number)
    status = _receive(conn)[0]["status"]
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], preload="--bare" not in sys.argv)
    else:
        call(sys.argv[1], sys.argv[2:])

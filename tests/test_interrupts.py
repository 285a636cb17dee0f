"""Ctrl-C at any moment stops `aelab run`: before training with nothing written, once trained
after finishing the run folder; a SIGINT whose KeyboardInterrupt Python loses (raised inside a
garbage-collector callback, as JAX's did) is not missed.

Each test runs the real command in a fresh process that sends itself a real SIGINT at one
moment, through hooks set before the command starts (so the moment is exact, not a guess of
timing); the test session's compilation cache keeps each to a few seconds.
"""

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from aelab import interrupts

# The child: SIGINT as at a terminal (whatever its parent ignores), hooks for MOMENT, the CLI.
CHILD = textwrap.dedent(
    """
    import gc, os, signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def sigint_in_gc(ready=lambda: True):
        # A real SIGINT, handled inside a gc callback: Python drops the KeyboardInterrupt.
        def callback(phase, info):
            if ready():
                gc.callbacks.remove(callback)
                os.kill(os.getpid(), signal.SIGINT)
        gc.callbacks.append(callback)

    moment, _, name = sys.argv[1].partition(":")
    if moment == "imports":  # while JAX is imported, before anything else
        sigint_in_gc(lambda: "jax" in sys.modules)
    elif moment == "data":
        import aelab.training.experiment as experiment
        load_split = experiment.load_split
        def loading(config):
            sigint_in_gc()
            gc.collect()
            return load_split(config)
        experiment.load_split = loading
    elif moment == "compiling":  # as the first training program is lowered to XLA
        import jax.monitoring
        from aelab.training.trainer import _Training
        chunk, armed = _Training.chunk, []
        def first_chunk(self):
            armed.append(1)
            return chunk(self)
        def listener(event, seconds, **kw):
            if armed and event.endswith("jaxpr_to_mlir_module_duration"):
                armed.clear()
                sigint_in_gc()
                gc.collect()
        jax.monitoring.register_event_duration_secs_listener(listener)
        _Training.chunk = first_chunk
    elif moment == "training":  # signal NAME as the third chunk of steps starts
        from aelab.training.trainer import _Training
        chunk, calls = _Training.chunk, []
        def third_chunk(self):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), getattr(signal, name))
            return chunk(self)
        _Training.chunk = third_chunk
    elif moment == "writing":
        import aelab.outputs.runfiles as runfiles
        write_run = runfiles.write_run
        def writing(*args, **kw):
            os.kill(os.getpid(), signal.SIGINT)
            return write_run(*args, **kw)
        runfiles.write_run = writing

    from aelab.cli import main
    main(sys.argv[2:])
    """
)
# test_cli's steps: the session's compilation cache holds their programs
FAST = ["--pretrain-steps", "100", "--finetune-steps", "150", "--snapshot-every", "50", "-q"]


def interrupted_command(moment: str, *args: str) -> list[str]:
    """``aelab ARGS`` in a fresh process that signals itself at ``moment`` (``imports``,
    ``data``, ``compiling``, ``training:SIGINT`` or ``:SIGTERM``, ``writing``)."""
    return [sys.executable, "-c", CHILD, moment, *args]


def _interrupted_at(moment: str, out) -> subprocess.CompletedProcess:
    return subprocess.run(
        interrupted_command(moment, "run", *FAST, "--out", str(out), "--name", "x"),
        env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("moment", ["imports", "data", "compiling"])
def test_a_lost_ctrl_c_before_training_stops_the_run_with_nothing_written(tmp_path, moment):
    done = _interrupted_at(moment, tmp_path / "runs")
    assert done.returncode == 130, done.stderr[-2000:]
    assert done.stderr.strip().endswith("aelab: interrupted; nothing was written"), done.stderr
    assert "Exception ignored" not in done.stderr  # remembered, so not reported as lost
    assert not (tmp_path / "runs").exists()  # no run folder, no partial one, no saved state


def test_a_ctrl_c_while_writing_finishes_the_folder_then_stops(tmp_path):
    done = _interrupted_at("writing", tmp_path)
    assert done.returncode == 130, done.stderr[-2000:]
    message = "aelab: interrupted while the run folder was written; it was finished first: "
    assert done.stderr.strip().endswith(message + str(tmp_path / "x")), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]
    assert all((tmp_path / "x" / f).is_file() for f in ("metrics.json", "report.html"))


def test_a_lost_ctrl_c_stops_a_sweep_after_the_chunk_of_steps(tmp_path):
    args = ["sweep", "--seeds", "2", "--labels", "3", "--strategies", "supervised,joint",
            "--pretrain-steps", "50", "--finetune-steps", "50", "--no-baselines", "-q"]  # fmt: skip
    done = subprocess.run(
        interrupted_command("compiling", *args, "--out", str(tmp_path), "--name", "s"),
        env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 130, done.stderr[-2000:]
    assert f"{tmp_path / 's'} keeps 0 finished rows; finish it with" in done.stderr
    assert not (tmp_path / "s" / "summary.csv").exists()


def test_a_sigint_lost_in_a_gc_callback_is_raised_again_at_the_next_check():
    def callback(phase, info):
        gc.callbacks.remove(callback)
        signal.raise_signal(signal.SIGINT)  # its KeyboardInterrupt is raised here, and lost

    old = signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal
    try:
        with interrupts.catching():
            interrupts.check()  # nothing received yet
            gc.callbacks.append(callback)
            gc.collect()
            with pytest.raises(KeyboardInterrupt):
                interrupts.check()
    finally:
        signal.signal(signal.SIGINT, old)
    interrupts.check()  # forgotten once catching() ends


def test_a_ctrl_c_from_outside_soon_after_start_stops_the_run(tmp_path):
    """As the audit did it: Ctrl-C a second after a long run starts, whatever it is doing."""
    args = ["run", "--pretrain-steps", "2000", "--finetune-steps", "100000", "--out",
            str(tmp_path), "--name", "early", "-q"]  # fmt: skip
    child = subprocess.Popen(  # no hook: only SIGINT as at a terminal
        interrupted_command("none", *args), env=dict(os.environ), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err[-2000:]
    assert not (tmp_path / "early").exists() and not list(tmp_path.glob(".early.partial-*"))

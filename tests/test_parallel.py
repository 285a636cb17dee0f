"""Several devices and several processes give one device's numbers, within float tolerance.

JAX fixes its devices when it starts, so every check runs in a fresh Python process: with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` the CPU shows two devices, and two
processes on localhost join through ``jax.distributed`` (gloo's CPU collectives).
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aelab.cli import main

# Two CPU devices. Both sides of every comparison in such a process compile alike, with
# LLVM's optimisation level 0, as the whole session does (conftest.py; ``_env`` drops the
# session's XLA_FLAGS, so the level is named again here): the same programs (aelab's code,
# XLA's passes, the sharding); only the machine code is less optimised.
TWO_DEVICES = {
    "XLA_FLAGS": "--xla_force_host_platform_device_count=2 --xla_backend_optimization_level=0"
}
FAST = ["--pretrain-steps", "300", "--finetune-steps", "400", "--snapshot-every", "100"]


def _env(extra: dict | None = None) -> dict:
    """A fresh process's environment: no XLA or JAX settings but the test session's
    compilation cache (a program compiled once loads in every other process)."""
    cache = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("XLA_", "JAX_")) or k in cache
    }  # fmt: skip
    return {**env, **(extra or {})}


def _python(code: str, extra_env: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_env(extra_env), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _aelab(*args: str, extra_env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aelab", *args], env=_env(extra_env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )  # fmt: skip


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return out


def _numbers(tree, prefix=""):
    """Every number of a metrics.json as {path: value}."""
    if isinstance(tree, dict):
        return {
            k: v for key, sub in tree.items() for k, v in _numbers(sub, f"{prefix}/{key}").items()
        }
    if isinstance(tree, list):
        return {
            k: v for i, sub in enumerate(tree) for k, v in _numbers(sub, f"{prefix}[{i}]").items()
        }
    if isinstance(tree, bool) or not isinstance(tree, int | float):
        return {prefix: tree}
    return {prefix: float(tree)}


def _assert_same_metrics(a: Path, b: Path, atol: float = 1e-5) -> None:
    x, y = (_numbers(json.loads(p.read_text())) for p in (a, b))
    assert x.keys() == y.keys()
    for key in x:
        if isinstance(x[key], float):
            assert abs(x[key] - y[key]) <= atol, (key, x[key], y[key])
        else:
            assert x[key] == y[key], key


def test_one_device_trains_without_a_mesh():
    import jax

    from aelab.training.parallel import device_mesh

    assert device_mesh(jax.devices()[:1]) is None


def test_training_on_two_devices_equals_one_device():
    """Full batch (149 rows: one padding row), shuffled epochs, draws, and a sweep's groups
    spread over the devices (3 seeds: one padding group)."""
    result = _python(
        """
        import json
        import jax, numpy as np
        from aelab.data import load_dataset, split_dataset
        from aelab.models.autoencoder import Autoencoder
        from aelab.models.ladder import LadderNetwork
        from aelab.training.parallel import device_mesh
        from aelab.training.feeding import Batch
        from aelab.training.program import Weights
        from aelab.training.trainer import Models, Schedule, train_groups, train_phase
        from aelab.training.trees import stack, to_numpy

        mesh = device_mesh()
        split = split_dataset(load_dataset("iris"), 0.5, seed=0, labels=3)
        keep = np.arange(149)
        batch = Batch.from_split(
            split.x[keep], split.y[keep], split.is_train[keep], split.is_labelled[keep]
        )
        out = {"devices": mesh.size, "sharded": {}}

        def diff(a, b):  # relative to the size of the numbers compared
            return max(float(np.abs(u - v).max() / (1 + np.abs(u).max())) for u, v in zip(
                jax.tree.leaves(a), jax.tree.leaves(b), strict=True))

        ladder = LadderNetwork(4, 3, weights=(1.0, 0.5, 0.1))  # no hidden layer: compiles faster
        for name, model in [("ae", Autoencoder(4, 3, hidden=(6,))), ("ladder", ladder)]:
            init = to_numpy(model.init(jax.random.key(0)))
            for size, sampling in [(None, "epochs"), (8, "epochs"), (8, "draws")]:
                if name == "ladder" and sampling != "draws":
                    # Full batch: chaotic on one device already (a 1e-7 relative change of its
                    # initial weights moves them by 5e-2 within 5 steps). Epochs: the
                    # autoencoder's split of each minibatch; the ladder adds its batch
                    # statistics over the split rows, which draws check (and cost 10 s each).
                    continue
                runs = [train_phase(
                    model, stack([init, init]), batch, ce_weight=np.array([0.0, 1.0]),
                    recon_weight=np.ones(2), learning_rate=0.01, steps=150,
                    snapshot_every=100, key=jax.random.key(1), batch_size=size,
                    sampling=sampling, mesh=m) for m in (None, mesh)]
                out[f"{name} {size} {sampling}"] = max(
                    diff(runs[0].params, runs[1].params),
                    diff(runs[0].snapshots, runs[1].snapshots),
                    diff(runs[0].history, runs[1].history))
                out["shape"] = list(runs[1].snapshots.shape)
                if name == "ae" and sampling == "draws":
                    # How far float rounding alone carries this training: one device, its
                    # initial weights nudged by 1e-7 (Adam magnifies tiny gradients).
                    nudged = jax.tree.map(lambda a: (a * (1 + 1e-7)).astype(np.float32), init)
                    again = train_phase(
                        model, stack([nudged, nudged]), batch, ce_weight=np.array([0.0, 1.0]),
                        recon_weight=np.ones(2), learning_rate=0.01, steps=150,
                        snapshot_every=100, key=jax.random.key(1), batch_size=size,
                        sampling=sampling)
                    out["rounding"] = max(
                        diff(runs[0].params, again.params), diff(runs[0].history, again.history))

        # Minibatches read from disk, split evenly (8) or not (7) over the devices.
        import tempfile
        path = tempfile.mkdtemp() + "/x.npy"
        np.save(path, np.asarray(batch.x))
        on_disk = np.load(path, mmap_mode="r")
        model = Autoencoder(4, 3, hidden=(6,))
        init = to_numpy(model.init(jax.random.key(0)))
        for size in (7, 8):
            runs = [train_phase(
                model, stack([init, init]),
                Batch(x, batch.y, batch.recon_mask, batch.label_mask),
                ce_weight=np.array([0.0, 1.0]), recon_weight=np.ones(2), learning_rate=0.01,
                steps=150, snapshot_every=100, key=jax.random.key(1), batch_size=size,
                mesh=m) for x, m in ((np.asarray(batch.x), None), (on_disk, mesh))]
            out[f"streamed {size}"] = max(
                diff(runs[0].params, runs[1].params), diff(runs[0].history, runs[1].history))

        inits = [to_numpy(model.init(jax.random.key(s))) for s in range(3)]
        x = np.stack([split.x] * 3)
        y = np.stack([split.y] * 3).astype(np.int32)
        masks = np.stack([np.stack([split.is_train, split.is_train])] * 3).astype(np.float32)
        labelled = np.stack([np.stack([split.is_train, split.is_labelled])] * 3)
        ones = np.ones((3, 2), np.float32)
        models = Models(
            params=stack([stack([i, i]) for i in inits]),
            weights=Weights(ce=ones, recon=ones, penalty=ones, noise_level=0 * ones,
                            decay_end=200 * ones, decay_span=100 * ones),  # the rate decays
            learning_rate=0.01 * ones, keys=jax.random.split(jax.random.key(2), (3, 2)),
            order_keys=jax.random.split(jax.random.key(3), 3),
        )
        groups = [train_groups(
            model, models, Batch(x, y, masks, labelled.astype(np.float32)),
            Schedule(200, 70, batch_size=16, snapshots=False, history=False), mesh=m,
        ) for m in (None, mesh)]
        out["groups"] = max(diff(groups[0].params, groups[1].params),
                            diff(groups[0].history, groups[1].history))
        print(json.dumps(out))
        """,
        TWO_DEVICES,
    )
    assert result["devices"] == 2
    assert result["shape"] == [3, 2, 149, 2]  # the padding row is gone from the snapshots
    # Within float rounding: 1e-4, or for minibatch draws (which magnify rounding) ten times
    # what a 1e-7 nudge of the initial weights gives on one device.
    rounding = result.pop("rounding")
    for key, value in result.items():
        if key not in ("devices", "shape", "sharded"):
            bar = max(1e-4, 10 * rounding) if key == "ae 8 draws" else 1e-4
            assert value < bar, (key, value, rounding)


def _aelab_in_one_process(*commands: list[str]) -> None:
    """Several ``aelab`` commands, one after the other, in one fresh process that sees two
    CPU devices (``--devices 1`` trains on the first, as a process of one device would)."""
    codes = _python(
        f"""
        import json
        from aelab.cli import main

        codes = []
        for argv in {[list(c) for c in commands]!r}:
            try:
                main(argv)
            except SystemExit as done:
                codes.append(done.code)
        print(json.dumps(codes))
        """,
        TWO_DEVICES,
    )
    assert codes == [0] * len(commands)


def test_aelab_run_on_two_devices_equals_one(tmp_path):
    _aelab_in_one_process(*(
        ["run", "--out", str(tmp_path), "--name", f"d{d}", "--devices", str(d), "-q",
         "--batch-size", "16", *FAST]
        for d in (1, 2)
    ))  # fmt: skip
    _assert_same_metrics(tmp_path / "d1" / "metrics.json", tmp_path / "d2" / "metrics.json")
    timing = json.loads((tmp_path / "d2" / "timing.json").read_text())
    assert timing["devices"] == 2 and timing["processes"] == 1


def test_a_sweep_spreads_its_seeds_over_two_devices(tmp_path):
    args = ["sweep", "--out", str(tmp_path), "--seeds", "3", "--labels", "5", "-q",
            "--recon-weight", "0,1", "--no-baselines", *FAST]  # fmt: skip
    _aelab_in_one_process(*(args + ["--name", f"d{d}", "--devices", str(d)] for d in (1, 2)))
    a, b = (pd.read_csv(tmp_path / d / "results.csv") for d in ("d1", "d2"))
    numbers = a.select_dtypes("number").columns
    assert len(a) == len(b) == 3 * 6  # seeds x (supervised, finetune, 2 x 2 with lambda)
    np.testing.assert_allclose(a[numbers], b[numbers], atol=1e-5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_here(*args: str) -> None:
    """``aelab run`` in this test's own process (one CPU device, the session's compiled
    programs): no second start of Python, JAX and aelab."""
    with pytest.raises(SystemExit) as done:
        main(["run", *args])
    assert done.value.code == 0


# Each step's collectives over processes (gloo) cost milliseconds of CPU, far more on a busy
# machine: few steps, in two chunks a phase (the state goes on from chunk to chunk).
FEW = ["--pretrain-steps", "20", "--finetune-steps", "20", "--snapshot-every", "10"]


@pytest.mark.parametrize(
    "minibatch",
    # Minibatches without pretraining: one phase to compile in each of the three processes.
    [[], ["--batch-size", "16", "--strategies", "supervised,joint"]],
    ids=["full", "epochs"],
)
def test_two_processes_train_one_model_with_a_single_process_numbers(tmp_path, minibatch):
    address = f"127.0.0.1:{_free_port()}"
    hosts = [
        _aelab("run", "--out", str(tmp_path), "--name", "hosts", "-q", *FEW, *minibatch,
               "--coordinator", address, "--num-processes", "2", "--process-id", str(i))
        for i in (0, 1)
    ]  # fmt: skip
    _run_here("--out", str(tmp_path), "--name", "single", "-q", *FEW, *minibatch)
    outputs = [_finish(p) for p in hosts]
    # (gloo's C++ library prints a line of its own when the processes connect)
    assert outputs[0].strip().splitlines()[-1] == str(tmp_path / "hosts")
    assert "process 1 of 2: trained; process 0 writes the run" in outputs[1]
    _assert_same_metrics(tmp_path / "single" / "metrics.json", tmp_path / "hosts" / "metrics.json")
    timing = json.loads((tmp_path / "hosts" / "timing.json").read_text())
    assert timing["devices"] == 2 and timing["processes"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts", "single"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--devices", "3"], "--devices 3: JAX sees 1 CPU device here; use a number from 1 to 1"),
        (["--devices", "0"], "--devices 0: JAX sees 1 CPU device here"),
        (["--coordinator", "nowhere"], "--coordinator 'nowhere': give process 0's address as"),
        (
            ["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"],
            "--process-id 2: number the 2 processes 0 to 1, each once",
        ),
        (
            ["--coordinator", "127.0.0.1:1", "--num-processes", "0"],
            "--num-processes 0: give the number of processes, >= 1",
        ),
    ],
)
def test_bad_device_and_host_settings_are_one_line_errors(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--out", str(tmp_path / "runs"), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("aelab: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "runs").exists()

"""What a stopped run leaves beside its folder: the state of an interrupted run
(``<name>.interrupted``, to resume it) and the last good weights of a diverged one
(``<name>.diverged``). Both are written whole or not at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import jax
import numpy as np

from aelab.config import RunConfig, dump_config, load_config
from aelab.errors import ConfigError
from aelab.outputs.checkpoint import save_checkpoint
from aelab.outputs.folders import read_npz
from aelab.outputs.partials import partial_path
from aelab.training.plan import FINETUNE, Diverged, Interrupted
from aelab.training.trainer import PhaseResult, PhaseState

INTERRUPTED = ".interrupted"  # suffix of the folder an interrupted run leaves
DIVERGED = ".diverged"  # suffix of the folder a diverged run leaves its last good weights in


def savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as an uncompressed ``.npz`` at ``path`` exactly (no suffix added)."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def write_interrupted(exc: Interrupted, config: RunConfig, run_dir: Path) -> Path:
    """Save an interrupted run's state as ``<run_dir>.interrupted/`` (config.toml and
    resume.npz, each written atomically); return the folder. A run is one group: its state
    is saved without the group axis."""
    folder = run_dir.with_name(run_dir.name + INTERRUPTED)
    arrays: dict[str, np.ndarray] = {
        "phase": np.array(exc.phase),
        "data_fingerprint": np.array(exc.fingerprint),
    }

    def put(prefix: str, params, history, snapshots, snapshot_steps) -> None:
        for i, leaf in enumerate(jax.tree.leaves(params)):
            arrays[f"{prefix}/params/{i}"] = np.asarray(leaf)[0]
        arrays[f"{prefix}/history"] = history[0]
        arrays[f"{prefix}/snapshots"] = snapshots[:, 0]
        arrays[f"{prefix}/snapshot_steps"] = snapshot_steps

    st = exc.state
    put("state", st.params, st.history, st.snapshots, st.snapshot_steps)
    arrays["state/done"] = np.array(st.done)
    arrays["state/keys"] = st.keys[0]
    for i, leaf in enumerate(st.opt_state):
        arrays[f"state/opt/{i}"] = np.asarray(leaf)[0]
    if exc.pretrain is not None:
        p = exc.pretrain
        put("pretrain", p.params, p.history, p.snapshots, p.snapshot_steps)
    tmp = partial_path(folder)
    tmp.mkdir(parents=True)
    try:
        (tmp / "config.toml").write_text(dump_config(config, folder), encoding="utf-8")
        savez(tmp / "resume.npz", arrays)
        if folder.exists():  # this run's own earlier state (a resumed run stopped again)
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def read_interrupted(folder: Path) -> tuple[RunConfig, Interrupted]:
    """The config and the :class:`Interrupted` state an interrupted run left."""
    if not (folder / "resume.npz").is_file() or not (folder / "config.toml").is_file():
        raise ConfigError(
            f"{str(folder)!r} is not an interrupted run (it needs config.toml and resume.npz); "
            "check the path"
        )
    config = load_config(folder / "config.toml")
    # The parameters' tree depends on the layout, not on the data's sizes: any sizes give it
    # (the data is loaded, and checked against the run's, by the resumed run itself); a
    # one-sample signal suits the convolutional families too.
    model = config.model.build(n_inputs=1, n_classes=2, input_shape=(1,))
    template = jax.tree.structure(jax.eval_shape(model.init, jax.random.key(0)))
    z = read_npz(folder / "resume.npz")

    def grouped(a: np.ndarray) -> np.ndarray:  # a run's arrays, with the group axis again
        return np.asarray(a)[None]

    def params(prefix: str):
        count = sum(k.startswith(f"{prefix}/params/") for k in z)
        return jax.tree.unflatten(
            template, [grouped(z[f"{prefix}/params/{i}"]) for i in range(count)]
        )

    try:
        phase = str(z["phase"])
        n_opt = sum(k.startswith("state/opt/") for k in z)
        state = PhaseState(
            done=int(z["state/done"]),
            params=params("state"),
            opt_state=[grouped(z[f"state/opt/{i}"]) for i in range(n_opt)],
            keys=grouped(z["state/keys"]),
            history=grouped(z["state/history"]),
            snapshots=z["state/snapshots"][:, None],
            snapshot_steps=z["state/snapshot_steps"],
        )
        pretrain = None
        if phase == FINETUNE:
            pretrain = PhaseResult(
                params=params("pretrain"),
                history=grouped(z["pretrain/history"]),
                snapshots=z["pretrain/snapshots"][:, None],
                snapshot_steps=z["pretrain/snapshot_steps"],
                diverged=np.zeros((1, 1), bool),
            )
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise ConfigError(
            f"{folder / 'resume.npz'}: the saved state is incomplete ({exc}); start a new run"
        ) from None
    interrupted = Interrupted(phase, state, pretrain)
    interrupted.fingerprint = str(z["data_fingerprint"]) if "data_fingerprint" in z else ""
    return config, interrupted


def write_diverged(exc: Diverged, config: RunConfig, run_dir: Path) -> Path:
    """Checkpoints of the last weights whose every loss was finite, one per model, with the
    config, in ``<run_dir>.diverged/checkpoints/`` (replacing an earlier one)."""
    folder = run_dir.with_name(run_dir.name + DIVERGED)
    tmp = partial_path(folder)
    (tmp / "checkpoints").mkdir(parents=True)
    (tmp / "config.toml").write_text(dump_config(config, folder), encoding="utf-8")
    for i, name in enumerate(exc.names):
        params = jax.tree.map(lambda a, i=i: a[i], exc.params)
        save_checkpoint(tmp / "checkpoints" / f"{name}.npz", exc.model, params, info=exc.info)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder / "checkpoints"

"""What starts at once: commands that train nothing import none of the heavy libraries, the
settings and the model families' declarations need no JAX, and JAX (with its compilation
cache) works as ever once a model or a command needs it. Each check runs in a fresh Python."""

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("jax", "sklearn", "pandas", "matplotlib", "mnist1d", "mlxtend", "optax", "scipy")


def _python(code: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh Python; it prints one JSON value, returned here."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _loaded_after(statements: str) -> list[str]:
    return _python(
        f"import json, sys\n{statements}\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )


@pytest.mark.parametrize(
    "argv", [["--help"], ["datasets"], ["run", "--help"], ["sweep", "--help"], ["--version"]]
)
def test_commands_that_train_nothing_import_no_heavy_library(argv):
    loaded = _loaded_after(
        "import contextlib, io\n"
        "from aelab.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})"
    )
    assert loaded == []


@pytest.mark.parametrize("module", ["aelab", "aelab.config", "aelab.models", "aelab.data"])
def test_settings_models_and_data_import_no_heavy_library(module):
    assert _loaded_after(f"import {module}") == []


def test_a_model_imports_jax_when_it_first_runs_and_jax_is_the_ordinary_one():
    out = _python(
        "import json, sys\n"
        "from aelab.config import ModelConfig\n"
        "from aelab.models.lazy import jax as lazy_jax, jnp as lazy_jnp\n"
        "model = ModelConfig(hidden=(5,), activation='gelu').build(4, 3)\n"
        "before = 'jax' in sys.modules\n"
        "import jax, jax.numpy as jnp\n"  # JAX imported elsewhere is unaffected
        "params = model.init(jax.random.key(0))\n"
        "z, x_hat, logits = jax.jit(model.apply)(params, jnp.ones((2, 4)))\n"
        "total, _ = jax.lax.scan(lambda c, x: (c + x, None), 0.0, lazy_jnp.arange(4.0))\n"
        "print(json.dumps({\n"
        "    'before': before,\n"
        "    'shapes': [list(z.shape), list(x_hat.shape), list(logits.shape)],\n"
        "    'same': [lazy_jnp.zeros is jnp.zeros, lazy_jax.nn is jax.nn,\n"
        "             lazy_jax.random is jax.random, sys.modules['jax'] is jax,\n"
        "             type(sys.modules['jax']).__name__ == 'module'],\n"
        "    'scan': float(total),\n"
        "}))"
    )
    assert out == {
        "before": False,
        "shapes": [[2, 2], [2, 4], [2, 3]],
        "same": [True, True, True, True, True],
        "scan": 6.0,
    }


_CACHE = (
    "import contextlib, io, json\n"
    "from aelab.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
    "    main(['datasets'])\n"
    "import jax\n"
    "print(json.dumps([jax.config.jax_compilation_cache_dir,\n"
    "                  jax.config.jax_persistent_cache_min_compile_time_secs]))"
)


def test_the_command_line_sets_the_compilation_cache_before_jax_starts(tmp_path):
    folder = str(tmp_path / "xla")
    assert _python(_CACHE, {"AELAB_COMPILATION_CACHE": folder}) == [folder, 0.05]
    home = {"AELAB_COMPILATION_CACHE": "", "XDG_CACHE_HOME": str(tmp_path)}
    assert _python(_CACHE, home) == [str(tmp_path / "aelab" / "xla"), 0.05]
    off = {"AELAB_COMPILATION_CACHE": "off", "JAX_COMPILATION_CACHE_DIR": ""}
    assert _python(_CACHE, off)[0] in (None, "")


def test_the_compilation_cache_is_set_when_jax_is_already_imported(tmp_path):
    folder = str(tmp_path / "xla")
    out = _python(
        "import jax, json\n"
        "from aelab.cache import enable_compilation_cache\n"
        "enable_compilation_cache()\n"
        "print(json.dumps([jax.config.jax_compilation_cache_dir,\n"
        "                  jax.config.jax_persistent_cache_min_compile_time_secs]))",
        {"AELAB_COMPILATION_CACHE": folder},
    )
    assert out == [folder, 0.05]


def test_training_leaves_the_imports_of_measuring_to_a_background_thread():
    """Loading Iris and splitting it import no scikit-learn (the split draws scikit-learn's
    rows itself); a run imports what it measures with in a thread while it trains, and the
    main thread waits for that thread before it measures."""
    out = _python(
        "import json, sys, threading\n"
        "from aelab import prefetch\n"
        "from aelab.config import RunConfig, TrainConfig\n"
        "from aelab.training import experiment\n"
        "from aelab.training.experiment import load_split\n"
        "from aelab.cache import enable_compilation_cache\n"
        "enable_compilation_cache()  # the test session's\n"
        "train = TrainConfig(pretrain_steps=200, finetune_steps=300, snapshot_every=50)\n"
        "config = RunConfig(train=train)  # conftest's tiny_config: programs compiled already\n"
        "load_split(config)\n"
        "split_alone = [m for m in ('sklearn', 'matplotlib') if m in sys.modules]\n"
        "seen = {}\n"
        "measure = experiment.run_metrics\n"
        "def spy(*args):\n"
        "    seen['thread'] = prefetch._thread is not None and not prefetch._thread.is_alive()\n"
        "    seen['loaded'] = all(m in sys.modules for m in prefetch.AFTER_TRAINING)\n"
        "    return measure(*args)\n"
        "experiment.run_metrics = spy\n"
        "experiment.train_and_evaluate(config)\n"
        "print(json.dumps({'split': split_alone, **seen}))"
    )
    assert out == {"split": [], "thread": True, "loaded": True}

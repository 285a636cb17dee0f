"""aelab: see, measure and exploit what autoencoders do to a representation.

>>> import aelab
>>> result = aelab.run(aelab.RunConfig(), out="runs", name="iris")  # the original experiment
>>> cka = result.metrics["strategies"]["finetune-recon"]["cka_to_pretrained"]  # about 0.89
>>> run = aelab.load_run(result.run_dir)  # its models, on new samples in the data's units
>>> run.predict([[5.1, 3.5, 1.4, 0.2], [6.0, 3.0, 5.1, 1.8]], stage="finetune-recon").shape
(2,)

Every public name is here; each is imported from its module when first used, so that
``import aelab`` and the command line start fast.
"""

from __future__ import annotations

import importlib

from aelab.errors import (
    AelabError,
    CheckpointError,
    ConfigError,
    DataError,
    RunFolderError,
    TrainingError,
)
from aelab.xla import tune_xla

tune_xla()  # before JAX starts its backend: XLA reads its flags once

_API = {
    # settings
    "RunConfig": "aelab.config",
    "DataConfig": "aelab.config",
    "ModelConfig": "aelab.config",
    "TrainConfig": "aelab.config",
    "SweepConfig": "aelab.config",
    "load_config": "aelab.config",
    "load_sweep_config": "aelab.config",
    "STRATEGIES": "aelab.config",
    "FAMILIES": "aelab.models",
    # running
    "run": "aelab.outputs.rundir",
    "RunResult": "aelab.outputs.rundir",
    "RunInterrupted": "aelab.outputs.rundir",
    "sweep": "aelab.outputs.sweepdir",
    "SweepResult": "aelab.outputs.sweepdir",
    "train_and_evaluate": "aelab.training.experiment",
    "device_mesh": "aelab.training.parallel",
    # using what was trained
    "load_run": "aelab.outputs.loaded",
    "load_sweep": "aelab.outputs.loaded",
    "Run": "aelab.outputs.loaded",
    "predict_file": "aelab.outputs.predicting",
    "export_run": "aelab.outputs.export",
    "compare_runs": "aelab.outputs.compare",
    "read_run": "aelab.outputs.folders",
    "read_sweep": "aelab.outputs.folders",
    "load_checkpoint": "aelab.outputs.checkpoint",
    "save_checkpoint": "aelab.outputs.checkpoint",
    "checkpoint_info": "aelab.outputs.checkpoint",
    "generate": "aelab.outputs.generate",
    "stages_figure": "aelab.outputs.plots",
    "sweep_figure": "aelab.outputs.sweepplot",
    "write_report": "aelab.outputs.report",
    "write_animation": "aelab.outputs.animation",
    # scikit-learn
    "AutoencoderClassifier": "aelab.estimators",
    "AutoencoderTransformer": "aelab.estimators",
}

__all__ = [
    "AelabError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "RunFolderError",
    "TrainingError",
    *_API,
]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'aelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up finds it at once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

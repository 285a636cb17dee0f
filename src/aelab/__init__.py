"""aelab: see, measure and exploit what autoencoders do to a representation.

>>> import aelab
>>> result = aelab.run(aelab.RunConfig(), name="iris")   # the original Iris experiment
>>> result.metrics["strategies"]["finetune-recon"]["cka_to_pretrained"]
"""

from aelab.checkpoint import checkpoint_info, load_checkpoint, save_checkpoint
from aelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig, load_config
from aelab.errors import AelabError, CheckpointError, ConfigError, DataError, TrainingError
from aelab.rundir import RunResult, run

__all__ = [
    "AelabError",
    "AutoencoderClassifier",
    "AutoencoderTransformer",
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "DataError",
    "ModelConfig",
    "RunConfig",
    "RunResult",
    "TrainConfig",
    "TrainingError",
    "checkpoint_info",
    "load_checkpoint",
    "load_config",
    "run",
    "save_checkpoint",
]


def __getattr__(name: str):
    # The scikit-learn estimators load scikit-learn: only when asked for, so that the
    # command line starts fast.
    if name in ("AutoencoderClassifier", "AutoencoderTransformer"):
        from aelab import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'aelab' has no attribute {name!r}")

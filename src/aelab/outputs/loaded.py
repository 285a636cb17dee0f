"""A finished run, loaded to be used: its saved codes, and its models on new data.

:func:`load_run` reads a run folder through the one validated reader
(:func:`~aelab.outputs.folders.read_run`) and returns a :class:`Run`. New samples are given
in the data's own units, as an array (the features in the run's order) or a pandas DataFrame
(columns matched by name); the run's own scaling applies (:func:`aelab.data.model_inputs`).

Which model answers (``stage``): ``"pretrained"`` (the pretrained autoencoder, when the run
pretrained) or a strategy's. By default, what describes the data (:meth:`Run.codes`,
:meth:`Run.encode`, :meth:`Run.reconstruct`, :meth:`Run.decode`) uses the run's reference
stage, the one the figures, the report and ``aelab generate`` use: the pretrained
autoencoder, else the first strategy. What names classes (:meth:`Run.predict`,
:meth:`Run.predict_proba`, :meth:`Run.predictions`) uses the first strategy (the run's own
order), since pretraining never trains the class head: the pretrained stage refuses to predict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from aelab.config import RunConfig
from aelab.data import model_inputs
from aelab.errors import CheckpointError, ConfigError, DataError
from aelab.models import FAMILIES, AbstractModel, Params, family_of
from aelab.outputs.checkpoint import checkpoint_info
from aelab.outputs.folders import RunFolder, read_run, read_sweep
from aelab.training.inference import apply_batched, decode_batched, encode_batched
from aelab.training.plan import PRETRAINED


def load_run(path: str | Path) -> Run:
    """The finished run folder ``path``, checked, to be used on new data (:class:`Run`).

    Raises:
        RunFolderError: ``path`` is not a run folder, or a file in it is damaged.
    """
    return Run(read_run(path))


def load_sweep(path: str | Path):
    """A sweep folder's results (``results.csv``): a pandas DataFrame with a row per model
    and baseline (settings, seed, strategy, accuracies), read by the validated reader; empty
    before the sweep's first slice is written."""
    return read_sweep(path).results.copy()


class Run:
    """A finished run: its settings, numbers and codes, and each stage's model on new data.

    Attributes:
        folder: the checked run folder (:class:`~aelab.outputs.folders.RunFolder`).
    """

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self._loaded: dict[str, tuple[AbstractModel, Params, dict[str, Any]]] = {}

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, stages={self.stages})"

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def config(self) -> RunConfig:
        """The run's resolved settings (``config.toml``)."""
        return self.folder.config

    @property
    def metrics(self) -> dict:
        """The run's numbers (``metrics.json``)."""
        return self.folder.metrics

    @property
    def stages(self) -> list[str]:
        """``"pretrained"`` (when the run pretrained) and each strategy."""
        return self.folder.stages

    @property
    def reference_stage(self) -> str:
        """The default of codes, encode, reconstruct and decode: the pretrained stage, else
        the first strategy (what figures, the report and ``aelab generate`` use)."""
        return self.folder.reference_stage

    @property
    def classifier_stage(self) -> str:
        """The default of predict and predict_proba: the run's first strategy."""
        return self.folder.strategies[0]

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.folder.latents["class_names"]]

    @property
    def feature_names(self) -> list[str]:
        return [str(f) for f in self.folder.latents["feature_names"]]

    @property
    def labels(self) -> np.ndarray:
        """(N,) the class name of every sample of the run, in the data's order."""
        return np.asarray(self.class_names)[self.folder.latents["label"]]

    @property
    def is_train(self) -> np.ndarray:
        """(N,) True for the run's training samples, False for the held-out ones."""
        return self.folder.latents["is_train"].astype(bool)

    def codes(self, stage: str | None = None) -> np.ndarray:
        """The saved code (N, code) of every sample of the run, at ``stage``."""
        stage = self._stage(stage, self.reference_stage)
        return self.folder.latents[f"code/{stage}"].copy()

    def model(self, stage: str | None = None) -> tuple[AbstractModel, Params]:
        """The model and parameters of ``stage`` (the reference stage by default)."""
        model, params, _ = self._load(self._stage(stage, self.reference_stage))
        return model, params

    def info(self, stage: str | None = None) -> dict[str, Any]:
        """What ``stage``'s checkpoint says of the data (:meth:`aelab.data.Split.info`):
        ``feature_names``, ``class_names``, ``scaler_mean`` and ``scaler_scale``."""
        return dict(self._load(self._stage(stage, self.reference_stage))[2])

    def inputs(self, x: Any, stage: str | None = None) -> np.ndarray:
        """Samples ``x`` (data units) as ``stage``'s model takes them: (N, D) float32."""
        _, _, info = self._load(self._stage(stage, self.reference_stage))
        return model_inputs(x, info)

    def encode(self, x: Any, stage: str | None = None) -> np.ndarray:
        """The code (N, code) of samples ``x`` (a VAE's: its posterior mean)."""
        model, params, info = self._load(self._stage(stage, self.reference_stage))
        return encode_batched(model, _one(params), model_inputs(x, info))[0]

    def reconstruct(self, x: Any, stage: str | None = None) -> np.ndarray:
        """The reconstruction (N, D) of samples ``x``, in the data's own units."""
        model, params, info = self._load(self._stage(stage, self.reference_stage))
        recon = apply_batched(model, _one(params), model_inputs(x, info))[1][0]
        return _unscaled(recon, info)

    def decode(self, z: Any, stage: str | None = None) -> np.ndarray:
        """The samples (N, D) that codes ``z`` (N, code) decode into, in the data's units.

        Raises:
            ConfigError: the stage's family cannot decode a code alone (a ladder network).
        """
        stage = self._stage(stage, self.reference_stage)
        model, params, info = self._load(stage)
        family = family_of(model)
        if not family.decodes:
            decoders = ", ".join(name for name, f in FAMILIES.items() if f.decodes)
            raise ConfigError(
                f"a {family.title} cannot decode a code alone (its decoder needs more than the "
                f"code); decode works with runs of {decoders}; reconstruct(x) works with this one"
            )
        z = _codes(z, model.code)
        return _unscaled(decode_batched(model, _one(params), z)[0], info)

    def predict_proba(self, x: Any, stage: str | None = None) -> np.ndarray:
        """Each class's probability (N, classes) for samples ``x``; columns follow
        :attr:`class_names`."""
        return _softmax(self._logits(x, stage)[1])

    def predict(self, x: Any, stage: str | None = None) -> np.ndarray:
        """The predicted class name (N,) of samples ``x``."""
        logits = self._logits(x, stage)[1]
        return np.asarray(self.class_names)[np.argmax(logits, axis=-1)]

    def predictions(self, x: Any, stage: str | None = None, *, source: str = "X"):
        """A pandas DataFrame, a row per sample of ``x``: ``predicted`` (the class),
        ``p_<class>`` (each class's probability) and ``z0``, ``z1``, … (the code);
        ``source`` names ``x`` in messages."""
        import pandas as pd  # heavy: imported when a table of predictions is made

        codes, logits = self._logits(x, stage, source)
        columns = {"predicted": np.asarray(self.class_names)[np.argmax(logits, axis=-1)]}
        columns |= {f"p_{c}": p for c, p in zip(self.class_names, _softmax(logits).T, strict=True)}
        columns |= {f"z{i}": z for i, z in enumerate(codes.T)}
        return pd.DataFrame(columns)

    def _logits(
        self, x: Any, stage: str | None, source: str = "X"
    ) -> tuple[np.ndarray, np.ndarray]:
        """The codes (N, code) and class scores (N, classes) of ``x`` at a classifier stage."""
        stage = self._stage(stage, self.classifier_stage)
        if stage == PRETRAINED:
            raise ConfigError(
                f"stage {PRETRAINED!r} cannot predict: pretraining only reconstructs, so its "
                f"class head was never trained; choose a strategy: {self.folder.strategies}"
            )
        model, params, info = self._load(stage)
        codes, _, logits = apply_batched(model, _one(params), model_inputs(x, info, source))
        return codes[0], logits[0]

    def _stage(self, stage: str | None, default: str) -> str:
        if stage is None:
            return default
        if stage not in self.stages:
            raise ConfigError(
                f"stage {stage!r} is not a stage of this run; choose from {self.stages}"
            )
        return stage

    def _load(self, stage: str) -> tuple[AbstractModel, Params, dict[str, Any]]:
        """``stage``'s model, parameters and what its checkpoint says of the data, checked
        against the run (once a stage)."""
        if stage not in self._loaded:
            model, params = self.folder.checkpoint(stage)
            path = self.path / "checkpoints" / f"{stage}.npz"
            info = checkpoint_info(path)
            d, lat = model.n_inputs, self.folder.latents
            sizes = {
                "feature_names": d, "scaler_mean": d, "scaler_scale": d,
                "class_names": model.n_classes,
            }  # fmt: skip
            if any(len(info.get(k) or ()) != n for k, n in sizes.items()) or (
                model.code != lat[f"code/{stage}"].shape[1]
                or [str(f) for f in info["feature_names"]] != self.feature_names
            ):  # fmt: skip
                raise CheckpointError(
                    f"{path}: its model or data description does not fit the run's features, "
                    "classes and codes; rerun to write it again, or restore the file"
                )
            self._loaded[stage] = (model, params, info)
        return self._loaded[stage]


def _one(params: Params) -> Params:
    """One model's parameters as a batch of one (the leading axis inference takes)."""
    return jax.tree.map(lambda a: np.asarray(a)[None], params)


def _unscaled(x: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """Model outputs (N, D) in the data's own units: the run's scaling undone."""
    scale = np.asarray(info["scaler_scale"], np.float64)
    return np.asarray(x, np.float64) * scale + np.asarray(info["scaler_mean"], np.float64)


def _softmax(logits: np.ndarray) -> np.ndarray:
    scores = np.asarray(logits, np.float64)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _codes(z: Any, width: int) -> np.ndarray:
    """Codes ``z`` as (N, width) float32; one line naming what does not fit."""
    try:
        z = np.asarray(z)
    except (TypeError, ValueError) as exc:
        raise DataError(f"z: is not an array of codes ({exc})") from None
    if z.dtype.kind not in "biuf" or z.ndim != 2 or z.shape[1] != width:
        raise DataError(
            f"z: must be a numeric array (N, {width}) of codes, got {z.dtype} of shape {z.shape}"
        )
    if not np.isfinite(z).all():
        raise DataError("z: holds numbers that are not finite")
    return z.astype(np.float32)

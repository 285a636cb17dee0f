"""A run's model written for other tools: weights as safetensors, the network as JSON.

``aelab export`` writes, for one stage, ``<stage>.safetensors`` (every parameter, named by
its place in the parameter tree as checkpoints name them: ``encoder.0.w``, batch norm's
``bn.encoder.0.scale`` and running statistics ``stats.encoder.0.mean``) and ``<stage>.json``:
the family, the scaling of the inputs (``(x - mean) / scale``, feature names, and how a
table's columns became those features when the run recorded it), the class names and the
evaluation-mode network, layer by layer (:meth:`AbstractModel.architecture`),
with the formula of each activation. Nothing else is needed to run the model: a test
reproduces ``aelab predict``'s probabilities from these two files with NumPy alone.

Families whose model is a stack of dense layers export (``ae``, ``sparse``, ``vae``); the
others refuse with one line.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aelab.errors import AelabError, ConfigError
from aelab.models import FAMILIES, Layout, family_of
from aelab.outputs.checkpoint import parameter_arrays
from aelab.outputs.loaded import Run, load_run
from aelab.training.plan import PRETRAINED

FORMAT = "aelab-export-1"
FORMATS = ("safetensors",)
# Each activation a layer may name, as NumPy-ready formulas of its pre-activation a.
ACTIVATION_FORMULAS = {
    "sigmoid": "1 / (1 + exp(-a))",
    "tanh": "tanh(a)",
    "relu": "maximum(a, 0)",
    "elu": "a where a > 0, else exp(a) - 1",
    "gelu": "0.5 * a * (1 + tanh(sqrt(2 / pi) * (a + 0.044715 * a**3)))",
    "softplus": "log(1 + exp(a))",
    "linear": "a",
    "softmax": "exp(a) / sum(exp(a)) over each row",
}
FORWARD = (
    "x = (raw - input.mean) / input.scale; then each layer of encoder (x -> code), decoder "
    "(code -> reconstruction, in scaled units: reconstruction * scale + mean is in the data's "
    "units) and head (code -> class probabilities): a = x @ weight (+ bias, when not null); "
    "with batch_norm, a = scale * (a - mean) / sqrt(var + eps) + shift; with keep, "
    "a = a[:, :keep]; x = activation(a). Weights are (inputs, outputs)."
)


@dataclass(frozen=True)
class Exported:
    """The files :func:`export_run` wrote."""

    stage: str
    weights: Path
    architecture: Path


def export_run(
    run_dir: str | Path,
    stage: str | None = None,
    *,
    format: str = "safetensors",
    out: str | Path | None = None,
) -> Exported:
    """Write ``stage``'s model of the run ``run_dir`` into ``out`` (``RUN_DIR/export`` by
    default) as ``<stage>.safetensors`` and ``<stage>.json``; never over existing files.

    ``stage``: a strategy or ``pretrained`` (whose class head was never trained); by
    default the run's first strategy, the model ``aelab predict`` uses.

    Raises:
        ConfigError: an unknown stage or format, files that exist, or a family whose model
            is not a stack of dense layers.
    """
    if format not in FORMATS:
        raise ConfigError(f"--format: {format!r} is not one aelab writes; choose from {FORMATS}")
    run = load_run(run_dir)
    stage = run.classifier_stage if stage is None else stage
    model, params = run.model(stage)
    layers = model.architecture()
    if layers is None:
        raise ConfigError(
            f"a {family_of(model).title} is not a plain stack of dense layers, which is what "
            f"aelab export describes; it exports runs of {', '.join(_exporting())}"
        )
    out = run.path / "export" if out is None else Path(out)
    weights, description = out / f"{stage}.safetensors", out / f"{stage}.json"
    for path in (weights, description):
        if path.exists():
            raise ConfigError(f"{path} already exists; choose another --out or remove it")
    arrays = parameter_arrays(params)
    text = json.dumps(_description(run, stage, model, layers, weights.name), indent=2)
    _write(out, weights, arrays, description, text + "\n")
    return Exported(stage, weights, description)


def _exporting() -> list[str]:
    """The families whose models export."""
    layout = Layout(n_inputs=2, n_classes=2, input_shape=(2,))  # a shape every family takes
    return [
        name for name, family in FAMILIES.items()
        if family.make(layout, family.settings()).architecture() is not None
    ]  # fmt: skip


def _description(run: Run, stage: str, model, layers: dict, weights: str) -> dict:
    """The JSON file's content (see the module's docstring)."""
    info = run.info(stage)
    used = {layer["activation"] for part in layers.values() for layer in part}
    # whatever else the run recorded about its inputs (a table's encoding), as recorded
    shown = ("feature_names", "class_names", "scaler_mean", "scaler_scale")
    encoding = {key: value for key, value in info.items() if key not in shown}
    image_shape = [int(s) for s in run.folder.latents["image_shape"]]
    return {
        "format": FORMAT,
        "weights": weights,
        "run": str(run.path),
        "stage": stage,
        "predicts": stage != PRETRAINED,  # pretraining never trains the class head
        "family": family_of(model).name,
        "model": dataclasses.asdict(model),
        "input": {
            "feature_names": [str(f) for f in info["feature_names"]],
            "mean": [float(v) for v in info["scaler_mean"]],
            "scale": [float(v) for v in info["scaler_scale"]],
            "image_shape": image_shape,
            **({"encoding": encoding} if encoding else {}),
        },
        "classes": [str(c) for c in info["class_names"]],
        "code": model.code,
        "forward": FORWARD,
        "activations": {name: ACTIVATION_FORMULAS[name] for name in sorted(used)},
        "layers": layers,
    }


def _write(out: Path, weights: Path, arrays: dict[str, np.ndarray], description: Path,
           text: str) -> None:  # fmt: skip
    """Both files, each written under a hidden name and renamed into place."""
    from safetensors.numpy import save_file  # imported when an export is written

    tmp = [out / f".{path.name}.partial-{os.getpid()}" for path in (weights, description)]
    try:
        out.mkdir(parents=True, exist_ok=True)
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp[0]),
                  metadata={"format": FORMAT})  # fmt: skip
        tmp[1].write_text(text, encoding="utf-8")
        os.replace(tmp[0], weights)
        os.replace(tmp[1], description)
    except OSError as exc:
        raise AelabError(f"could not write the export into {str(out)!r}: {exc}") from None
    finally:
        for path in tmp:
            path.unlink(missing_ok=True)

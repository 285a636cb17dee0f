"""``aelab export``: a stage's weights as safetensors and its network as JSON, enough to run
the model with NumPy alone (these tests do, without aelab)."""

import json

import jax
import numpy as np
import pytest
from safetensors.numpy import load_file

import aelab
from aelab.cli import main
from aelab.config import ModelConfig
from aelab.data import load_dataset
from aelab.errors import ConfigError
from aelab.outputs.checkpoint import parameter_arrays
from aelab.outputs.export import ACTIVATION_FORMULAS

IRIS = load_dataset("iris")

# The activations by name, in NumPy: what the JSON's formulas say.
NUMPY = {
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0),
    "elu": lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))),
    "gelu": lambda a: 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a**3))),
    "softplus": lambda a: np.logaddexp(a, 0),
    "linear": lambda a: a,
    "softmax": lambda a: (
        np.exp(a - a.max(1, keepdims=True))
        / np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True)
    ),
}


def _layers(layers: list[dict], tensors: dict, x: np.ndarray) -> np.ndarray:
    """The JSON's layers on ``x``, in float64, as its ``forward`` text says."""
    for layer in layers:
        a = x @ tensors[layer["weight"]].astype(np.float64)
        if layer["bias"] is not None:
            a = a + tensors[layer["bias"]]
        bn = layer["batch_norm"]
        if bn is not None:
            t = {k: tensors[bn[k]] for k in ("scale", "shift", "mean", "var")}
            a = t["scale"] * (a - t["mean"]) / np.sqrt(t["var"] + bn["eps"]) + t["shift"]
        if layer["keep"] is not None:
            a = a[:, : layer["keep"]]
        x = NUMPY[layer["activation"]](a)
    return x


def numpy_forward(description: dict, tensors: dict, raw: np.ndarray) -> dict:
    """Codes, reconstructions (data units) and class probabilities of raw samples, from an
    export's JSON and tensors, with NumPy alone."""
    mean, scale = (np.asarray(description["input"][k]) for k in ("mean", "scale"))
    layers = description["layers"]
    z = _layers(layers["encoder"], tensors, (raw - mean) / scale)
    recon = _layers(layers["decoder"], tensors, z) * scale + mean
    return {"code": z, "recon": recon, "proba": _layers(layers["head"], tensors, z)}


def _read(exported) -> tuple[dict, dict]:
    description = json.loads(exported.architecture.read_text())
    assert description["weights"] == exported.weights.name
    return description, load_file(str(exported.weights))


def test_the_export_reproduces_predict_with_numpy_alone(tiny_run, tmp_path):
    run = aelab.load_run(tiny_run.run_dir)
    for stage in ("finetune-recon", None):  # None: the default, the first strategy
        made = aelab.export_run(tiny_run.run_dir, stage, out=tmp_path)
        description, tensors = _read(made)
        out = numpy_forward(description, tensors, IRIS.x)
        np.testing.assert_allclose(out["proba"], run.predict_proba(IRIS.x, made.stage), atol=1e-6)
        np.testing.assert_allclose(out["code"], run.encode(IRIS.x, made.stage), atol=1e-6)
        np.testing.assert_allclose(out["recon"], run.reconstruct(IRIS.x, made.stage), atol=1e-5)
        assert description["classes"] == list(IRIS.class_names)
        assert description["input"]["feature_names"] == list(IRIS.feature_names)
    assert made.stage == "supervised" and description["family"] == "ae"


@pytest.mark.parametrize(
    "family, hidden, activation, batch_norm",
    [
        ("ae", (), "sigmoid", False),
        ("ae", (6, 5), "gelu", True),
        ("sparse", (5,), "elu", True),
        ("vae", (6,), "softplus", True),
    ],
)
def test_each_family_that_exports_is_described_as_it_computes(
    family, hidden, activation, batch_norm
):
    model = ModelConfig(
        family=family, hidden=hidden, activation=activation, batch_norm=batch_norm
    ).build(4, 3)
    params = model.init(jax.random.key(0))
    if batch_norm:  # running statistics that are not the identity
        rng = np.random.default_rng(1)
        params["stats"] = jax.tree.map(lambda s: s + rng.uniform(size=s.shape), params["stats"])
    layers = model.architecture()
    assert {layer["activation"] for part in layers.values() for layer in part} <= set(
        ACTIVATION_FORMULAS
    )
    tensors = parameter_arrays(params)
    x = np.random.default_rng(0).standard_normal((9, 4)).astype(np.float32)
    z, recon, logits = jax.jit(model.apply)(params, x)  # one program, not op by op
    description = {"input": {"mean": np.zeros(4), "scale": np.ones(4)}, "layers": layers}
    out = numpy_forward(description, tensors, x.astype(np.float64))
    np.testing.assert_allclose(out["code"], z, atol=1e-5)
    np.testing.assert_allclose(out["recon"], recon, atol=1e-5)
    np.testing.assert_allclose(out["proba"], jax.nn.softmax(logits), atol=1e-6)


def test_export_never_overwrites_and_refuses_a_ladder(tiny_run, run_as_family, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["export", str(tiny_run.run_dir), "--stage", "joint", "--out", str(tmp_path)])
    assert done.value.code == 0
    written = capsys.readouterr().out
    assert written == f"{tmp_path / 'joint.safetensors'}\n{tmp_path / 'joint.json'}\n"
    before = (tmp_path / "joint.json").read_bytes()
    with pytest.raises(SystemExit) as done:
        main(["export", str(tiny_run.run_dir), "--stage", "joint", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"aelab: error: {tmp_path / 'joint.safetensors'} already exists")
    assert (tmp_path / "joint.json").read_bytes() == before
    refused = r"^a ladder network is not a plain stack .*it exports runs of ae, sparse, vae$"
    with pytest.raises(ConfigError, match=refused):
        aelab.export_run(run_as_family("ladder"), out=tmp_path / "out")
    assert not (tmp_path / "out").exists()

"""Compile cost of the training program, family by family: tracing, XLA's compile, one chunk.

For every registered family (``aelab.models.FAMILIES``) and two shapes, the chunk program a
phase runs (:func:`aelab.training.program.chunk_program`) is built with the arguments the
trainer gives it, then timed in three separate parts:

- ``lower``: tracing and lowering to StableHLO (``jit(...).lower(*args)``);
- ``compile``: XLA's compile of that (``lowered.compile()``), wall and process CPU seconds;
- ``chunk``: one executed chunk of ``--chunk`` steps (the fastest of ``--runs``), and per step.

It also counts the operations of the lowered program (``ops``) and the kernels (fusions) of
the compiled one: on CPU each kernel is compiled by LLVM on its own, and compile time follows
their number and size. Shapes (synthetic data of the same sizes; values do not change what
compiles):

- ``iris``: 150 samples x 4 features, 3 classes, hidden (), code 2, the full batch, K = 4
  models in one group (a default ``aelab run``'s fine-tuning: two strategies without, two with
  the reconstruction term);
- ``mnist``: 5,000 x 784, 10 classes, hidden (1000, 500, 250), code 250, 4,000 training rows of
  which 100 labelled, minibatches of 100 of a shuffled epoch + 100 labelled draws, K = 2
  (``supervised`` and ``joint``);
- ``digits`` and ``mnist28``: images (8 x 8, the full batch of 1,797, K = 4; 28 x 28, as
  ``mnist``), code 10 and the family's default layers. The convolutional families need an
  image's shape: asked for ``iris`` or ``mnist``, they are measured on ``digits`` or ``mnist28``.

No persistent compilation cache is used (``AELAB_COMPILATION_CACHE=off``, JAX's cache off),
and JAX's in-memory caches are cleared before every program, so each one compiles from scratch.
Compile time is sensitive to other work on the machine: the load average is recorded with
every row, and ``--repeats`` keeps the fastest of several compiles.

    python benchmarks/bench_compile.py [--quick] [--families ae,ladder] [--shapes iris]
        [--repeats 1] [--runs 2] [--chunk 100] [--compiler-option KEY=VALUE ...] [--code 128]
        [--ladder-weights gamma --ladder-weights default ...] [--json out.json]

``--quick`` measures the iris shape of every family and the ladder's mnist shape only.
``--compiler-option`` passes an XLA option to ``lowered.compile`` (this program only), e.g.
``xla_backend_optimization_level=1``. ``--code`` gives every shape that code size;
``--ladder-weights`` (repeated) measures the ladder families once for each weights' spec
(a conv ladder's decoder goes as far down as its lowest weight above 0).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from dataclasses import dataclass, replace

os.environ["AELAB_COMPILATION_CACHE"] = "off"  # before aelab is imported: no cache of programs

import jax  # noqa: E402
import numpy as np  # noqa: E402

from aelab.config import ModelConfig  # noqa: E402
from aelab.models import FAMILIES  # noqa: E402
from aelab.training.feeding import Batch, Feed, HostFeed  # noqa: E402
from aelab.training.keys import key_stack, split_keys  # noqa: E402
from aelab.training.program import Weights, chunk_program, init_optimizers  # noqa: E402
from aelab.training.trees import stack  # noqa: E402

jax.config.update("jax_enable_compilation_cache", False)


@dataclass(frozen=True)
class Shape:
    """A data set's sizes, the network's and how a phase feeds and groups its models."""

    name: str
    n_inputs: int
    n_classes: int
    hidden: tuple[int, ...]
    code: int
    n_samples: int
    n_train: int
    n_labelled: int  # labelled training rows (all of them: every model shares its minibatch)
    batch_size: int | None
    recon_weights: tuple[float, ...]  # one a model: K models in the group
    input_shape: tuple[int, ...] = ()  # an image's shape, for the convolutional families


SHAPES = {
    "iris": Shape("iris", 4, 3, (), 2, 150, 75, 75, None, (0.0, 0.0, 1.0, 1.0)),
    "mnist": Shape("mnist", 784, 10, (1000, 500, 250), 250, 5000, 4000, 100, 100, (0.0, 1.0)),
    # images, for every family (the convolutional ones need an image's shape)
    "digits": Shape("digits", 64, 10, (), 10, 1797, 898, 898, None, (0.0, 0.0, 1.0, 1.0), (8, 8)),
    "mnist28": Shape("mnist28", 784, 10, (), 10, 5000, 4000, 100, 100, (0.0, 1.0), (28, 28)),
}
# the image shape a convolutional family is measured on in place of a table's
IMAGE_SHAPE = {"iris": "digits", "mnist": "mnist28"}


def case_shape(family: str, shape: str) -> str:
    """``shape``, or for a convolutional family given a table's shape, an image shape."""
    if family.startswith("conv") and not SHAPES[shape].input_shape:
        return IMAGE_SHAPE[shape]
    return shape


def program_and_args(family: str, shape: Shape, chunk: int, seed: int = 0, **settings):
    """The chunk program of a phase of one group of K models and its arguments, built as
    :class:`aelab.training.trainer.train_groups` builds them; ``settings``: the family's
    own (``ladder_weights``)."""
    model = ModelConfig(family=family, hidden=shape.hidden, code=shape.code, **settings).build(
        shape.n_inputs, shape.n_classes, shape.input_shape
    )
    k, n = len(shape.recon_weights), shape.n_samples
    rng = np.random.default_rng(seed)
    x = rng.random((1, n, shape.n_inputs), dtype=np.float32)
    y = rng.integers(0, shape.n_classes, (1, n)).astype(np.int32)
    train = np.zeros(n, np.float32)
    train[: shape.n_train] = 1.0
    labelled = np.zeros(n, np.float32)
    labelled[: shape.n_labelled] = 1.0
    batch = Batch(x, y, np.tile(train, (1, k, 1)), np.tile(labelled, (1, k, 1)))  # masks (1, K, N)
    keys = [jax.random.key(seed + 1 + i) for i in range(k)]
    params = jax.tree.map(lambda a: a[None], stack([model.init(key) for key in keys]))
    ones = np.ones((1, k), np.float32)
    weights = Weights(
        ce=ones, recon=np.asarray([shape.recon_weights], np.float32), penalty=ones,
        noise_level=0 * ones,
    )  # fmt: skip
    opt_state = init_optimizers()(params, 0.01 * ones)
    streams = jax.random.wrap_key_data(split_keys(jax.random.key(seed), k, list(range(k)))[None])
    order_keys = key_stack([jax.random.key(seed + 100)])
    shared = shape.batch_size is None or shape.n_labelled == shape.n_train
    feed = Feed(shape.batch_size, "epochs", shared, False)
    _, rows = next(HostFeed(feed, batch, order_keys, None, 0, chunk, chunk).pieces(0, chunk))
    program = chunk_program(model, chunk, None, feed, None, True)
    return program, (params, opt_state, streams, weights, batch, rows, np.int32(chunk))


def count_ops(stablehlo: str) -> int:
    """Operations of a StableHLO module's text (one ``= dialect.op`` a line)."""
    return len(re.findall(r"= \"?[a-z_]+\.[a-z_0-9.]+", stablehlo))


def count_kernels(hlo: str) -> int:
    """Fusions (kernels) of a compiled HLO module's text."""
    return len(re.findall(r" fusion\(", hlo))


def measure(
    family: str, shape: Shape, chunk: int, repeats: int, runs: int, options: dict, **settings
) -> dict:
    program, args = program_and_args(family, shape, chunk, **settings)
    lower_s = lower_cpu = compile_s = compile_cpu = float("inf")
    for _ in range(repeats):
        jax.clear_caches()  # the next lowering and compile start from nothing
        c0, t0 = time.process_time(), time.perf_counter()
        lowered = program.lower(*args)
        c1, t1 = time.process_time(), time.perf_counter()
        compiled = lowered.compile(options or None)
        c2, t2 = time.process_time(), time.perf_counter()
        lower_s, lower_cpu = min(lower_s, t1 - t0), min(lower_cpu, c1 - c0)
        compile_s, compile_cpu = min(compile_s, t2 - t1), min(compile_cpu, c2 - c1)
    chunk_s = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        chunk_s = min(chunk_s, time.perf_counter() - t0)
    return {
        "family": family,
        **settings,
        "shape": shape.name,
        "models": len(shape.recon_weights),
        "lower_s": lower_s,
        "lower_cpu_s": lower_cpu,
        "compile_s": compile_s,
        "compile_cpu_s": compile_cpu,
        "chunk_steps": chunk,
        "chunk_s": chunk_s,
        "step_ms": 1000 * chunk_s / chunk,
        "ops": count_ops(lowered.as_text()),
        "kernels": count_kernels(compiled.as_text()),
        "load_avg": os.getloadavg()[0],
    }


def option_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="iris shapes and the ladder's mnist")
    parser.add_argument("--families", help=f"comma-separated, of {','.join(FAMILIES)} [all]")
    parser.add_argument(
        "--shapes",
        default="iris,mnist",
        help=f"comma-separated, of {','.join(SHAPES)} [iris,mnist]",
    )
    parser.add_argument("--chunk", type=int, default=100, help="steps of a chunk [100]")
    parser.add_argument("--repeats", type=int, default=1, help="compiles, the fastest kept [1]")
    parser.add_argument("--runs", type=int, default=2, help="executed chunks, fastest kept [2]")
    parser.add_argument(
        "--compiler-option", action="append", default=[], metavar="KEY=VALUE",
        help="an XLA option of this program's compile, e.g. xla_backend_optimization_level=1",
    )  # fmt: skip
    parser.add_argument("--code", type=int, help="code units of every shape [the shape's]")
    parser.add_argument(
        "--ladder-weights", action="append", default=[], metavar="SPEC",
        help="the ladder families once for each (default, paper, gamma, 1,0.1,...) [default]",
    )  # fmt: skip
    parser.add_argument("--json", help="write the rows and the setting here")
    args = parser.parse_args()
    families = args.families.split(",") if args.families else list(FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        parser.error(f"--families: unknown {unknown}; registered: {', '.join(FAMILIES)}")
    shapes = args.shapes.split(",")
    if any(s not in SHAPES for s in shapes):
        parser.error(f"--shapes: give some of {', '.join(SHAPES)}, got {args.shapes}")
    options = dict(opt.split("=", 1) for opt in args.compiler_option)
    options = {key: option_value(value) for key, value in options.items()}
    cases = [(f, s) for s in shapes for f in families]
    if args.quick:
        cases = [(f, "iris") for f in families] + [("ladder", "mnist")] * ("ladder" in families)
    cases = list(dict.fromkeys((f, case_shape(f, s)) for f, s in cases))

    print("| family | shape | K | lower s | compile s (CPU s) | chunk s | ms/step | ops | kernels "
          "| load |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for family, shape in cases:
        size = SHAPES[shape] if args.code is None else replace(SHAPES[shape], code=args.code)
        for weights in (args.ladder_weights if "ladder" in family else []) or [None]:
            settings = {} if weights is None else {"ladder_weights": weights}
            row = measure(family, size, args.chunk, args.repeats, args.runs, options, **settings)
            rows.append(row)
            label = family if weights is None else f"{family} ({weights})"
            print(
                f"| {label} | {shape} | {row['models']} | {row['lower_s']:.2f} | "
                f"{row['compile_s']:.2f} ({row['compile_cpu_s']:.2f}) | {row['chunk_s']:.3f} | "
                f"{row['step_ms']:.2f} | {row['ops']} | {row['kernels']} | {row['load_avg']:.1f} |",
                flush=True,
            )
    if args.json:
        setting = {
            "jax": jax.__version__,
            "backend": jax.default_backend(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "compiler_options": options,
            "chunk": args.chunk,
            "repeats": args.repeats,
            "runs": args.runs,
            "code": args.code,
        }
        with open(args.json, "w") as f:
            json.dump({"setting": setting, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()

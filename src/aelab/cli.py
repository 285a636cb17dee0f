"""The command line: the only place that parses argv. Each command calls one library function.

User errors (bad flags, settings, files) print one line, ``aelab: error: ...``, and exit with
status 2; nothing is written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aelab.data import DATASETS
from aelab.errors import AelabError, ConfigError
from aelab.strategies import STRATEGIES

_PHASES = {"pretrain": "pretraining (reconstruction)", "finetune": "fine-tuning strategies"}


def _int_list(flag: str, text: str | None) -> list[int] | None:
    if text is None:
        return None
    if text.strip().lower() == "none":
        return []
    try:
        return [int(p) for p in text.split(",")]  # int() accepts surrounding spaces
    except ValueError:
        raise ConfigError(
            f"{flag}: expected comma-separated integers such as 64,32 (or 'none'), got {text!r}"
        ) from None


def _dims(flag: str, text: str | None) -> tuple[int, int] | None:
    pair = _int_list(flag, text)
    if pair is not None and len(pair) != 2:
        raise ConfigError(f"{flag}: expected two code units such as 0,1, got {text!r}")
    return None if pair is None else (pair[0], pair[1])


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def _size(flag: str, text: str | None) -> float | int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConfigError(
            f"{flag}: expected a fraction such as 0.5 or a sample count such as 75, got {text!r}"
        ) from None


class _RichProgress:
    """A progress bar per training phase, on stderr so stdout keeps the results.

    The bar starts with the first step reported, so errors found before training print alone.
    """

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("{task.description:<30}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> _RichProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self._tasks:
            self._bar.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self._tasks:
            self._bar.start()
        if phase not in self._tasks:
            self._tasks[phase] = self._bar.add_task(_PHASES.get(phase, phase), total=total)
        self._bar.update(self._tasks[phase], completed=done)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _summary_table(metrics: dict) -> Table:
    columns = {
        "test_accuracy": "test acc",
        "test_reconstruction_mse": "test MSE",
        "cka_to_pretrained": "CKA pre",
        "mean_displacement": "moved",
        "knn_accuracy": "kNN acc",
        "silhouette": "silh.",
    }
    table = Table(box=box.SIMPLE_HEAD, title="held-out samples; CKA and movement of the code")
    table.add_column("stage", no_wrap=True)
    for label in columns.values():
        table.add_column(label, justify="right", no_wrap=True)
    for name, values in [
        ("raw: 2 features", metrics["references"]["raw"]),
        ("raw: PCA", metrics["references"]["pca"]),
        ("pretrained", metrics["pretrained"]),
        *metrics["strategies"].items(),
    ]:
        table.add_row(name, *(_fmt(values.get(key)) for key in columns))
    return table


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aelab")
def app() -> None:
    """See, measure and exploit what autoencoders do to a representation."""


_STRATEGY_HELP = "\b\nStrategies:\n" + "\n".join(
    f"  {name:<15} {s.summary}" for name, s in STRATEGIES.items()
)


@app.command(epilog=_STRATEGY_HELP)
@click.option(
    "--config", type=click.Path(path_type=Path), help="TOML config file; flags override it."
)
@click.option(
    "--dataset", help=f"One of {', '.join(DATASETS)}, or a CSV/TSV, NPZ or IDX file [iris]."
)
@click.option("--test-file", help="A file like --dataset's that is the held-out part.")
@click.option("--label-column", help="Label column of a table [label/class/target/y, or last].")
@click.option("--drop-columns", help="Comma-separated table columns to leave out.")
@click.option("--drop-missing", is_flag=True, default=None, help="Drop rows with missing values.")
@click.option(
    "--scaling", type=click.Choice(["auto", "standard", "minmax"]),
    help="standard, [0, 1] minmax, or auto: minmax for images [auto].",
)  # fmt: skip
@click.option("--strategies", help=f"Comma-separated subset of {','.join(STRATEGIES)} [all].")
@click.option("--recon-weight", type=float, help="lambda in CE + lambda * reconstruction [1].")
@click.option("--seed", type=int, help="Seed of the weights and the split [0].")
@click.option("--hidden", help="Hidden layer widths, e.g. 64,32; 'none' for none [none].")
@click.option("--code", type=int, help="Size of the code layer [2].")
@click.option("--activation", help="Activation of the hidden layers [sigmoid].")
@click.option("--code-activation", help="Activation of the code layer [sigmoid].")
@click.option(
    "--model", "family", type=click.Choice(["ae", "vae", "ladder"]),
    help="Autoencoder, variational autoencoder, or ladder network [ae].",
)  # fmt: skip
@click.option("--beta", type=float, help="Weight of the VAE's KL term [1].")
@click.option("--ladder-noise", type=float, help="Ladder: noise std at every layer [0.3].")
@click.option(
    "--ladder-weights",
    help="Ladder: denoising-cost weights, input first: default, paper, gamma or 1,0.1,...",
)
@click.option(
    "--noise",
    help="Denoising: corrupt inputs, e.g. gaussian:0.3, mask:0.25, saltpepper:0.1 [none].",
)
@click.option("--dropout", type=float, help="Dropout of hidden and code units while training [0].")
@click.option(
    "--batch-norm/--no-batch-norm", default=None,
    help="Batch norm of hidden and code layers [off].",
)  # fmt: skip
@click.option("--lr", "--learning-rate", "learning_rate", type=float, help="Adam step size [0.01].")
@click.option("--pretrain-steps", type=int, help="Pretraining steps [5000].")
@click.option("--finetune-steps", type=int, help="Fine-tuning steps [10000].")
@click.option(
    "--batch-size", type=int,
    help="Samples drawn for each step (and as many labelled ones) [all: full batch].",
)  # fmt: skip
@click.option(
    "--pretraining",
    type=click.Choice(["end-to-end", "greedy"]),
    help="Whole autoencoder at once, or greedy layer by layer (steps per layer) [end-to-end].",
)
@click.option("--snapshot-every", type=int, help="Keep every sample's code every N steps [100].")
@click.option("--test-size", help="Held-out share (0.5) or sample count (75) [0.5].")
@click.option("--split-seed", type=int, help="Seed of the split alone [the run's --seed].")
@click.option(
    "--labels", type=int, help="Labelled training samples per class; the rest unlabelled [all]."
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
    help="Folder that holds run folders.",
)  # fmt: skip
@click.option("--name", help="Name of the run folder [a timestamp].")
@click.option("--plot-dims", help="Two code units to draw, e.g. 0,3 [PCA of codes over 2-D].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or table; print the run folder.")
def run(
    config: Path | None,
    dataset: str | None,
    test_file: str | None,
    label_column: str | None,
    drop_columns: str | None,
    drop_missing: bool | None,
    scaling: str | None,
    strategies: str | None,
    recon_weight: float | None,
    seed: int | None,
    hidden: str | None,
    code: int | None,
    activation: str | None,
    code_activation: str | None,
    family: str | None,
    beta: float | None,
    ladder_noise: float | None,
    ladder_weights: str | None,
    noise: str | None,
    dropout: float | None,
    batch_norm: bool | None,
    learning_rate: float | None,
    pretrain_steps: int | None,
    finetune_steps: int | None,
    batch_size: int | None,
    pretraining: str | None,
    snapshot_every: int | None,
    test_size: str | None,
    split_seed: int | None,
    labels: int | None,
    out: Path,
    name: str | None,
    plot_dims: str | None,
    quiet: bool,
) -> None:
    """Pretrain an autoencoder, fine-tune it with every strategy, and measure each stage."""
    from aelab.config import RunConfig, load_config, with_overrides
    from aelab.rundir import run as run_experiment

    base = load_config(config) if config is not None else RunConfig()
    resolved = with_overrides(
        base,
        {
            "seed": seed,
            "strategies": _names(strategies),
            "data.dataset": dataset,
            "data.test_file": test_file,
            "data.label_column": label_column,
            "data.drop_columns": _names(drop_columns),
            "data.drop_missing": drop_missing,
            "data.scaling": scaling,
            "data.test_size": _size("--test-size", test_size),
            "data.split_seed": split_seed,
            "data.labels": labels,
            "model.hidden": _int_list("--hidden", hidden),
            "model.code": code,
            "model.activation": activation,
            "model.code_activation": code_activation,
            "model.family": family,
            "model.beta": beta,
            "model.ladder_noise": ladder_noise,
            "model.ladder_weights": ladder_weights,
            "model.noise": noise,
            "model.dropout": dropout,
            "model.batch_norm": batch_norm,
            "train.learning_rate": learning_rate,
            "train.pretrain_steps": pretrain_steps,
            "train.finetune_steps": finetune_steps,
            "train.batch_size": batch_size,
            "train.pretraining": pretraining,
            "train.recon_weight": recon_weight,
            "train.snapshot_every": snapshot_every,
        },
    )
    dims = _dims("--plot-dims", plot_dims)
    if quiet:
        result = run_experiment(resolved, out=out, name=name, plot_dims=dims)
        click.echo(str(result.run_dir))
        return
    with _RichProgress(Console(stderr=True)) as progress:
        result = run_experiment(resolved, out=out, name=name, progress=progress, plot_dims=dims)
    console = Console()
    console.print(_summary_table(result.metrics))
    console.print(f"run folder: {result.run_dir}  (figure: {result.figures['stages']})")


@app.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--mode", type=click.Choice(["perturb", "grid", "interpolate", "prior"]), default="perturb",
    show_default=True, help="Which codes to decode.",
)  # fmt: skip
@click.option(
    "--stage", default="pretrained", show_default=True, help="Model: pretrained or a strategy."
)
@click.option("--sample", type=int, default=0, show_default=True, help="Sample to start from.")
@click.option("--to", type=int, default=1, show_default=True, help="Interpolate: end sample.")
@click.option("--count", type=int, default=16, show_default=True, help="Perturb, prior: codes.")
@click.option("--scale", type=float, default=0.1, show_default=True, help="Perturb: spread.")
@click.option("--steps", type=int, default=8, show_default=True, help="Interpolate: codes.")
@click.option("--dims", default="0,1", show_default=True, help="Grid: two code units.")
@click.option("--size", type=int, default=8, show_default=True, help="Grid: codes per side.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random draws.")
def generate(
    run_dir: Path, mode: str, stage: str, sample: int, to: int, count: int, scale: float,
    steps: int, dims: str, size: int, seed: int,
) -> None:  # fmt: skip
    """Decode moved codes of a finished run into new data (RUN_DIR/generated/)."""
    from aelab.generate import generate as generate_samples

    made = generate_samples(
        run_dir, mode, stage=stage, sample=sample, to=to, count=count, scale=scale,
        steps=steps, dims=_dims("--dims", dims), size=size, seed=seed,
    )  # fmt: skip
    click.echo(f"{len(made.samples)} samples: {made.csv_path}  (figure: {made.figure_path})")


@app.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--dims", required=True, help="Two code units to draw, e.g. 0,3.")
def plot(run_dir: Path, dims: str) -> None:
    """Redraw a run's stage figure with two chosen code units (stages-dims-I-J.png)."""
    import numpy as np

    from aelab.plots import check_dims, plot_stages

    pair = _dims("--dims", dims)
    if not (run_dir / "latents.npz").is_file():
        raise ConfigError(f"{str(run_dir)!r} is not an aelab run folder (no latents.npz)")
    with np.load(run_dir / "latents.npz", allow_pickle=False) as npz:
        check_dims(pair, npz["code/pretrained"].shape[1], "--dims")
    path = plot_stages(run_dir, f"stages-dims-{pair[0]}-{pair[1]}.png", dims=pair)
    click.echo(str(path))


@app.command()
def datasets() -> None:
    """List the built-in datasets with their shape, classes and source (loads each)."""
    from aelab.data import load_dataset

    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    for column in ("samples", "features", "classes"):
        table.add_column(column, justify="right")
    table.add_column("what it is, where it comes from")
    for name, (_, description) in DATASETS.items():
        ds = load_dataset(name)
        features = "x".join(map(str, ds.image_shape)) if ds.image_shape else str(ds.x.shape[1])
        table.add_row(name, f"{len(ds.y):,}", features, str(ds.n_classes), description)
    Console(width=max(100, Console().width)).print(table)


def _enable_compilation_cache() -> None:
    """Keep compiled training programs between runs, so a second run skips most compiling.

    ``AELAB_COMPILATION_CACHE`` names the folder (default ``~/.cache/aelab/xla``) or is ``off``.
    A cached program is the same program, so the numbers do not change.
    """
    setting = os.environ.get("AELAB_COMPILATION_CACHE", "")
    if setting.lower() == "off":
        return
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    import jax

    jax.config.update("jax_compilation_cache_dir", setting or str(cache_home / "aelab" / "xla"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``aelab`` console script."""
    _enable_compilation_cache()
    try:
        code = app.main(args=argv, prog_name="aelab", standalone_mode=False)
    except AelabError as exc:
        click.echo(f"aelab: error: {exc}", err=True)
        sys.exit(2)
    except click.UsageError as exc:
        if isinstance(exc, click.exceptions.NoArgsIsHelpError):  # bare `aelab`: the help
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        command = exc.ctx.command_path if exc.ctx else "aelab"
        click.echo(f"aelab: error: {exc.format_message()} (see '{command} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"aelab: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aelab: interrupted; no run folder was written", err=True)
        sys.exit(130)
    sys.exit(code or 0)


if __name__ == "__main__":
    main()

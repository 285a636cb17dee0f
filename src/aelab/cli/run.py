"""``aelab run``: one run, its table, and the path of its folder."""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from aelab.cli import parsing
from aelab.cli.options import (
    DATA_OPTIONS,
    MODEL_OPTIONS,
    STRATEGY_HELP,
    TRAIN_OPTIONS,
    RichProgress,
    check_config_files,
    data_messages,
    family_options,
    family_overrides,
    options,
    shared_overrides,
)
from aelab.config import RunConfig, load_config, with_overrides
from aelab.errors import ConfigError


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(metrics: dict) -> Table:
    """The run's headline numbers, a row per stage."""
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
    rows = {
        "raw: 2 features": metrics["references"]["raw"],
        "raw: PCA": metrics["references"]["pca"],
    }
    if "pretrained" in metrics:  # a run pretrains when a strategy starts from it, or when asked
        rows["pretrained"] = metrics["pretrained"]
    for name, values in {**rows, **metrics["strategies"]}.items():
        table.add_row(name, *(_fmt(values.get(key)) for key in columns))
    return table


@click.command(epilog=STRATEGY_HELP)
@click.option(
    "--config", type=click.Path(path_type=Path), help="TOML config file; flags override it."
)
@options(*DATA_OPTIONS)
@click.option("--recon-weight", type=float, help="lambda in CE + lambda * reconstruction [1].")
@click.option("--seed", type=int, help="Seed of the weights and the split [0].")
@click.option("--code", type=int, help="Size of the code layer [2].")
@options(*MODEL_OPTIONS, *family_options())
@click.option(
    "--noise",
    help="Denoising: corrupt inputs, e.g. gaussian:0.3, mask:0.25, saltpepper:0.1 [none].",
)
@click.option("--lr", "--learning-rate", "learning_rate", type=float, help="Adam step size [0.01].")
@click.option(
    "--pretraining",
    type=click.Choice(["end-to-end", "greedy"]),
    help="Whole autoencoder at once, or greedy layer by layer (steps per layer) [end-to-end].",
)
@click.option(
    "--pretrained-reference", is_flag=True,
    help="Pretrain even when no strategy starts from it (supervised, joint), to show its code "
    "[only when a strategy needs it].",
)  # fmt: skip
@options(*TRAIN_OPTIONS)
@click.option(
    "--labels", type=int, help="Labelled training samples per class; the rest unlabelled [all]."
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
    help="Folder that holds run folders.",
)  # fmt: skip
@click.option("--name", help="Name of the run folder [a timestamp].")
@click.option("--plot-dims", help="Two code units to draw, e.g. 0,3 [PCA of codes over 2-D].")
@click.option(
    "--animation", is_flag=True, help="Also write animation.gif of the code moving [off]."
)
@click.option(
    "--resume", type=click.Path(path_type=Path),
    help="Finish an interrupted run (its NAME.interrupted folder); other settings are ignored.",
)  # fmt: skip
@click.option(
    "--coordinator", metavar="HOST:PORT",
    help="Train one model with other processes: process 0's address [$JAX_COORDINATOR_ADDRESS].",
)  # fmt: skip
@click.option(
    "--num-processes", type=int, help="How many processes train together [$JAX_NUM_PROCESSES]."
)
@click.option("--process-id", type=int, help="This process's number, 0 to N-1 [$JAX_PROCESS_ID].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or table; print the run folder.")
def run(
    config: Path | None,
    out: Path,
    name: str | None,
    plot_dims: str | None,
    animation: bool,
    resume: Path | None,
    quiet: bool,
    **settings,
) -> None:
    """Train each strategy (after pretraining, if one starts from it) and measure each stage."""
    # JAX, the trainer and the run folder's writers (matplotlib): imported when a run starts,
    # so that --help is quick.
    from aelab.cli.devices import all_done, connect, use_devices
    from aelab.outputs.rundir import RunInterrupted
    from aelab.outputs.rundir import run as run_experiment
    from aelab.training.experiment import train_and_evaluate

    hosts = connect(settings.pop("coordinator"), settings.pop("num_processes"),
                    settings.pop("process_id"))  # fmt: skip
    mesh = use_devices(settings.pop("device"), settings.pop("devices"))
    resolved = _resolve(config, settings)
    dims = parsing.dims("--plot-dims", plot_dims)
    click.get_current_context().with_resource(data_messages(quiet))  # until the command ends
    if hosts is not None:
        if resume is not None:
            raise ConfigError(
                "--resume finishes a run of one process; leave out --coordinator, "
                "--num-processes and --process-id"
            )
        if hosts[0] != 0:  # process 0 writes the run folder; the others train with it
            train_and_evaluate(resolved, mesh=mesh)
            all_done("aelab run finished")
            click.echo(f"process {hosts[0]} of {hosts[1]}: trained; process 0 writes the run")
            return
    options_ = {"plot_dims": dims, "animation": animation, "resume": resume, "mesh": mesh}
    try:
        if quiet:
            result = run_experiment(resolved, out=out, name=name, **options_)
        else:
            with RichProgress(Console(stderr=True)) as progress:
                result = run_experiment(resolved, out=out, name=name, progress=progress, **options_)
    except RunInterrupted as stop:
        click.echo(f"aelab: {_stopped(stop)}", err=True)
        raise SystemExit(130) from None
    if hosts is not None:
        all_done("aelab run finished")
    if quiet:
        click.echo(str(result.run_dir))
        return
    console = Console()
    console.print(summary_table(result.metrics))
    console.print(
        f"run folder: {result.run_dir}  (open {result.figures['report']} in a browser; "
        f"figure: {result.figures['stages']})"
    )


def _stopped(stop) -> str:
    """What an interrupted run left (``stop``: a :class:`RunInterrupted`)."""
    if stop.finished:  # the signal came as the folder was written: it was finished first
        return f"{stop}: {stop.folder}"
    return (
        f"{stop}; the run's state is saved in {stop.folder}; finish it with: "
        f"aelab run --resume {stop.folder}"
    )


def _resolve(config: Path | None, settings: dict) -> RunConfig:
    """The config file (or the defaults) with the flags given."""
    base = RunConfig()
    if config is not None:
        base = load_config(config)
        check_config_files(config, base.data, settings)
    return with_overrides(
        base,
        {
            **family_overrides(settings),
            **shared_overrides(settings),
            "seed": settings["seed"],
            "data.labels": settings["labels"],
            "model.code": settings["code"],
            "model.noise": settings["noise"],
            "train.learning_rate": settings["learning_rate"],
            "train.pretraining": settings["pretraining"],
            "train.pretrained_reference": settings["pretrained_reference"] or None,
            "train.recon_weight": settings["recon_weight"],
        },
    )

"""The commands that use a finished run's models: ``predict`` and ``export``."""

from __future__ import annotations

from pathlib import Path

import click

from aelab.outputs.export import FORMATS, export_run
from aelab.outputs.predicting import predict_file


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("data")
@click.option("--stage", help="Model: a strategy of the run [its first strategy].")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("predictions.csv"), show_default=True,
    help="CSV file to write; never overwritten.",
)  # fmt: skip
def predict(run_dir: Path, data: str, stage: str | None, out: Path) -> None:
    """Predict the class, probabilities and code of every sample of DATA (CSV, NPZ, an image
    folder, ...)."""
    made = predict_file(run_dir, data, stage=stage, out=out)
    score = (
        "no labels that name the run's classes, so no accuracy"
        if made.accuracy is None
        else f"accuracy {made.accuracy:.3f} on its labels"
    )
    click.echo(f"{made.path}  ({made.rows} rows, stage {made.stage}; {score})")


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--stage", help="Model: a strategy or pretrained [the run's first strategy].")
@click.option(
    "--format", "format_", type=click.Choice(FORMATS), default="safetensors",
    show_default=True, help="Weights file format.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(path_type=Path), help="Folder to write into [RUN_DIR/export]."
)
def export_command(run_dir: Path, stage: str | None, format_: str, out: Path | None) -> None:
    """Write a stage's weights (.safetensors) and network and scaling (.json) for other tools."""
    made = export_run(run_dir, stage, format=format_, out=out)
    click.echo(f"{made.weights}\n{made.architecture}")


@click.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("compare"), show_default=True,
    help="Folder to write (compare.csv, displacement.csv, compare.png); never overwritten.",
)  # fmt: skip
def compare_command(runs: tuple[Path, ...], out: Path) -> None:
    """Compare every layer of every stage of runs on the same data by linear CKA."""
    from aelab.outputs.compare import compare_runs  # JAX: imported when runs are compared

    made = compare_runs(list(runs), out)
    click.echo(f"{made.folder}  ({made.layers} layers, {made.samples} samples)")

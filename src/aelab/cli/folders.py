"""The commands that work on finished run and sweep folders: ``report``, ``generate``,
``plot``."""

from __future__ import annotations

from pathlib import Path

import click

from aelab.cli import parsing
from aelab.errors import ConfigError
from aelab.outputs.animation import write_animation
from aelab.outputs.folders import is_run, read_run
from aelab.outputs.generate import MODES
from aelab.outputs.generate import generate as generate_samples
from aelab.outputs.plots import stages_figure
from aelab.outputs.report import write_report
from aelab.outputs.style import check_dims


@click.command("report")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--animation", is_flag=True,
    help="Also write animation.gif (and .mp4 with ffmpeg) of the code moving (runs only).",
)  # fmt: skip
def report_command(folder: Path, animation: bool) -> None:
    """Write FOLDER/report.html: a run's or a finished sweep's page, self-contained, offline."""
    click.echo(str(write_report(folder)))
    if animation:
        if not is_run(folder):
            raise ConfigError(f"--animation needs a run folder; {str(folder)!r} is a sweep's")
        for path in write_animation(folder).values():
            click.echo(str(path))


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--mode", type=click.Choice(list(MODES)), default="perturb", show_default=True,
    help="Which codes to decode.",
)  # fmt: skip
@click.option(
    "--stage", help="Model: pretrained or a strategy [pretrained; without it, the first strategy]."
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
    run_dir: Path, mode: str, stage: str | None, sample: int, to: int, count: int, scale: float,
    steps: int, dims: str, size: int, seed: int,
) -> None:  # fmt: skip
    """Decode moved codes of a finished run into new data (RUN_DIR/generated/)."""
    made = generate_samples(
        run_dir, mode, stage=stage, sample=sample, to=to, count=count, scale=scale,
        steps=steps, dims=parsing.dims("--dims", dims), size=size, seed=seed,
    )  # fmt: skip
    click.echo(f"{len(made.samples)} samples: {made.csv_path}  (figure: {made.figure_path})")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--dims", required=True, help="Two code units to draw, e.g. 0,3.")
def plot(run_dir: Path, dims: str) -> None:
    """Redraw a run's stage figure with two chosen code units (stages-dims-I-J.png)."""
    pair = parsing.dims("--dims", dims)
    folder = read_run(run_dir)
    check_dims(pair, folder.latents[f"code/{folder.reference_stage}"].shape[1], "--dims")
    path = run_dir / f"stages-dims-{pair[0]}-{pair[1]}.png"
    stages_figure(folder, pair).savefig(path)
    click.echo(str(path))

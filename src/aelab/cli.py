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


def _options(*options):
    """Apply click options in the order they are listed (as --help shows them)."""

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


# Settings shared by `aelab run` and `aelab sweep` (a sweep's lists are its own options).
_DATA_OPTIONS = (
    click.option(
        "--dataset", help=f"One of {', '.join(DATASETS)}, or a CSV/TSV, NPZ or IDX file [iris]."
    ),
    click.option("--test-file", help="A file like --dataset's that is the held-out part."),
    click.option("--label-column", help="Label column of a table [label/class/target/y, or last]."),
    click.option("--drop-columns", help="Comma-separated table columns to leave out."),
    click.option(
        "--drop-missing", is_flag=True, default=None, help="Drop rows with missing values."
    ),
    click.option(
        "--scaling",
        type=click.Choice(["auto", "standard", "minmax"]),
        help="standard, [0, 1] minmax, or auto: minmax for images [auto].",
    ),  # fmt: skip
    click.option("--strategies", help=f"Comma-separated subset of {','.join(STRATEGIES)} [all]."),
)
_MODEL_OPTIONS = (
    click.option("--hidden", help="Hidden layer widths, e.g. 64,32; 'none' for none [none]."),
    click.option("--activation", help="Activation of the hidden layers [sigmoid]."),
    click.option("--code-activation", help="Activation of the code layer [sigmoid]."),
    click.option(
        "--model",
        "family",
        type=click.Choice(["ae", "vae", "ladder"]),
        help="Autoencoder, variational autoencoder, or ladder network [ae].",
    ),  # fmt: skip
    click.option("--ladder-noise", type=float, help="Ladder: noise std at every layer [0.3]."),
    click.option(
        "--ladder-weights",
        help="Ladder: denoising-cost weights, input first: default, paper, gamma or 1,0.1,...",
    ),
    click.option(
        "--dropout", type=float, help="Dropout of hidden and code units while training [0]."
    ),
    click.option(
        "--batch-norm/--no-batch-norm",
        default=None,
        help="Batch norm of hidden and code layers [off].",
    ),  # fmt: skip
)
_TRAIN_OPTIONS = (
    click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "gpu"]),
        default="auto",
        help="Where to train: auto (a GPU when JAX sees one), cpu or gpu [auto].",
    ),  # fmt: skip
    click.option(
        "--devices",
        type=int,
        help="How many devices of that kind to train on, data-parallel [all JAX sees].",
    ),  # fmt: skip
    click.option("--pretrain-steps", type=int, help="Pretraining steps [5000]."),
    click.option("--finetune-steps", type=int, help="Fine-tuning steps [10000]."),
    click.option(
        "--batch-size",
        type=int,
        help="Samples in each step's minibatch (and as many labelled ones) [all: full batch].",
    ),  # fmt: skip
    click.option(
        "--sampling",
        type=click.Choice(["epochs", "draws"]),
        help="Minibatches: shuffled epochs, or draws with replacement [epochs].",
    ),  # fmt: skip
    click.option(
        "--snapshot-every", type=int, help="Keep every sample's code every N steps [100]."
    ),
    click.option("--test-size", help="Held-out share (0.5) or sample count (75) [0.5]."),
    click.option("--split-seed", type=int, help="Seed of the split alone [the run's --seed]."),
)


def _connect(
    coordinator: str | None, num_processes: int | None, process_id: int | None
) -> tuple[int, int] | None:
    """Join a multi-process run when asked to (by an option or ``JAX_COORDINATOR_ADDRESS``);
    return ``(process id, process count)``, or ``None`` for a run of one process."""
    import os

    asked = (coordinator, num_processes, process_id) != (None, None, None)
    if not asked and "JAX_COORDINATOR_ADDRESS" not in os.environ:
        return None
    address = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS", "")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"--coordinator {address!r}: give process 0's address as HOST:PORT, e.g. "
            "10.0.0.1:12345, the same in every process"
        )
    if num_processes is not None and num_processes < 1:
        raise ConfigError(f"--num-processes {num_processes}: give the number of processes, >= 1")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ConfigError(
            f"--process-id {process_id}: number the {num_processes} processes 0 to "
            f"{num_processes - 1}, each once"
        )
    import jax

    from aelab.parallel import connect

    try:
        connect(address, num_processes, process_id)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AelabError(f"could not join the run at {address}: {first}") from None
    return jax.process_index(), jax.process_count()


def _all_done() -> None:
    """Wait until every process of a multi-process run gets here (none may leave while
    another still needs it)."""
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices("aelab run finished")


def _use_devices(device: str, count: int | None):
    """Make ``device`` JAX's default device and return the mesh of the ``count`` devices to
    train on (``None`` for one); ``gpu`` without a visible GPU is a user error."""
    import jax

    from aelab.parallel import device_mesh

    try:
        devices = jax.devices(None if device == "auto" else device)
    except RuntimeError:
        raise ConfigError(
            f"--device {device}: JAX sees no {device.upper()} here; for NVIDIA GPUs install the "
            "CUDA build (pip install 'aelab[cuda]'), or use --device cpu"
        ) from None
    if device != "auto":
        jax.config.update("jax_default_device", devices[0])
    if count is not None and not 1 <= count <= len(devices):
        kind = devices[0].platform.upper()
        raise ConfigError(
            f"--devices {count}: JAX sees {len(devices)} {kind} device"
            f"{'s' if len(devices) > 1 else ''} here; use a number from 1 to {len(devices)}"
        )
    return device_mesh(devices, count)


def _shared_overrides(s: dict) -> dict:
    """Config overrides from the options both commands take (unset ones are None)."""
    return {
        "strategies": _names(s["strategies"]),
        "data.dataset": s["dataset"],
        "data.test_file": s["test_file"],
        "data.label_column": s["label_column"],
        "data.drop_columns": _names(s["drop_columns"]),
        "data.drop_missing": s["drop_missing"],
        "data.scaling": s["scaling"],
        "data.test_size": _size("--test-size", s["test_size"]),
        "data.split_seed": s["split_seed"],
        "model.hidden": _int_list("--hidden", s["hidden"]),
        "model.activation": s["activation"],
        "model.code_activation": s["code_activation"],
        "model.family": s["family"],
        "model.ladder_noise": s["ladder_noise"],
        "model.ladder_weights": s["ladder_weights"],
        "model.dropout": s["dropout"],
        "model.batch_norm": s["batch_norm"],
        "train.pretrain_steps": s["pretrain_steps"],
        "train.finetune_steps": s["finetune_steps"],
        "train.batch_size": s["batch_size"],
        "train.sampling": s["sampling"],
        "train.snapshot_every": s["snapshot_every"],
    }


@app.command(epilog=_STRATEGY_HELP)
@click.option(
    "--config", type=click.Path(path_type=Path), help="TOML config file; flags override it."
)
@_options(*_DATA_OPTIONS)
@click.option("--recon-weight", type=float, help="lambda in CE + lambda * reconstruction [1].")
@click.option("--seed", type=int, help="Seed of the weights and the split [0].")
@click.option("--code", type=int, help="Size of the code layer [2].")
@_options(*_MODEL_OPTIONS)
@click.option("--beta", type=float, help="Weight of the VAE's KL term [1].")
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
@_options(*_TRAIN_OPTIONS)
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
    """Pretrain an autoencoder, fine-tune it with every strategy, and measure each stage."""
    from aelab.config import RunConfig, load_config, with_overrides
    from aelab.rundir import RunInterrupted

    hosts = _connect(settings.pop("coordinator"), settings.pop("num_processes"),
                     settings.pop("process_id"))  # fmt: skip
    mesh = _use_devices(settings.pop("device"), settings.pop("devices"))
    from aelab.rundir import run as run_experiment

    base = load_config(config) if config is not None else RunConfig()
    resolved = with_overrides(
        base,
        {
            **_shared_overrides(settings),
            "seed": settings["seed"],
            "data.labels": settings["labels"],
            "model.code": settings["code"],
            "model.beta": settings["beta"],
            "model.noise": settings["noise"],
            "train.learning_rate": settings["learning_rate"],
            "train.pretraining": settings["pretraining"],
            "train.recon_weight": settings["recon_weight"],
        },
    )
    dims = _dims("--plot-dims", plot_dims)
    if hosts is not None:
        if resume is not None:
            raise ConfigError(
                "--resume finishes a run of one process; leave out --coordinator, "
                "--num-processes and --process-id"
            )
        if hosts[0] != 0:  # process 0 writes the run folder; the others train with it
            from aelab.experiment import train_and_evaluate

            train_and_evaluate(resolved, mesh=mesh)
            _all_done()
            click.echo(f"process {hosts[0]} of {hosts[1]}: trained; process 0 writes the run")
            return
    options = {"plot_dims": dims, "animation": animation, "resume": resume, "mesh": mesh}
    try:
        if quiet:
            result = run_experiment(resolved, out=out, name=name, **options)
        else:
            with _RichProgress(Console(stderr=True)) as progress:
                result = run_experiment(resolved, out=out, name=name, progress=progress, **options)
    except RunInterrupted as stop:
        click.echo(
            f"aelab: {stop}; the run's state is saved in {stop.folder}; finish it with: "
            f"aelab run --resume {stop.folder}",
            err=True,
        )
        raise SystemExit(130) from None
    if hosts is not None:
        _all_done()
    if quiet:
        click.echo(str(result.run_dir))
        return
    console = Console()
    console.print(_summary_table(result.metrics))
    console.print(
        f"run folder: {result.run_dir}  (open {result.figures['report']} in a browser; "
        f"figure: {result.figures['stages']})"
    )


def _float_list(flag: str, text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(p) for p in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"{flag}: expected comma-separated numbers such as 0,0.1,1, got {text!r}"
        ) from None


def _seeds(text: str | None) -> int | list[int] | None:
    """``--seeds 20`` (seeds 0-19) or ``--seeds 3,7,11`` (those seeds)."""
    if text is None:
        return None
    values = _int_list("--seeds", text)
    if values is None or not values:
        raise ConfigError("--seeds: expected a count such as 20 or seeds such as 0,3,7")
    return values[0] if "," not in text else values


def _label_counts(text: str | None) -> list[int | str] | None:
    if text is None:
        return None
    out: list[int | str] = []
    for part in text.split(","):
        part = part.strip()
        if part == "all":
            out.append("all")
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise ConfigError(
                f"--labels: expected comma-separated counts per class or 'all' such as "
                f"5,10,all, got {text!r}"
            ) from None
    return out


@app.command("sweep", epilog=_STRATEGY_HELP)
@click.option(
    "--config", type=click.Path(path_type=Path),
    help="TOML file: a run config plus a [sweep] table; flags override it.",
)  # fmt: skip
@click.option("--seeds", help="Number of seeds (0..N-1), or a list such as 0,3,7 [5].")
@click.option("--labels", help="Labelled samples per class, e.g. 5,10,40,all [all].")
@click.option("--recon-weight", help="Values of lambda, e.g. 0,0.1,1,10 [1].")
@click.option("--lr", "--learning-rate", "learning_rate", help="Adam step sizes, e.g. 0.01,0.003.")
@click.option("--code", help="Code sizes (one program each), e.g. 2,10 [2].")
@click.option(
    "--noise", help="Input noises, e.g. mask:0.1,mask:0.3,none (a program per kind) [none]."
)
@click.option("--beta", help="VAE KL weights, e.g. 0.5,1,4 [1].")
@_options(*_DATA_OPTIONS, *_MODEL_OPTIONS, *_TRAIN_OPTIONS)
@click.option("--seeds-per-slice", type=int, help="Seeds trained by one program [16].")
@click.option(
    "--baselines/--no-baselines", default=None,
    help="Fit scikit-learn's baselines on the same splits [on].",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("sweeps"), show_default=True,
    help="Folder that holds sweep folders.",
)  # fmt: skip
@click.option("--name", help="Name of the sweep folder [a timestamp].")
@click.option(
    "--resume", type=click.Path(path_type=Path),
    help="Finish an interrupted sweep folder; every other option is ignored.",
)  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or table; print the folder.")
def sweep_command(
    config: Path | None,
    out: Path,
    name: str | None,
    resume: Path | None,
    quiet: bool,
    **settings,
) -> None:
    """Train seeds x labels x lambda x strategies at once, with CIs and baselines."""
    from aelab.sweep import SweepConfig, SweepInterrupted, load_sweep_config, sweep

    mesh = _use_devices(settings.pop("device"), settings.pop("devices"))
    sweep_config = None
    if resume is None:
        base = load_sweep_config(config) if config is not None else SweepConfig()
        raw = base.to_dict()
        grid = raw.setdefault("sweep", {})
        run_part = {k: v for k, v in _shared_overrides(settings).items() if v is not None}
        for dotted, value in run_part.items():
            *path, last = dotted.split(".")
            target = raw
            for part in path:
                target = target.setdefault(part, {})
            target[last] = value
        lists = {
            "seeds": _seeds(settings["seeds"]),
            "labels": _label_counts(settings["labels"]),
            "recon_weights": _float_list("--recon-weight", settings["recon_weight"]),
            "learning_rates": _float_list("--lr", settings["learning_rate"]),
            "codes": _int_list("--code", settings["code"]),
            "noises": _names(settings["noise"]),
            "betas": _float_list("--beta", settings["beta"]),
            "seeds_per_slice": settings["seeds_per_slice"],
            "baselines": settings["baselines"],
        }
        grid.update({k: v for k, v in lists.items() if v is not None})
        sweep_config = SweepConfig.from_dict(raw)
    if quiet:
        try:
            result = sweep(sweep_config, out=out, name=name, resume=resume, mesh=mesh)
        except SweepInterrupted as stop:
            click.echo(
                f"aelab: interrupted; finish with: aelab sweep --resume {stop.sweep_dir}", err=True
            )
            raise SystemExit(130) from None
        click.echo(str(result.sweep_dir))
        _warn_diverged(result.results)
        return
    try:
        with _RichProgress(Console(stderr=True)) as progress:
            result = sweep(
                sweep_config, out=out, name=name, resume=resume, progress=progress, mesh=mesh
            )
    except SweepInterrupted as stop:
        click.echo(
            f"aelab: interrupted; {stop.sweep_dir} keeps {stop.n_rows} finished rows; "
            f"finish it with: aelab sweep --resume {stop.sweep_dir}",
            err=True,
        )
        raise SystemExit(130) from None
    console = Console(width=max(110, Console().width))
    console.print(_sweep_table(result.summary))
    _warn_diverged(result.results)
    console.print(
        f"sweep folder: {result.sweep_dir}  (results.csv, summary.csv, figure: sweep.png)"
    )


def _warn_diverged(results) -> None:
    ours = results[results["kind"] == "aelab"]
    bad = ours["diverged"].astype(str).isin(["True", "1"]).sum() if "diverged" in ours else 0
    if bad:
        click.echo(
            f"aelab: warning: {bad} of {len(ours)} models diverged (a loss stopped being a "
            "number); their rows say diverged=True and hold no numbers; lower the learning "
            "rate",
            err=True,
        )


def _sweep_table(summary) -> Table:
    """The summary, best mean held-out accuracy first."""
    ours = summary[summary["kind"] == "aelab"]
    columns = [c for c in ("labels", "code", "noise", "beta", "recon_weight", "learning_rate")
               if c in summary.columns and ours.loc[ours[c] != "", c].nunique() > 1]  # fmt: skip
    names = {"recon_weight": "λ", "learning_rate": "lr"}
    table = Table(box=box.SIMPLE_HEAD, title="held-out accuracy over seeds, best first")
    table.add_column("kind", no_wrap=True)
    table.add_column("strategy", no_wrap=True)
    gain = "gain_over_supervised_mean" in summary.columns
    extra = ("vs supervised (95% CI)",) if gain else ()
    for column in (*columns, "seeds", "mean", "95% CI", *extra, "CKA to pretrained"):
        table.add_column(names.get(column, column), justify="right", no_wrap=True)
    for _, row in summary.iterrows():
        low, high = row["test_accuracy_ci95_low"], row["test_accuracy_ci95_high"]
        ci = "-" if low != low else f"{low:.3f}-{high:.3f}"  # NaN with one seed
        cka = row.get("cka_to_pretrained_mean")
        versus = ()
        if gain:
            d, lo, hi = (
                row[f"gain_over_supervised_{k}"] for k in ("mean", "ci95_low", "ci95_high")
            )
            versus = ("" if d != d else f"{d:+.3f} ({lo:+.3f} to {hi:+.3f})",)
        table.add_row(
            row["kind"], row["strategy"], *(str(row[c]) for c in columns), str(row["n_seeds"]),
            f"{row['test_accuracy_mean']:.3f}", ci, *versus,
            "" if cka is None or cka != cka else f"{cka:.3f}",
        )  # fmt: skip
    return table


@app.command("report")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--animation", is_flag=True,
    help="Also write animation.gif (and .mp4 with ffmpeg) of the code moving (runs only).",
)  # fmt: skip
def report_command(folder: Path, animation: bool) -> None:
    """Write FOLDER/report.html: a run's or a finished sweep's page, self-contained, offline."""
    from aelab.report import write_report

    click.echo(str(write_report(folder)))
    if animation:
        if not (folder / "latents.npz").is_file():
            raise ConfigError(f"--animation needs a run folder; {str(folder)!r} is a sweep's")
        from aelab.animation import write_animation

        for path in write_animation(folder).values():
            click.echo(str(path))


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

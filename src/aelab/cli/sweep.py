"""``aelab sweep``: many seeds and settings at once, their summary and folder."""

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
    family_settings,
    options,
    shared_overrides,
)
from aelab.config import SweepConfig, load_sweep_config, with_overrides
from aelab.errors import ConfigError
from aelab.models import FAMILIES


@click.command("sweep", epilog=STRATEGY_HELP)
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
@options(*DATA_OPTIONS, *MODEL_OPTIONS, *family_options(sweep=True), *TRAIN_OPTIONS)
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
    # JAX and the sweep folder's writers (pandas, scikit-learn's baselines, matplotlib):
    # imported when a sweep starts, so that --help is quick.
    from aelab.cli.devices import use_devices
    from aelab.outputs.sweepdir import SweepInterrupted, sweep

    mesh = use_devices(settings.pop("device"), settings.pop("devices"))
    sweep_config = None if resume is not None else _resolve(config, settings)
    click.get_current_context().with_resource(data_messages(quiet))  # until the command ends
    try:
        if quiet:
            result = sweep(sweep_config, out=out, name=name, resume=resume, mesh=mesh)
        else:
            with RichProgress(Console(stderr=True)) as progress:
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
    if quiet:
        click.echo(str(result.sweep_dir))
        _warn_diverged(result.results)
        return
    console = Console()
    console.print(sweep_table(result.summary, console.width))
    _warn_diverged(result.results)
    console.print(
        f"sweep folder: {result.sweep_dir}  (results.csv, summary.csv, figure: sweep.png)"
    )


def _resolve(config: Path | None, settings: dict) -> SweepConfig:
    """The sweep file (or the defaults) with the flags given."""
    base = SweepConfig()
    if config is not None:
        base = load_sweep_config(config)
        check_config_files(config, base.base.data, settings)
    weights = {f.name: settings.pop(f.name) for family, f in family_settings()
               if f.name == FAMILIES[family].penalty_weight}  # fmt: skip
    overrides = {**family_overrides(settings, sweep=True), **shared_overrides(settings)}
    run = with_overrides(base.base, overrides)
    grid = base.to_dict()["sweep"]
    for setting, text in weights.items():
        if text is None:
            continue
        flag = "--" + setting.replace("_", "-")
        if run.model.spec.penalty_weight != setting:
            owners = " or ".join(n for n, f in FAMILIES.items() if f.penalty_weight == setting)
            raise ConfigError(
                f"{flag} weighs the penalty of model family {owners}; this sweep trains "
                f"{run.model.family}; add --model {owners.split()[0]} or leave {flag} out"
            )
        grid["betas"] = parsing.float_list(flag, text)
    old, new = base.base.model.spec, run.model.spec
    if base.betas and new is not old and grid["betas"] == list(base.betas):
        # a file's betas weigh its own family's penalty: not another family's
        raise ConfigError(
            f"the sweep's betas weigh model family {old.name}'s {old.penalty_weight}; with "
            f"--model {new.name} give its own values"
            + (f" (--{new.penalty_weight.replace('_', '-')} ...)" if new.penalty_weight else "")
        )
    lists = {
        "seeds": parsing.seeds(settings["seeds"]),
        "labels": parsing.label_counts(settings["labels"]),
        "recon_weights": parsing.float_list("--recon-weight", settings["recon_weight"]),
        "learning_rates": parsing.float_list("--lr", settings["learning_rate"]),
        "codes": parsing.int_list("--code", settings["code"]),
        "noises": parsing.names(settings["noise"]),
        "seeds_per_slice": settings["seeds_per_slice"],
        "baselines": settings["baselines"],
    }
    grid.update({k: v for k, v in lists.items() if v is not None})
    return SweepConfig.from_dict({**run.to_dict(), "sweep": grid})


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


# A setting's column in the terminal: its header.
SETTING_HEADERS = {"labels": "labels", "code": "code", "noise": "noise", "beta": "β",
                   "recon_weight": "λ", "learning_rate": "lr"}  # fmt: skip


def sweep_table(summary, width: int = 80) -> Table:
    """The summary, best mean held-out accuracy first, for a console ``width`` wide. Every
    number has its own column where they fit; else each interval sits under its mean and long
    strategy names wrap (80 columns hold the means, settings and intervals whole); a table
    still too wide leaves out the CKA column, never a number's digits."""
    for wide, cka in ((True, True), (False, True)):
        table, needed = _sweep_table(summary, wide, cka)
        if needed <= width:
            return table
    return _sweep_table(summary, False, False)[0]


def _sweep_table(summary, wide: bool, with_cka: bool) -> tuple[Table, int]:
    """The table in one layout, and the narrowest console that shows it whole."""
    # The summary's helpers import pandas and scipy: loaded when a table is printed.
    from aelab.analysis.summary import FEW_SEEDS, GAIN, few_seeds

    ours = summary[summary["kind"] == "aelab"]
    settings = [c for c in SETTING_HEADERS
                if c in summary.columns and ours.loc[ours[c] != "", c].nunique() > 1]  # fmt: skip
    gain = "gain_over_supervised_mean" in summary.columns
    table = Table(box=box.SIMPLE_HEAD, title="Held-out accuracy over seeds, best first")
    headers = [SETTING_HEADERS[c] for c in settings] + ["seeds"]
    if wide:
        headers += ["accuracy", "95% CI", *(["vs supervised", "its 95% CI"] if gain else [])]
    else:
        headers += ["accuracy\n95% CI", *(["vs supervised\n95% CI"] if gain else [])]
    rows = []
    for _, row in summary.iterrows():
        n_seeds, n_bad = _count(row.get("n_seeds")), _count(row.get("n_diverged", 0))
        seeds = f"{n_seeds:.0f}"
        if few_seeds(n_seeds, n_bad):
            seeds += "*"
            table.caption = f"* fewer than {FEW_SEEDS} seeds: read the interval with care"
        accuracy = _with_interval(row, "test_accuracy", "{:.3f}", "{:.3f}–{:.3f}", wide)
        between = "{:+.3f} to {:+.3f}" if wide else "{:+.3f}–{:+.3f}"
        versus = _with_interval(row, GAIN, "{:+.3f}", between, wide) if gain else []
        cka = _count(row.get("cka_to_pretrained_mean"))
        cells = [*(str(row[c]) for c in settings), seeds, *accuracy, *versus]
        rows.append((row, [*cells, "" if cka != cka else f"{cka:.3f}"][: len(cells) + with_cka]))
    strategy = 14 if not wide else max(len(_strategy_text(r, True)) for r, _ in rows)
    needed = 2 + strategy + (2 + 8 if wide else 0)  # each column is padded by 1 a side
    if wide:
        table.add_column("kind", no_wrap=True)
    table.add_column("strategy", min_width=14)  # the one column that wraps when space is short
    for j, header in enumerate([*headers, "CKA"][: len(headers) + with_cka]):
        column = [header, *(numbers[j] for _, numbers in rows)]
        least = max(len(line) for cell in column for line in cell.splitlines() or [""])
        table.add_column(header, justify="right", no_wrap=True, min_width=least)
        needed += least + 2
    for row, cells in rows:
        table.add_row(*([row["kind"]] if wide else []), _strategy_text(row, wide), *cells)
    return table, needed


def _count(value) -> float:
    """A summary cell as a number; NaN when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _strategy_text(row, wide: bool) -> str:
    """A row's strategy, the strategy that is the same model at λ = 0, and, in the narrow
    layout (no kind column), whether it is a baseline."""
    text = str(row["strategy"])
    twin = row.get("same_model_as")
    if isinstance(twin, str) and twin:
        text += f" = {twin} at λ=0"
    return text if wide or row["kind"] != "baseline" else f"{text} (baseline)"


def _with_interval(row, metric: str, mean: str, interval: str, wide: bool) -> list[str]:
    """``metric``'s mean and 95% interval as cells: two, or one of two lines."""
    m, lo, hi = (_count(row.get(f"{metric}_{k}")) for k in ("mean", "ci95_low", "ci95_high"))
    first = "" if m != m else mean.format(m)
    second = "-" if lo != lo or hi != hi else interval.format(lo, hi)
    return [first, second] if wide else [f"{first}\n{second}" if first else ""]

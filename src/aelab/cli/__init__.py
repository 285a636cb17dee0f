"""The command line: the only place that parses argv. Each command calls one library function.

User errors (bad flags, settings, files) print one line, ``aelab: error: ...``, and exit with
status 2; nothing is written.
"""

from __future__ import annotations

import importlib
import sys

import click

from aelab.cache import enable_compilation_cache
from aelab.errors import AelabError
from aelab.interrupts import catching

# Each command's module, imported when the command is used: `aelab run` loads nothing of
# `aelab sweep` (pandas, scikit-learn's baselines) or of the folder tools, and `aelab --help`
# none of them (it lists the summaries here: the first paragraph of each command's help, as a
# test checks). Modules of commands that train import JAX when the command runs, not before.
_COMMANDS = {
    "compare": (
        "aelab.cli.use", "compare_command",
        "Compare every layer of every stage of runs on the same data by linear CKA.",
    ),
    "datasets": (
        "aelab.cli.datasets", "datasets",
        "List the built-in datasets with their shape, classes and source.",
    ),
    "export": (
        "aelab.cli.use", "export_command",
        "Write a stage's weights (.safetensors) and network and scaling (.json) for other tools.",
    ),
    "generate": (
        "aelab.cli.folders", "generate",
        "Decode moved codes of a finished run into new data (RUN_DIR/generated/).",
    ),
    "plot": (
        "aelab.cli.folders", "plot",
        "Redraw a run's stage figure with two chosen code units (stages-dims-I-J.png).",
    ),
    "predict": (
        "aelab.cli.use", "predict",
        "Predict the class, probabilities and code of every sample of DATA (CSV, NPZ, ...).",
    ),
    "report": (
        "aelab.cli.folders", "report_command",
        "Write FOLDER/report.html: a run's or a finished sweep's page, self-contained, offline.",
    ),
    "run": (
        "aelab.cli.run", "run",
        "Train each strategy (after pretraining, if one starts from it) and measure each stage.",
    ),
    "sweep": (
        "aelab.cli.sweep", "sweep_command",
        "Train seeds x labels x lambda x strategies at once, with CIs and baselines.",
    ),
}  # fmt: skip


class _LazyGroup(click.Group):
    """A command group whose commands are imported when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, name, _ = _COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands, from their summaries: no command is imported."""
        limit = formatter.width - 6 - max(map(len, _COMMANDS))  # as click's own list
        rows = [
            (name, click.Command(name, help=summary).get_short_help_str(limit))
            for name, (_, _, summary) in sorted(_COMMANDS.items())
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aelab")
def app() -> None:
    """See, measure and exploit what autoencoders do to a representation."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``aelab`` console script."""
    enable_compilation_cache()  # imports no JAX: commands that train nothing never start it
    try:
        with catching():  # a Ctrl-C that Python loses on its way is remembered, and acted on
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
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("aelab: interrupted; nothing was written", err=True)
        sys.exit(130)
    sys.exit(code or 0)


__all__ = ["app", "main"]

"""The command line: the only place that parses argv. Each command calls one library function.

User errors (bad flags, settings, files) print one line, ``aelab: error: ...``, and exit with
status 2; nothing is written.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click
import jax

from aelab.errors import AelabError

# Each command's module, imported when the command is used: `aelab run` loads nothing of
# `aelab sweep` (pandas, scikit-learn's baselines) or of the folder tools.
_COMMANDS = {
    "datasets": ("aelab.cli.folders", "datasets"),
    "generate": ("aelab.cli.folders", "generate"),
    "plot": ("aelab.cli.folders", "plot"),
    "report": ("aelab.cli.folders", "report_command"),
    "run": ("aelab.cli.run", "run"),
    "sweep": ("aelab.cli.sweep", "sweep_command"),
}


class _LazyGroup(click.Group):
    """A command group whose commands are imported when they are used (or listed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, name = _COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aelab")
def app() -> None:
    """See, measure and exploit what autoencoders do to a representation."""


def _enable_compilation_cache() -> None:
    """Keep compiled training programs between runs, so a second run skips most compiling.

    ``AELAB_COMPILATION_CACHE`` names the folder (default ``~/.cache/aelab/xla``) or is ``off``.
    A cached program is the same program, so the numbers do not change.
    """
    setting = os.environ.get("AELAB_COMPILATION_CACHE", "")
    if setting.lower() == "off":
        return
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
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


__all__ = ["app", "main"]

"""``aelab datasets``: the built-in datasets, from their declarations (none is loaded)."""

from __future__ import annotations

import click
from rich import box
from rich.console import Console
from rich.table import Table

from aelab.data import DATASETS


@click.command()
def datasets() -> None:
    """List the built-in datasets with their shape, classes and source."""
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    for column in ("samples", "features", "classes"):
        table.add_column(column, justify="right")
    table.add_column("what it is, where it comes from")
    for name, builtin in DATASETS.items():
        shape = builtin.image_shape
        features = "x".join(map(str, shape)) if shape else str(builtin.features)
        table.add_row(
            name, f"{builtin.samples:,}", features, str(builtin.classes), builtin.description
        )
    Console(width=max(100, Console().width)).print(table)

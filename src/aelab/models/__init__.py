"""Model families. Each is one module of this package that declares ``FAMILY``; they are
found here, so adding a family is adding its file (see :mod:`aelab.models.base`)."""

from __future__ import annotations

import importlib
import pkgutil

from aelab.models.base import AbstractModel, AbstractSettings, Family, Layout, Params


def _discover() -> dict[str, Family]:
    """Every family of this package, by name."""
    found: dict[str, Family] = {}
    for info in pkgutil.iter_modules(__path__):
        family = getattr(importlib.import_module(f"{__name__}.{info.name}"), "FAMILY", None)
        if isinstance(family, Family):
            assert family.name not in found, f"two families are called {family.name!r}"
            found[family.name] = family
    return dict(sorted(found.items()))


FAMILIES: dict[str, Family] = _discover()
(DEFAULT_FAMILY,) = (name for name, family in FAMILIES.items() if family.default)


def family_of(model: AbstractModel) -> Family:
    """The family whose model class ``model`` is."""
    return next(f for f in FAMILIES.values() if type(model) is f.model)


__all__ = [
    "DEFAULT_FAMILY",
    "FAMILIES",
    "AbstractModel",
    "AbstractSettings",
    "Family",
    "Layout",
    "Params",
    "family_of",
]

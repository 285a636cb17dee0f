"""``ModelConfig``: the network settings every family shares, and every family's own.

The shared settings are listed here; each family's own ones (a VAE's ``beta``, a ladder's
``ladder_noise``...) come from its settings class in :mod:`aelab.models`, so a new family
brings its ``[model]`` keys with it. They are all flat keys of ``[model]``, as in the config
files of every earlier version.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aelab.checks import choices, require_bool, require_choice, require_int, require_number
from aelab.config.noise import parse_noise
from aelab.errors import ConfigError
from aelab.models import DEFAULT_FAMILY, FAMILIES, AbstractModel, Family, Layout
from aelab.models.layers import ACTIVATIONS

# (name, type, default) of the settings every family shares, in the order config files list
# them: a Layout's (but the data's sizes), the input noise, the family.
_SHARED: list[tuple[str, Any, Any]] = [
    *((f.name, f.type, f.default) for f in dataclasses.fields(Layout) if f.name in Layout.SHARED),
    ("noise", "str", "none"),
    ("family", "str", DEFAULT_FAMILY),
]


def family_settings(family: Family) -> tuple[dataclasses.Field, ...]:
    """The fields of ``family``'s own settings."""
    return dataclasses.fields(family.settings)


def shared_settings() -> dict[str, dataclasses.Field]:
    """Every family's own settings by name, once each: families may share one (the VAE's and
    the convolutional VAE's ``beta``) when they declare the same field (the same class's)."""
    out: dict[str, dataclasses.Field] = {}
    for family in FAMILIES.values():
        for f in family_settings(family):
            seen = out.setdefault(f.name, f)
            assert seen is f or (seen.type, seen.default) == (f.type, f.default), (
                f"setting {f.name!r} of {family.name} differs from another family's"
            )
    return out


def _post_init(self) -> None:
    hidden = self.hidden
    if isinstance(hidden, list):
        hidden = tuple(hidden)
        object.__setattr__(self, "hidden", hidden)
    if not isinstance(hidden, tuple):
        raise ConfigError(f"model.hidden must be a list of layer widths, got {hidden!r}")
    for width in hidden:
        require_int("model.hidden", width, 1, "each hidden layer needs >= 1 unit")
    require_int("model.code", self.code, 1, "the original experiment uses 2")
    for name in ("activation", "code_activation"):
        require_choice(f"model.{name}", getattr(self, name), ACTIVATIONS, "activation")
    # One spelling per noise ("None", " none", "gaussian:.3" -> "none", "gaussian:0.3"),
    # so that equal settings compare equal (sweeps, resumed sweeps).
    noise = parse_noise(self.noise)
    object.__setattr__(self, "noise", "none" if noise is None else f"{noise.kind}:{noise.level:g}")
    p = require_number("model.dropout", self.dropout)
    if not 0 <= p < 1:
        raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout!r}; try 0.1")
    object.__setattr__(self, "dropout", p)
    require_bool("model.batch_norm", self.batch_norm)
    require_choice("model.family", self.family, FAMILIES, "model family")
    for family in FAMILIES.values():  # every family checks its own values (normalised)
        settings = _settings_of(self, family)
        for f in family_settings(family):
            object.__setattr__(self, f.name, getattr(settings, f.name))
    self.settings.check(self)


def _settings_of(config: Any, family: Family) -> Any:
    return family.settings(**{f.name: getattr(config, f.name) for f in family_settings(family)})


def _settings(self) -> Any:
    """The chosen family's own settings."""
    return _settings_of(self, self.spec)


def _spec(self) -> Family:
    """The chosen family's declaration (:class:`aelab.models.Family`)."""
    return FAMILIES[self.family]


def _layout(self, n_inputs: int, n_classes: int, input_shape: tuple[int, ...] = ()) -> Layout:
    """The shared settings, with the data's sizes (``input_shape``: one sample's image or
    signal shape, ``()`` for a table)."""
    return Layout(
        n_inputs=n_inputs, n_classes=n_classes, hidden=tuple(self.hidden), code=self.code,
        activation=self.activation, code_activation=self.code_activation,
        dropout=self.dropout, batch_norm=self.batch_norm,
        input_shape=tuple(int(s) for s in input_shape),
    )  # fmt: skip


def _build(self, n_inputs: int, n_classes: int, input_shape: tuple[int, ...] = ()) -> AbstractModel:
    """The model this config describes, for ``n_inputs`` features and ``n_classes`` classes
    (``input_shape``: one sample's image or signal shape, ``()`` for a table)."""
    return self.spec.make(self.layout(n_inputs, n_classes, input_shape), self.settings)


def _own_keys(self) -> dict[str, Any]:
    """The settings a config file needs: the shared ones, the chosen family's, and any other
    family's that differs from its default (nothing given is lost)."""
    out = {name: getattr(self, name) for name, _, _ in _SHARED}
    for family in FAMILIES.values():
        for f in family_settings(family):
            value = getattr(self, f.name)
            if family.name == self.family or value != f.default:
                out[f.name] = value
    return out


def _docstring() -> str:
    lines = [
        "The network: ``input -> hidden... -> code -> hidden reversed -> input``, and its family.",
        "",
        "Attributes:",
        "    hidden: widths of the encoder's hidden layers (the decoder mirrors them); ``()``",
        "        gives the original shallow autoencoder.",
        "    code: size of the code layer.",
        "    activation, code_activation: activations of the hidden layers and of the code.",
        "    noise: input corruption while training, ``kind:level`` or ``none``.",
        "    dropout: probability of dropping each hidden unit and code unit while training.",
        "    batch_norm: batch normalisation of the hidden layers and the code layer.",
        f"    family: one of {choices(FAMILIES)}.",
    ]
    done: set[str] = set()
    for family in FAMILIES.values():
        for f in family_settings(family):
            if f.name not in done:
                done.add(f.name)
                lines.append(f"    {f.name}: ({family.name}) {f.metadata.get('help', '')}")
    return "\n".join(lines)


def _make() -> type:
    fields: list[tuple[str, Any, Any]] = [
        (name, kind, dataclasses.field(default=default)) for name, kind, default in _SHARED
    ]
    seen = {name for name, _, _ in _SHARED}
    for f in shared_settings().values():
        assert f.name not in seen, f"family setting {f.name!r} is a shared setting's name"
        fields.append((f.name, f.type, dataclasses.field(default=f.default)))
    namespace = {
        "__post_init__": _post_init,
        "__doc__": _docstring(),
        "spec": property(_spec),
        "settings": property(_settings),
        "layout": _layout,
        "build": _build,
        "own_keys": _own_keys,
    }
    cls = dataclasses.make_dataclass("ModelConfig", fields, frozen=True, namespace=namespace)
    cls.__module__ = __name__  # where pickle and the docs find it
    return cls


ModelConfig = _make()

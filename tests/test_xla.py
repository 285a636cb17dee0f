"""aelab's one XLA setting: YNNPACK's reduce fusions off, on the jaxlib it was measured on."""

import os
from importlib import metadata

import pytest

from aelab import xla


def test_the_jaxlib_version_is_read_without_importing_it():
    assert xla.jaxlib_version() == metadata.version("jaxlib")


@pytest.fixture
def jaxlib_version(monkeypatch):
    def set_version(version: str | None) -> None:
        monkeypatch.setattr(xla, "jaxlib_version", lambda: version)

    return set_version


def test_the_flag_joins_the_users_flags_on_a_measured_jaxlib(monkeypatch, jaxlib_version):
    jaxlib_version("0.10.2")
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    assert xla.tune_xla()
    assert os.environ["XLA_FLAGS"] == (
        "--xla_force_host_platform_device_count=2 --xla_cpu_experimental_ynn_fusion_type=-reduce"
    )
    monkeypatch.delenv("XLA_FLAGS")
    assert xla.tune_xla()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type=-reduce"


@pytest.mark.parametrize(
    ("flags", "version"),
    [
        ("--xla_cpu_experimental_ynn_fusion_type=+reduce", "0.10.2"),  # the user's own choice
        ("", "0.9.0"),  # a jaxlib it was not measured on: its XLA may not know the flag
        ("", "0.11.0"),
        ("", None),  # no jaxlib at all
    ],
)
def test_the_users_setting_and_other_jaxlibs_are_left_alone(
    monkeypatch, jaxlib_version, flags, version
):
    jaxlib_version(version)
    monkeypatch.setenv("XLA_FLAGS", flags)
    assert not xla.tune_xla()
    assert os.environ["XLA_FLAGS"] == flags

"""Every preset's numbers, its name handling, and the docs table that must match it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idleguard import IdleGuardWSGI, Policy, PolicyError
from idleguard.presets import PRESETS, preset_names

MIN = 60.0
HOUR = 3600.0
DOCS = Path(__file__).resolve().parent.parent / "docs" / "policies.md"


@pytest.mark.parametrize(
    ("name", "idle", "absolute"),
    [
        pytest.param("disabled", None, 8 * HOUR, id="disabled"),
        pytest.param("15m", 15 * MIN, 8 * HOUR, id="15m"),
        pytest.param("30m", 30 * MIN, 8 * HOUR, id="30m"),
        pytest.param("1h", HOUR, 8 * HOUR, id="1h"),
        pytest.param("2h", 2 * HOUR, 8 * HOUR, id="2h"),
        pytest.param("4h", 4 * HOUR, 8 * HOUR, id="4h"),
        pytest.param("8h", 8 * HOUR, 8 * HOUR, id="8h"),
        pytest.param("pci-dss", 15 * MIN, 8 * HOUR, id="pci-dss-8.2.8"),
        pytest.param("fedramp-moderate", 15 * MIN, 12 * HOUR, id="fedramp-ac-11"),
        pytest.param("nist-800-63b-aal2", HOUR, 24 * HOUR, id="aal2-is-rev4"),
        pytest.param("nist-800-63b-rev4-aal2", HOUR, 24 * HOUR, id="rev4-aal2"),
        pytest.param("nist-800-63b-rev3-aal2", 30 * MIN, 12 * HOUR, id="rev3-aal2"),
        pytest.param("nist-800-63b-aal3", 15 * MIN, 12 * HOUR, id="aal3-is-rev4"),
        pytest.param("nist-800-63b-rev4-aal3", 15 * MIN, 12 * HOUR, id="rev4-aal3"),
        pytest.param("nist-800-63b-rev3-aal3", 15 * MIN, 12 * HOUR, id="rev3-aal3"),
        pytest.param("hipaa", 15 * MIN, 8 * HOUR, id="hipaa-chosen"),
        pytest.param("soc2", 30 * MIN, 8 * HOUR, id="soc2-chosen"),
    ],
)
def test_preset_numbers(name: str, idle: float | None, absolute: float | None) -> None:
    policy = Policy.preset(name)
    assert (policy.idle_timeout, policy.absolute_timeout) == (idle, absolute)


def test_every_name_is_covered_above() -> None:
    assert len(preset_names()) == 17


def test_default_policy_is_the_30m_rung() -> None:
    assert Policy() == Policy.preset("30m")


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        pytest.param("pci_dss", "pci-dss", id="underscore"),
        pytest.param("pcidss", "pci-dss", id="missing-dash"),
        pytest.param("fedramp-moderat", "fedramp-moderate", id="truncated"),
        pytest.param("hipa", "hipaa", id="short"),
        pytest.param("nist-800-63b-aal-2", "nist-800-63b-aal2", id="extra-dash"),
    ],
)
def test_a_typo_names_the_closest_preset(typo: str, suggestion: str) -> None:
    with pytest.raises(PolicyError, match=f"did you mean {suggestion!r}"):
        Policy.preset(typo)


def test_a_typo_stops_the_middleware_at_start_up() -> None:
    with pytest.raises(PolicyError, match="did you mean 'pci-dss'"):
        IdleGuardWSGI(lambda e, s: [], secret_key="k" * 32, policy="pci-dds")


def test_names_are_case_insensitive_and_take_overrides() -> None:
    policy = Policy.preset("PCI-DSS", absolute_timeout=4 * HOUR)
    assert (policy.idle_timeout, policy.absolute_timeout) == (15 * MIN, 4 * HOUR)


def test_an_override_that_breaks_the_preset_is_refused() -> None:
    with pytest.raises(PolicyError, match="longer than absolute_timeout"):
        Policy.preset("nist-800-63b-aal3", idle_timeout=13 * HOUR)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        pytest.param({"idle_timout": 60}, "did you mean 'idle_timeout'", id="typo-key"),
        pytest.param({"preset": "soc3"}, "did you mean 'soc2'", id="typo-preset"),
        pytest.param({"idle_timeout": "ten"}, "'ten' is not a duration", id="not-a-duration"),
    ],
)
def test_configuration_mappings_are_checked(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_mapping(mapping)


def test_mapping_with_preset_and_override() -> None:
    policy = Policy.from_mapping({"preset": "hipaa", "idle_timeout": 600})
    assert policy.idle_timeout == 600


def _docs_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOCS.read_text().splitlines():
        match = re.match(r"\| `([a-z0-9-]+)` \| ([^|]+) \| ([^|]+) \|", line)
        if match:
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def _shown(seconds: float | None) -> str:
    if seconds is None:
        return "off"
    if seconds % HOUR == 0:
        return f"{seconds / HOUR:g} h"
    return f"{seconds / MIN:g} min"


def test_the_docs_table_matches_the_presets() -> None:
    rows = _docs_rows()
    assert set(rows) == set(PRESETS)
    for name, preset in PRESETS.items():
        idle, absolute = rows[name]
        assert idle.startswith(_shown(preset.idle_timeout)), name
        assert absolute.startswith(_shown(preset.absolute_timeout)), name
        # A number the standard leaves open is marked as idleguard's choice.
        assert ("*" in idle) == ("idle_timeout" in preset.chosen), name
        assert ("*" in absolute) == ("absolute_timeout" in preset.chosen), name

"""The named profile ranges are the one copy: configs, the quickstart and the mixture renderer read them."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from xrdnet.config import ConfigError, config_from_dict, load_config, load_stage_config
from xrdnet.data.build import SimulateConfig
from xrdnet.simulate import ProfileConfig, SimulatorConfig
from xrdnet.simulate.profile_presets import CLEAN, EXPERIMENTAL, PRESETS, REAL, profile_preset

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_real_is_experimental_plus_the_real_sample_effects():
    differing = {f.name for f in fields(ProfileConfig) if getattr(REAL, f.name) != getattr(EXPERIMENTAL, f.name)}
    assert differing == {"lattice_strain", "intensity_sigma", "detection_limit", "impurity_peaks", "impurity_level"}
    assert CLEAN == ProfileConfig() and EXPERIMENTAL != CLEAN


def test_a_config_names_a_preset_and_may_change_fields_beside_it():
    sim = config_from_dict(SimulatorConfig, {"profile": {"preset": "real", "eta": [0.1, 0.5]}})
    assert sim.profile.eta == (0.1, 0.5)
    assert sim.profile.lattice_strain == REAL.lattice_strain and sim.profile.impurity_peaks == REAL.impurity_peaks
    assert config_from_dict(SimulatorConfig, {"profile": {"preset": "experimental"}}).profile == EXPERIMENTAL


@pytest.mark.parametrize("profile, expected", [
    ({"preset": "reel"}, "unknown profile preset 'reel'"),
    ({"preset": "real", "etta": [0.1, 0.2]}, "unknown key(s) ['etta']"),
    ({"preset": "real", "eta": [0.9, 0.1]}, "low <= high"),
])
def test_a_bad_preset_or_field_is_a_config_error_naming_the_key(profile, expected):
    with pytest.raises(ConfigError) as info:
        config_from_dict(SimulatorConfig, {"profile": profile}, where="sim.yaml")
    assert expected in str(info.value) and str(info.value).startswith("sim.yaml")
    with pytest.raises(ValueError, match="known: \\['clean', 'experimental', 'real'\\]"):
        profile_preset("reel")


@pytest.mark.parametrize("name, section, preset", [
    ("real.yaml", "simulate", "real"), ("paper.yaml", "simulate", "experimental"),
    ("experimental.yaml", "simulator", "experimental"), ("clean.yaml", "simulator", "clean"),
])
def test_shipped_configs_read_their_preset(name, section, preset):
    path = CONFIGS / name
    if section == "simulate":
        profile = load_stage_config(path, SimulateConfig, "simulate").simulator.profile
    else:
        profile = load_config(path, SimulatorConfig, section="simulator").profile
    assert profile == PRESETS[preset]
    assert "eta:" not in path.read_text(), f"{name} copies numbers of the {preset} preset"


def test_quickstart_reads_the_real_preset():
    from xrdnet.quickstart import QuickstartConfig

    assert QuickstartConfig().simulate.simulator.profile is REAL

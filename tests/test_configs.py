"""Every YAML file in configs/ loads into the dataclasses of the stages it configures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xrdnet.config import load_config, load_stage_config
from xrdnet.data.build import SimulateConfig
from xrdnet.quickstart import QuickstartConfig
from xrdnet.simulate import SimulatorConfig
from xrdnet.train import TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_loads_into_its_stages(path):
    data = yaml.safe_load(path.read_text())
    if path.name == "quickstart.yaml":
        config = load_config(path, QuickstartConfig)
        assert config.simulate.source == "jsonl" and config.cnn.model == "cnn"
        return
    loaded = 0
    if "simulate" in data:
        assert isinstance(load_stage_config(path, SimulateConfig, "simulate"), SimulateConfig)
        loaded += 1
    if "train" in data or "model" in data:
        assert isinstance(load_stage_config(path, TrainConfig, "train"), TrainConfig)
        loaded += 1
    if set(data) == {"simulator"}:
        assert isinstance(load_config(path, SimulatorConfig, section="simulator"), SimulatorConfig)
        loaded += 1
    assert loaded, f"{path.name} configures no stage this test knows"


def test_real_recipe_configs_agree_on_the_data():
    root = CONFIGS[0].parent
    real = load_stage_config(root / "real.yaml", SimulateConfig, "simulate")
    assert real.source == "jsonl" and real.simulator.profile.lattice_strain != (0.0, 0.0)
    for name in ("train_real_cpu.yaml", "train_real_gpu.yaml"):
        train = load_stage_config(root / name, TrainConfig, "train")
        assert train.data.split_kind == "compound" and train.data.sample_weights != "none"

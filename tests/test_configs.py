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
    if "detector" in data:
        from xrdnet.mixture import MixtureRecipe

        assert isinstance(load_config(path, MixtureRecipe), MixtureRecipe)
        loaded += 1
    if "rules" in data:
        from xrdnet.explain.command import RulesConfig

        assert isinstance(load_stage_config(path, RulesConfig, "rules"), RulesConfig)
        loaded += 1
    assert loaded, f"{path.name} configures no stage this test knows"


def test_quickstart_yaml_is_the_built_in_quickstart_recipe():
    """``xrdnet quickstart`` runs without a file; configs/quickstart.yaml must say what it does."""
    path = CONFIGS[0].parent / "quickstart.yaml"
    assert load_config(path, QuickstartConfig) == QuickstartConfig()


def test_real_recipe_configs_agree_on_the_data():
    root = CONFIGS[0].parent
    real = load_stage_config(root / "real.yaml", SimulateConfig, "simulate")
    assert real.source == "jsonl" and real.simulator.profile.lattice_strain != (0.0, 0.0)
    for name in ("train_real_cpu.yaml", "train_real_gpu.yaml"):
        train = load_stage_config(root / name, TrainConfig, "train")
        assert train.data.split_kind == "compound" and train.data.sample_weights != "none"


def _train_sections(path):
    """Every TrainConfig a YAML file holds (``train:`` or a quickstart's cnn and forests)."""
    data = yaml.safe_load(path.read_text())
    if path.name == "quickstart.yaml":
        config = load_config(path, QuickstartConfig)
        return [config.cnn, *config.forests]
    if "train" in data or "model" in data:
        return [load_stage_config(path, TrainConfig, "train")]
    return []


def _simulator_sections(path):
    data = yaml.safe_load(path.read_text())
    if path.name == "quickstart.yaml":
        return [load_config(path, QuickstartConfig).simulate.simulator]
    if "simulate" in data:
        return [load_stage_config(path, SimulateConfig, "simulate").simulator]
    if set(data) == {"simulator"}:
        return [load_config(path, SimulatorConfig, section="simulator")]
    return []


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_validates_what_its_stages_will_build(path, nacl):
    """Beyond parsing: each simulator renders a finite pattern on its grid, each CNN is built and
    maps a pattern of its data grid to 230 finite logits, and files a config names exist."""
    import torch

    from xrdnet.models.cnn import XRDNet
    from xrdnet.simulate import XRDSimulator

    grids = []
    for sim_config in _simulator_sections(path):
        sim = XRDSimulator.from_config(sim_config, device="cpu")
        pattern = sim.patterns([nacl], seed=0)
        lo, hi = sim_config.two_theta_range
        assert pattern.shape == (1, int(round((hi - lo) / sim_config.step)) + 1)
        assert torch.isfinite(pattern).all() and float(pattern.max()) == pytest.approx(1.0)
        grids.append(pattern.shape[1])
    for train in _train_sections(path):
        if train.data.on_the_fly_profile:
            profile = Path(train.data.on_the_fly_profile)
            assert profile.is_file() or (CONFIGS[0].parents[1] / profile).is_file(), profile
        if train.model == "cnn":
            net = XRDNet(train.cnn).eval()
            with torch.no_grad():
                logits = net(torch.rand(2, grids[0] if grids else 8501))
            assert logits.shape == (2, 230) and torch.isfinite(logits).all()


def test_paper_recipe_is_the_one_the_rehearsal_runs():
    """tests/test_recipe_rehearsal.py shrinks configs/paper.yaml; the settings it rehearses are the
    recipe's own (if the recipe changes them, the rehearsal must follow)."""
    train = load_stage_config(CONFIGS[0].parent / "paper.yaml", TrainConfig, "train")
    assert train.model == "cnn" and train.cnn.compile and train.data.on_the_fly
    assert train.data.split_kind == "structure_type" and train.trainer.precision == "auto"


@pytest.mark.parametrize("section, bad", [
    ({"trainer": {"precision": "bf17-mixed"}}, "precision"),
    ({"trainer": {"accelerator": "cdua"}}, "accelerator"),
    ({"trainer": {"strategy": "dpp"}}, "strategy"),
    ({"trainer": {"devices": 0}}, "devices"),
    ({"data": {"batch_sise": 8}}, "batch_sise"),
    ({"data": {"split_kind": "prototype"}}, "split_kind"),
    ({"cnn": {"kernel_size": 4}}, "odd"),
])
def test_typos_in_a_train_config_fail_when_it_is_read(tmp_path, section, bad):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"train": section}))
    with pytest.raises(ValueError, match=bad):
        load_stage_config(path, TrainConfig, "train")

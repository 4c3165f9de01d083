"""``xrdnet train`` in legs: --max-time ends a leg at an epoch boundary, --resume continues it exactly."""

import json
from dataclasses import replace

import pytest
import torch

from xrdnet.data.datamodule import DataConfig
from xrdnet.models.cnn import CNNConfig
from xrdnet.simulate.coverage import CoverageConfig
from xrdnet.train import LAST_CHECKPOINT, TrainConfig, TrainerConfig, resume_run, train


def _config(fresh: bool) -> TrainConfig:
    data = DataConfig(batch_size=16, fresh=fresh, epoch_size=48 if fresh else 0,
                      coverage=CoverageConfig(0.3, (10.0, 25.0), (45.0, 70.0)) if fresh else CoverageConfig())
    return TrainConfig(seed=3, data=data,
                       cnn=CNNConfig(channels=(8, 8), hidden=16, position_bins=8, coverage_channel=fresh),
                       trainer=TrainerConfig(max_epochs=3, monitor="val_cs_acc", early_stopping_patience=0, progress_bar=False))


@pytest.mark.parametrize("fresh", [False, True], ids=["stored", "fresh"])
def test_three_legs_give_the_weights_of_one_run(tiny_dataset, tmp_path, fresh):
    config = _config(fresh)
    whole = train(config, tiny_dataset, tmp_path / "whole", keep_model=True)
    assert whole["complete"] and not (tmp_path / "whole" / LAST_CHECKPOINT).exists()

    first = train(config, tiny_dataset, tmp_path / "legs", max_seconds=0)  # 0 s: one epoch per leg
    assert first["complete"] is False and first["epochs"] == 1
    assert (tmp_path / "legs" / LAST_CHECKPOINT).is_file()
    second = resume_run(tmp_path / "legs", max_seconds=0)
    assert second["complete"] is False and second["epochs"] == 2
    third = train(config, tiny_dataset, tmp_path / "legs", keep_model=True, resume=True)
    assert third["complete"] and third["global_step"] == whole["global_step"]
    assert len(json.loads((tmp_path / "legs" / "run.json").read_text())["legs"]) == 3
    # every leg's log is kept, and the checkpoint kept is the best over all of them
    logs = sorted(p.parent.name for p in (tmp_path / "legs" / "logs").glob("**/metrics.csv"))
    assert logs == ["leg2", "leg3", "logs"]
    assert third["best_score"] == whole["best_score"] and third["best_val_loss"] == whole["best_val_loss"]
    a, b = whole["model"].state_dict(), third["model"].state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and a run that trained differently really differs (the comparison can fail)
    other = train(replace(config, seed=4), tiny_dataset, tmp_path / "other", keep_model=True)
    assert any(not torch.equal(a[k], other["model"].state_dict()[k]) for k in a if a[k].is_floating_point())


def test_resume_of_a_finished_run_says_so(tiny_dataset, tmp_path):
    train(_config(False), tiny_dataset, tmp_path / "done")
    with pytest.raises(FileNotFoundError, match="last.ckpt"):
        resume_run(tmp_path / "done")


def test_monitor_on_measured_data_needs_a_folder():
    from xrdnet.config import ConfigError, config_from_dict

    with pytest.raises((ValueError, ConfigError), match="real_validation"):
        config_from_dict(TrainerConfig, {"monitor": "val_real_cs_acc"}, "train.yaml:trainer")
    with pytest.raises((ValueError, ConfigError), match="monitor"):
        config_from_dict(TrainerConfig, {"monitor": "val_accuracy"}, "train.yaml:trainer")

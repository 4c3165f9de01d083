"""Checkpoints chosen on labelled measured patterns, scored through the readers a user's file goes through."""

import json

import numpy as np

from xrdnet.data.datamodule import DataConfig
from xrdnet.data.reader import PatternDataset
from xrdnet.models.cnn import CNNClassifier, CNNConfig
from xrdnet.train import TrainConfig, TrainerConfig, train


def _measured_folder(tiny_dataset, folder, n=12):
    """Test patterns of the tiny set written as two-column .xy files with a labels.csv."""
    folder.mkdir()
    with PatternDataset(tiny_dataset) as ds:
        rows = ds.indices("test")[:n] if len(ds.indices("test")) >= n else np.arange(n)
        patterns = ds.read_patterns(rows)
        sg = ds.space_group[ds.structure_index[rows]]
        grid = ds.two_theta_deg
    lines = ["file,space_group"]
    for i, (p, g) in enumerate(zip(patterns, sg)):
        name = f"scan_{i}.xy"
        np.savetxt(folder / name, np.column_stack([grid, 1000 * p + 5]), header="2theta intensity, Cu Ka1 1.5406")
        lines.append(f"{name},{g}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return sg


def test_measured_validation_is_logged_each_epoch_and_picks_the_checkpoint(tiny_dataset, tmp_path):
    labels = _measured_folder(tiny_dataset, tmp_path / "measured")
    config = TrainConfig(seed=0, data=DataConfig(batch_size=16),
                         cnn=CNNConfig(channels=(8, 8), hidden=16, position_bins=8),
                         trainer=TrainerConfig(max_epochs=3, early_stopping_patience=0, progress_bar=False,
                                               monitor="val_real_cs_acc", real_validation=str(tmp_path / "measured")))
    run = train(config, tiny_dataset, tmp_path / "run")
    history = run["real_validation"]
    assert [h["epoch"] for h in history] == [0, 1, 2]
    for h in history:
        assert 0.0 <= h["val_real_cs_bal"] <= 1.0 and 0.0 <= h["val_real_cs_acc"] <= 1.0
    best = max(h["val_real_cs_acc"] for h in history)
    assert run["best_score"] == __import__("pytest").approx(best, abs=1e-6)
    # the kept checkpoint scores what the log says on the same files, recomputed here by hand
    from xrdnet.compare import load_labelled_patterns

    model = CNNClassifier.from_checkpoint(tmp_path / "run" / "model.ckpt")
    real = load_labelled_patterns(tmp_path / "measured", np.asarray(model.hparams["two_theta_deg"]), 1.5406)
    assert np.array_equal(real["space_group"], labels)
    _, _, cs_pred, _ = model.predict_patterns(__import__("torch").from_numpy(real["patterns"]))
    assert float(np.mean(cs_pred.numpy() == real["crystal_system"])) == __import__("pytest").approx(best, abs=1e-6)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["monitor"] == "val_real_cs_acc"

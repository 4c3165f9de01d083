"""Search-match as a model kind: ``xrdnet train --model search_match``, loaded and compared like any run."""

from __future__ import annotations

import json
import shutil

import numpy as np


def test_search_match_trains_loads_and_predicts_like_any_run(tiny_dataset, tmp_path):
    from xrdnet.data import PatternDataset
    from xrdnet.data.datamodule import DataConfig
    from xrdnet.models.runs import load_run
    from xrdnet.train import TrainConfig, train

    data = tmp_path / "tiny.h5"
    shutil.copy(tiny_dataset, data)
    run = train(TrainConfig(model="search_match", data=DataConfig(split_kind="structure")), data, tmp_path / "sm")
    assert run["kind"] == "search_match" and (tmp_path / "sm" / "library.npz").is_file()
    with PatternDataset(data) as ds:
        train_rows, test_rows = ds.indices("train", "structure"), ds.indices("test", "structure")
        assert run["n_reference_structures"] == len(np.unique(ds.structure_index[train_rows]))
        patterns, grid = ds.read_patterns(train_rows), ds.two_theta_deg
        sg_true = ds.pattern_space_group()[train_rows]
        test_patterns = ds.read_patterns(test_rows)
    loaded = load_run(tmp_path / "sm")
    assert loaded.kind == "search_match" and loaded.wavelength_angstrom == run["wavelength_angstrom"]
    pred = loaded.predict(patterns, grid, loaded.wavelength_angstrom)
    assert pred.cs_proba.shape == (len(patterns), 7) and pred.sg_proba.shape == (len(patterns), 230)
    assert np.allclose(pred.cs_proba.sum(axis=1), 1) and np.allclose(pred.sg_proba.sum(axis=1), 1)
    # the training structures' own noisy patterns: their space group is found nearly always
    assert np.mean(pred.sg_pred == sg_true) >= 0.8
    test = loaded.predict(test_patterns, grid, loaded.wavelength_angstrom)
    assert test.cs_pred.shape == (len(test_patterns),)
    saved = json.loads((tmp_path / "sm" / "run.json").read_text())
    assert saved["val_metrics"] == {} or 0 <= saved["val_metrics"]["cs_accuracy"] <= 1

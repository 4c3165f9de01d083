"""Forest baseline: full-width probabilities, a tiny fit, save/load round trip, both feature sets, config checks."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from xrdnet.config import ConfigError, config_from_dict, load_config, recorded_path
from xrdnet.models.forest import ForestConfig, ForestModel
from xrdnet.peak_finder import PeakFinderConfig

CU_KA = 1.54184
GRID = np.round(np.arange(10.0, 60.0 + 0.01, 0.02), 6)  # 2501 points: small and fast
# (crystal system, space group, peak positions in degrees 2θ) of three made-up classes.
CLASSES = (
    (6, 225, (15.0, 25.0, 35.0)),
    (3, 139, (14.0, 20.0, 28.0, 33.0, 41.0)),
    (1, 14, (12.0, 17.0, 22.0, 26.0, 31.0, 38.0, 44.0, 52.0)),
)
TINY = dict(cs_n_estimators=15, sg_n_estimators=15, n_jobs=1)


def synthetic(n_per_class: int = 40, seed: int = 0):
    """``patterns [P, G]``, ``crystal_system [P]``, ``space_group [P]``: class-specific peak sets, jittered."""
    rng = np.random.default_rng(seed)
    patterns, cs, sg = [], [], []
    for system, group, centres in CLASSES:
        for _ in range(n_per_class):
            positions = np.asarray(centres) * rng.uniform(0.98, 1.02)  # a lattice-parameter-like scale
            heights = rng.uniform(0.2, 1.0, len(centres))
            y = (heights[:, None] * np.exp(-0.5 * ((GRID[None] - positions[:, None]) / 0.05) ** 2)).sum(0)
            patterns.append(y / y.max())
            cs.append(system)
            sg.append(group)
    return np.asarray(patterns, np.float32), np.asarray(cs), np.asarray(sg)


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.fixture(scope="module")
def fitted(data):
    patterns, cs, sg = data
    return ForestModel(ForestConfig(**TINY)).fit(patterns, GRID, CU_KA, cs, sg)


def test_probabilities_are_full_width_and_sum_to_one(data, fitted):
    patterns, cs, sg = data
    cs_p, sg_p = fitted.predict_proba(patterns, GRID, CU_KA)
    assert cs_p.shape == (len(patterns), 7) and sg_p.shape == (len(patterns), 230)
    assert np.allclose(cs_p.sum(1), 1.0) and np.allclose(sg_p.sum(1), 1.0)
    unseen_cs = np.setdiff1d(np.arange(7), cs)
    unseen_sg = np.setdiff1d(np.arange(1, 231), sg)
    assert np.all(cs_p[:, unseen_cs] == 0) and np.all(sg_p[:, unseen_sg - 1] == 0)
    cs_pred, sg_pred = fitted.predict(patterns, GRID, CU_KA)
    assert np.array_equal(sg_pred, sg_p.argmax(1) + 1) and np.array_equal(cs_pred, cs_p.argmax(1))
    assert np.mean(cs_pred == cs) > 0.95 and np.mean(sg_pred == sg) > 0.95
    assert fitted.fit_seconds > 0 and fitted.n_features_ == 11 and fitted.feature_names_[-1] == "n_peaks"
    # Held-out patterns of the same classes are easy too (the features carry the signal).
    test, cs_test, _ = synthetic(10, seed=1)
    assert np.mean(fitted.predict(test, GRID, CU_KA)[0] == cs_test) > 0.9
    empty = fitted.predict_proba(np.zeros((0, len(GRID))), GRID, CU_KA)
    assert empty[0].shape == (0, 7) and empty[1].shape == (0, 230)


def test_save_load_round_trip(data, fitted, tmp_path):
    patterns = data[0]
    path = fitted.save(tmp_path / "run")
    assert path.name == "forest.skops" and (tmp_path / "run" / "forest_config.yaml").is_file()
    assert load_config(tmp_path / "run" / "forest_config.yaml", ForestConfig) == fitted.config
    loaded = ForestModel.load(tmp_path / "run")
    assert loaded.config == fitted.config and loaded.fit_seconds == fitted.fit_seconds
    for a, b in zip(fitted.predict_proba(patterns, GRID, CU_KA), loaded.predict_proba(patterns, GRID, CU_KA)):
        assert np.array_equal(a, b)
    with pytest.raises(FileNotFoundError):
        ForestModel.load(tmp_path / "nowhere")


def test_profile_features_and_random_forest(data):
    patterns, cs, sg = data
    config = ForestConfig(kind="random_forest", features="profile", profile_factor=10, **TINY)
    model = ForestModel(config).fit(patterns, GRID, CU_KA, cs, sg)
    assert model.n_features_ == 251 and model.cs_classifier_.max_features == "sqrt"
    cs_p, sg_p = model.predict_proba(patterns, GRID, CU_KA)
    assert cs_p.shape == (len(patterns), 7) and sg_p.shape == (len(patterns), 230)
    assert np.mean(model.predict(patterns, GRID, CU_KA)[1] == sg) > 0.95
    # Another grid (half the points, a wider range) is mapped onto the training grid first.
    other = np.round(np.arange(5.0, 70.0, 0.04), 6)
    moved = np.stack([np.interp(other, GRID, p, left=0, right=0) for p in patterns])
    assert np.mean(model.predict(moved, other, CU_KA)[0] == cs) > 0.9
    # ... and so is another wavelength (same Q, different 2θ).
    mo_ka = 0.7107
    two_theta_mo = 2 * np.rad2deg(np.arcsin(np.sin(np.deg2rad(GRID / 2)) * mo_ka / CU_KA))
    assert np.mean(model.predict(patterns, two_theta_mo, mo_ka)[0] == cs) > 0.9


def test_max_features_defaults_follow_the_feature_set():
    suzuki = ForestConfig()
    assert suzuki.resolved_max_features("cs") == 9 and suzuki.resolved_max_features("sg") == 9
    assert ForestConfig(n_peaks=5).resolved_max_features("cs", n_features=6) == 6  # capped
    assert ForestConfig(features="profile").resolved_max_features("sg") == "sqrt"
    assert ForestConfig(features="profile", cs_max_features=9).resolved_max_features("cs") == 9
    assert ForestConfig(cs_max_features=0.5).resolved_max_features("cs") == 0.5


def test_config_from_yaml_dict_and_bad_values():
    config = config_from_dict(ForestConfig, {"kind": "random_forest", "sg_max_depth": None,
                                             "cs_max_features": "log2", "peak_finder": {"min_height": 0.02}})
    assert config.sg_max_depth is None and config.cs_max_features == "log2"
    assert config.peak_finder == PeakFinderConfig(min_height=0.02)
    for bad in ({"kind": "boosting"}, {"features": "peaks"}, {"n_peaks": 0}, {"profile_factor": -1},
                {"cs_n_estimators": 0}, {"sg_max_depth": 0}, {"cs_max_features": 0},
                {"sg_max_features": 1.5}, {"cs_max_features": "all"}, {"n_jobs": 0}, {"seed": -1},
                {"cs_n_estimators": True}):
        with pytest.raises(ValueError):
            ForestConfig(**bad)
    with pytest.raises(ConfigError):
        config_from_dict(ForestConfig, {"n_trees": 10})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ForestConfig().kind = "random_forest"


def test_bad_inputs_raise(data):
    patterns, cs, sg = data
    model = ForestModel(ForestConfig(**TINY))
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict_proba(patterns, GRID, CU_KA)
    with pytest.raises(ValueError, match="space_group"):
        model.fit(patterns, GRID, CU_KA, cs, np.zeros_like(sg))
    with pytest.raises(ValueError, match="crystal_system"):
        model.fit(patterns, GRID, CU_KA, cs[:-1], sg)
    with pytest.raises(TypeError):
        ForestModel({"kind": "extra_trees"})


def test_forest_file_records_version_and_training_data(tiny_dataset, tmp_path):
    """``xrdnet train --model forest`` stores the xrdnet version and the data provenance in forest.skops."""
    from xrdnet import __version__
    from xrdnet.models.forest import ForestConfig, ForestModel
    from xrdnet.train import TrainConfig, train

    run = train(TrainConfig(model="forest", forest=ForestConfig(cs_n_estimators=5, sg_n_estimators=5, n_jobs=1)),
                tiny_dataset, tmp_path / "et")
    model = ForestModel.load(tmp_path / "et")
    assert model.xrdnet_version == __version__
    prov = model.provenance
    # The record names the file relative to where the command ran, never by this machine's absolute path.
    assert prov["data_file"] == recorded_path(tiny_dataset) and not os.path.isabs(prov["data_file"])
    assert prov["n_train"] == run["n_train"]
    assert prov["split_kind"] == "structure" and prov["n_patterns"] > prov["n_train"]
    assert prov["data_attrs"]["source"] == "synthetic" and len(prov["data_config_sha256"]) == 64


def test_indexing_feature_sets_fit_save_and_load(tmp_path):
    """``indexing`` (the best cell of each family) and ``suzuki_indexing`` (both peak sets side by side)."""
    from xrdnet.indexing.features import indexing_feature_specs

    patterns, cs, sg = synthetic(n_per_class=6, seed=3)
    n_indexing = len(indexing_feature_specs())
    for features, n_features in (("indexing", n_indexing), ("suzuki_indexing", 11 + n_indexing)):
        model = ForestModel(ForestConfig(features=features, **TINY)).fit(patterns, GRID, CU_KA, cs, sg)
        assert model.n_features_ == n_features == len(model.feature_names_)
        assert model.cs_classifier_.max_features == 9  # Suzuki's setting for the small peak sets
        cs_p, _ = model.predict_proba(patterns, GRID, CU_KA)
        assert cs_p.shape == (len(patterns), 7) and np.allclose(cs_p.sum(axis=1), 1.0)
    model.save(tmp_path / "forest")
    again = ForestModel.load(tmp_path / "forest")
    np.testing.assert_array_equal(again.predict_proba(patterns, GRID, CU_KA)[0], cs_p)
    assert ForestConfig(features="suzuki_indexing").resolved_max_features("cs") == 9


def test_the_seed_flag_reaches_a_forest(tiny_dataset, tmp_path):
    """``xrdnet train --seed`` is the forest's random_state (it used to change nothing in a forest run)."""
    from xrdnet.cli import main

    config = tmp_path / "forest.yaml"
    config.write_text("model: forest\nforest: {cs_n_estimators: 4, sg_n_estimators: 4, n_jobs: 1}\n")
    runs = {}
    for seed in (0, 3):
        out = tmp_path / f"s{seed}"
        assert main(["train", "--config", str(config), "--data", str(tiny_dataset), "--out", str(out),
                     "--seed", str(seed)]) == 0
        runs[seed] = ForestModel.load(out)
    assert runs[3].config.seed == 3 and runs[3].cs_classifier_.random_state == 3
    assert runs[0].cs_classifier_.random_state == 0


def test_a_forest_trains_on_scan_range_crops_when_coverage_is_on(tiny_dataset, tmp_path):
    """``data.coverage`` crops a forest's stored training patterns with the network's own draws (no ``fresh``
    needed), zero outside each drawn range and renormalised; the network still needs ``fresh`` for it."""
    from xrdnet.data.datamodule import DataConfig
    from xrdnet.data.reader import PatternDataset
    from xrdnet.models.forest_run import crop_training_patterns
    from xrdnet.simulate.coverage import CoverageConfig
    from xrdnet.train import TrainConfig, train

    coverage = CoverageConfig(0.0, (20.0, 25.0), (50.0, 55.0))  # every pattern cropped
    with PatternDataset(tiny_dataset) as ds:
        rows = np.arange(6)
        patterns, grid = ds.read_patterns(rows), ds.two_theta_deg
    cut = crop_training_patterns(patterns, rows, grid, coverage, seed=0)
    assert crop_training_patterns(patterns, rows, grid, CoverageConfig(), seed=0) is patterns
    for row in cut:
        inside = np.flatnonzero(row > 0)
        assert grid[inside[0]] >= 20.0 and grid[inside[-1]] <= 55.0 and row.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(cut, crop_training_patterns(patterns, rows, grid, coverage, seed=0))
    assert not np.array_equal(cut, crop_training_patterns(patterns, rows, grid, coverage, seed=1))
    data = DataConfig(coverage=coverage)
    forest = ForestConfig(cs_n_estimators=4, sg_n_estimators=4, n_jobs=1)
    whole = train(TrainConfig(model="forest", forest=forest), tiny_dataset, tmp_path / "whole")
    cropped = train(TrainConfig(model="forest", forest=forest, data=data), tiny_dataset, tmp_path / "cropped")
    assert cropped["n_train"] == whole["n_train"]
    assert not np.array_equal(ForestModel.load(tmp_path / "whole").cs_classifier_.estimators_[0].tree_.threshold,
                              ForestModel.load(tmp_path / "cropped").cs_classifier_.estimators_[0].tree_.threshold)
    with pytest.raises(ValueError, match="data.fresh"):
        TrainConfig(model="cnn", data=data)


def test_a_fresh_forest_trains_on_patterns_rendered_with_the_training_profile(tiny_dataset, tmp_path):
    """``data.fresh`` renders each training row's pattern anew from the cached sticks with the training profile
    (``profile_overrides`` included), the network's renderer and draw ids: a different forest from the stored
    patterns', the same one again for the same seed, and the overrides reach the rendered lines."""
    import shutil

    from xrdnet.data.datamodule import DataConfig
    from xrdnet.data.reader import PatternDataset
    from xrdnet.models.forest_run import FreshTrainingPatterns, StoredTrainingPatterns
    from xrdnet.train import TrainConfig, train

    data_path = tmp_path / "tiny.h5"  # a private copy: the stick cache is written beside it
    shutil.copy(tiny_dataset, data_path)
    with PatternDataset(data_path) as ds:
        rows = ds.indices("train", "structure")[:8]
        stored = StoredTrainingPatterns(DataConfig())(ds, rows, 0, len(rows))
        broad = FreshTrainingPatterns(data_path, ds, DataConfig(fresh=True), rows)(ds, rows, 0, len(rows))
        again = FreshTrainingPatterns(data_path, ds, DataConfig(fresh=True), rows)(ds, rows, 0, len(rows))
        sharp_data = DataConfig(fresh=True, profile_overrides={"crystallite_size_nm": [5000.0, 5000.0],
                                                                "caglioti_w_deg2": [0.0004, 0.0004],
                                                                "caglioti_u_deg2": [0.0, 0.0],
                                                                "caglioti_v_deg2": [0.0, 0.0]})
        sharp = FreshTrainingPatterns(data_path, ds, sharp_data, rows)(ds, rows, 0, len(rows))
    assert stored.shape == broad.shape == sharp.shape
    np.testing.assert_array_equal(broad, again)
    assert not np.allclose(broad, stored, atol=1e-3)  # new draws, not the stored patterns
    np.testing.assert_allclose(broad.max(axis=1), 1.0, atol=1e-5)
    # Narrower lines: less area under a pattern scaled to its strongest point, pattern by pattern.
    assert np.all(sharp.sum(axis=1) < broad.sum(axis=1))
    forest = ForestConfig(cs_n_estimators=4, sg_n_estimators=4, n_jobs=1)
    fresh = train(TrainConfig(model="forest", forest=forest, data=DataConfig(fresh=True)), data_path, tmp_path / "f")
    plain = train(TrainConfig(model="forest", forest=forest), data_path, tmp_path / "p")
    assert fresh["n_train"] == plain["n_train"]
    assert not np.array_equal(ForestModel.load(tmp_path / "f").cs_classifier_.estimators_[0].tree_.threshold,
                              ForestModel.load(tmp_path / "p").cs_classifier_.estimators_[0].tree_.threshold)

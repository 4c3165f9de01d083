"""The likely-mixture detector: the mixture maker, training on tiny synthetic data, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.mixture import (MixtureConfig, draw_fractions, fit, load_mixture_detector, make_mixtures, mixture_dir,
                            pool_patterns, roc_auc, threshold_for_fpr)

G = 800


def synthetic_phases(n: int, seed: int, n_points: int = G) -> np.ndarray:
    """``n`` single-phase-like patterns: 3-6 Gaussian peaks on a small background, max = 1."""
    rng = np.random.default_rng(seed)
    x = np.arange(n_points, dtype=np.float64)
    out = np.zeros((n, n_points))
    for i in range(n):
        k = rng.integers(3, 7)
        centres = rng.uniform(20, n_points - 20, k)
        heights = rng.uniform(0.2, 1.0, k)
        out[i] = (heights[:, None] * np.exp(-0.5 * ((x[None] - centres[:, None]) / 2.5) ** 2)).sum(0)
        out[i] += 0.02 + 0.005 * rng.standard_normal(n_points)
    out = np.clip(out, 0, None)
    return (out / out.max(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def phases():
    return synthetic_phases(120, 0)


def test_mixtures_fractions_members_and_scale(phases):
    compound = np.arange(len(phases)) // 2  # two patterns per compound
    m = make_mixtures(phases, compound, 500, seed=3, min_fraction=0.2)
    assert m.patterns.shape == (500, G) and m.patterns.dtype == np.float32
    np.testing.assert_allclose(m.fractions.sum(axis=1), 1.0, atol=1e-12)
    assert set(np.unique(m.n_phases)) == {2, 3}
    for row, k in zip(range(500), m.n_phases):
        used = m.members[row, :k]
        assert (m.members[row, k:] == -1).all() and (m.fractions[row, k:] == 0).all()
        assert (m.fractions[row, :k] >= 0.2).all()
        assert len(set(compound[used].tolist())) == k  # different compounds
    np.testing.assert_allclose(m.patterns.max(axis=1), 1.0, rtol=1e-6)
    # the mix is the fraction-weighted sum, rescaled to max 1
    row = 7
    k = m.n_phases[row]
    expected = (m.fractions[row, :k, None] * phases[m.members[row, :k]]).sum(0)
    np.testing.assert_allclose(m.patterns[row], expected / expected.max(), rtol=1e-5, atol=1e-6)


def test_mixtures_are_seeded(phases):
    compound = np.arange(len(phases))
    a = make_mixtures(phases, compound, 50, seed=11)
    b = make_mixtures(phases, compound, 50, seed=11)
    c = make_mixtures(phases, compound, 50, seed=12)
    np.testing.assert_array_equal(a.patterns, b.patterns)
    np.testing.assert_array_equal(a.members, b.members)
    np.testing.assert_array_equal(a.fractions, b.fractions)
    assert not np.array_equal(a.members, c.members)


def test_mixtures_need_enough_compounds(phases):
    with pytest.raises(ValueError):
        make_mixtures(phases[:4], np.array(["A", "A", "B", "B"]), 10, seed=0, phase_probabilities=(0.0, 1.0))
    with pytest.raises(ValueError):
        draw_fractions(np.random.default_rng(0), 5, 3, min_fraction=0.4)


def test_pool_keeps_peak_heights():
    x = np.zeros((2, 17), np.float32)
    x[0, 5], x[1, 16] = 1.0, 0.5
    pooled = pool_patterns(x, 8)
    assert pooled.shape == (2, 3)
    assert pooled[0, 0] == 1.0 and pooled[1, 2] == 0.5


def test_threshold_and_auroc():
    neg = np.linspace(0, 1, 101)
    t = threshold_for_fpr(neg, 0.10)
    assert np.mean(neg >= t) <= 0.10 and np.mean(neg >= t) >= 0.09
    assert roc_auc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert roc_auc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    a, b = rng.random(50), rng.random(40) + 0.2
    assert roc_auc(a, b) == pytest.approx(roc_auc_score(np.r_[np.zeros(50), np.ones(40)], np.r_[a, b]))


@pytest.fixture(scope="module")
def trained(phases):
    compound = np.arange(len(phases))
    val = synthetic_phases(80, 1)
    val_mix = make_mixtures(val, np.arange(len(val)), 80, seed=5).patterns
    config = MixtureConfig(channels=(8, 12, 16), kernel_size=5, hidden=32, steps=250, batch_size=32,
                           truncate_probability=0.0, noise_probability=0.0)
    return fit(phases, compound, val, val_mix, config, seed=0, threads=1, log=None)


def test_detector_separates_synthetic_mixtures(trained):
    test = synthetic_phases(80, 2)
    mix = make_mixtures(test, np.arange(len(test)), 80, seed=9).patterns
    p_single, p_mix = trained.mixture_probability(test), trained.mixture_probability(mix)
    assert p_single.shape == (80,) and p_mix.shape == (80,)
    assert ((0 <= p_single) & (p_single <= 1)).all()
    assert roc_auc(p_single, p_mix) > 0.9
    assert trained.record["val"]["fpr"] <= 0.1 + 1e-9
    assert np.mean(p_mix >= trained.threshold) > np.mean(p_single >= trained.threshold)


def test_save_load_round_trip(trained, tmp_path):
    x = np.concatenate([synthetic_phases(10, 3), make_mixtures(synthetic_phases(20, 4), np.arange(20), 10, 1).patterns])
    trained.save(mixture_dir(tmp_path))
    loaded = load_mixture_detector(tmp_path)  # the checkpoint folder
    assert loaded is not None and loaded.threshold == trained.threshold
    np.testing.assert_array_equal(loaded.mixture_probability(x), trained.mixture_probability(x))
    again = load_mixture_detector(mixture_dir(tmp_path))  # or the mixture folder itself
    np.testing.assert_array_equal(again.mixture_probability(x), trained.mixture_probability(x))
    with pytest.raises(ValueError):
        loaded.mixture_probability(np.zeros((2, G + 1), np.float32))


def test_load_returns_none_without_detector(tmp_path):
    assert load_mixture_detector(tmp_path) is None
    (tmp_path / "mixture").mkdir()
    assert load_mixture_detector(tmp_path) is None


def test_the_recipe_file_loads_and_its_schedule_reproduces_a_detector(tiny_dataset, tmp_path):
    """configs/mixture.yaml is a MixtureRecipe; training by its step schedule on specimens rendered from
    cached sticks gives the same weights twice, a time limit that never fires changes nothing, and two legs
    give the weights of one run."""
    from pathlib import Path

    import torch

    from xrdnet.config import load_config
    from xrdnet.data import PatternDataset
    from xrdnet.data.specimen_batches import SpecimenBatches
    from xrdnet.data.splits import compound_key
    from xrdnet.mixture import MixtureRecipe

    recipe = load_config(Path(__file__).resolve().parents[1] / "configs" / "mixture.yaml", MixtureRecipe)
    assert recipe.material == "specimens" and recipe.time_limit_s is None
    assert recipe.detector == MixtureConfig(batch_size=64)  # the file states every default it relies on
    with PatternDataset(tiny_dataset) as ds:
        keys = np.array([compound_key(f) for f in ds.formula])
    rows = np.arange(len(keys))
    config = MixtureConfig(channels=(8, 8, 8), kernel_size=5, hidden=16, steps=4, batch_size=8, pool=4,
                           noise_probability=0.0)
    source = SpecimenBatches(tiny_dataset, rows, keys[rows], batch_size=8, seed=1, pool=4)
    val = SpecimenBatches(tiny_dataset, rows, keys[rows], batch_size=16, seed=1, first_id=1 << 50)
    patterns, label = val.patterns(0)
    singles, mixtures = patterns[label == 0], patterns[label == 1]
    runs = [fit(None, None, singles, mixtures, config, seed=3, threads=1, log=None, batch_source=source,
                time_limit_s=limit) for limit in (None, 1e9, None)]
    for run in runs[1:]:
        for a, b in zip(runs[0].net.state_dict().values(), run.net.state_dict().values()):
            assert torch.equal(a, b)
    assert runs[0].record["steps_done"] == runs[0].record["steps_scheduled"] == 4
    assert not runs[0].record["stopped_by_time_limit"]
    # legs: a run ended at step 2 (state saved) and resumed gives the weights of the uninterrupted run,
    # with the prefetching process as the script uses it
    state = tmp_path / "leg_state.pt"
    leg = fit(None, None, singles, mixtures, config, seed=3, threads=1, log=None, batch_source=source,
              state_file=state, stop_at_step=2, prefetch_process=True)
    assert leg is None and state.is_file()
    resumed = fit(None, None, singles, mixtures, config, seed=3, threads=1, log=None, batch_source=source,
                  state_file=state, prefetch_process=True)
    assert resumed.record["legs"] == 2 and resumed.record["steps_done"] == 4
    for a, b in zip(runs[0].net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.threshold == runs[0].threshold
    # a leg is never resumed under another recipe
    fit(None, None, singles, mixtures, config, seed=3, threads=1, log=None, batch_source=source,
        state_file=state, stop_at_step=1)
    with pytest.raises(ValueError, match="another detector config or seed"):
        fit(None, None, singles, mixtures, config, seed=4, threads=1, log=None, batch_source=source, state_file=state)


def test_the_shipped_detector_was_trained_from_the_recipe_file():
    """The detector in the shipped checkpoint records the recipe it was trained from: configs/mixture.yaml as
    it stands (the script renders counting noise with the specimens, so the batch noise is off)."""
    from dataclasses import replace
    from pathlib import Path

    from xrdnet.checkpoint.registry import shipped_path
    from xrdnet.config import config_to_dict, load_config
    from xrdnet.mixture import MixtureRecipe

    recipe = load_config(Path(__file__).resolve().parents[1] / "configs" / "mixture.yaml", MixtureRecipe)
    detector = load_mixture_detector(shipped_path("xrdnet-cnn-real"))
    assert detector.record["recipe"] == config_to_dict(recipe)
    assert detector.config == replace(recipe.detector, noise_probability=0.0)
    assert detector.record["steps_done"] == recipe.detector.steps and not detector.record["stopped_by_time_limit"]
    assert detector.record["training_material"].endswith("render_specimens")

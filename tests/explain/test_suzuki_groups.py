"""The Suzuki experiment's folds grouped by compound, and the stability of its threshold over folds."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.explain.suzuki import SuzukiConfig, balanced_sample, suzuki_experiment, suzuki_to_markdown
from xrdnet.features import interpretable_feature_specs


def _compounds_with_copies(seed: int = 0):
    """300 compounds × 4 patterns; cubic compounds have few peaks; each compound's copies have
    nearly the same peak count, so a fold that shares compounds with training is flattered."""
    rng = np.random.default_rng(seed)
    specs = interpretable_feature_specs(10)
    col = [s.name for s in specs].index("n_peaks")
    n_compounds, copies = 300, 4
    cubic = rng.random(n_compounds) < 0.4
    base = np.where(cubic, rng.integers(8, 40, n_compounds), rng.integers(20, 80, n_compounds))
    X = rng.uniform(1, 5, (n_compounds * copies, len(specs)))
    X[:, col] = np.repeat(base, copies) + rng.integers(-1, 2, n_compounds * copies)
    cs = np.repeat(np.where(cubic, 6, 1), copies)
    groups = np.repeat([f"C{i}" for i in range(n_compounds)], copies).astype(object)
    return X, specs, cs, groups, col


def test_folds_keep_each_compound_together_and_report_threshold_spread():
    X, specs, cs, groups, col = _compounds_with_copies()
    config = SuzukiConfig(depths=(1,), feature_sets=("suzuki",), n_folds=5)
    grouped = suzuki_experiment(X, specs, cs, config, groups=groups)
    assert grouped["folds_grouped_by"] == "compound"
    e = grouped["experiments"][0]
    st = e["threshold_stability"]
    assert st["feature"] == "n_peaks" and st["folds_with_same_root_feature"] == 5
    thresholds = [r["threshold"] for r in e["fold_roots"]]
    assert st["threshold_mean"] == pytest.approx(np.mean(thresholds))
    assert st["threshold_min"] == min(thresholds) and st["threshold_max"] == max(thresholds)
    # The grouped folds: no compound on both sides of any fold (recomputed with the same splitter).
    from sklearn.model_selection import StratifiedGroupKFold

    rows = balanced_sample(cs, config.seed)
    y = (cs[rows] == 6).astype(int)
    for train, test in StratifiedGroupKFold(5, shuffle=True, random_state=config.seed).split(X[rows], y, groups[rows]):
        assert not set(groups[rows][train]) & set(groups[rows][test])
    md = suzuki_to_markdown(grouped)
    assert "grouped by compound" in md and "83.1%" in md  # the published figure stands beside ours
    # Without groups the folds are plain stratified ones and say so.
    plain = suzuki_experiment(X, specs, cs, config)
    assert plain["folds_grouped_by"] is None


def test_too_few_groups_fall_back_to_plain_folds():
    X, specs, cs, groups, _ = _compounds_with_copies()
    few = np.where(np.arange(len(cs)) % 2 == 0, "A", "B").astype(object)
    result = suzuki_experiment(X, specs, cs, SuzukiConfig(depths=(1,), feature_sets=("suzuki",)), groups=few)
    assert result["folds_grouped_by"] is None
    with pytest.raises(ValueError, match="groups"):
        suzuki_experiment(X, specs, cs, SuzukiConfig(depths=(1,)), groups=groups[:10])

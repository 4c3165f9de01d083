"""The Suzuki et al. experiment on synthetic features where cubic means few peaks."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.explain.suzuki import SuzukiConfig, balanced_sample, feature_columns, suzuki_experiment, suzuki_to_markdown
from xrdnet.features import interpretable_feature_specs


def test_finds_the_peak_count_threshold_with_cross_validated_accuracy():
    rng = np.random.default_rng(0)
    specs = interpretable_feature_specs(10)
    n = 3000
    X = rng.uniform(1, 5, (n, len(specs)))
    col = [s.name for s in specs].index("n_peaks")
    cs = rng.integers(0, 6, n)  # non-cubic systems 0..5
    cubic = rng.random(n) < 0.2
    cs[cubic] = 6
    X[:, col] = np.where(cubic, rng.integers(5, 29, n), rng.integers(29, 80, n))  # cubic ⇔ ≤ 28 peaks
    noisy = rng.choice(n, 60, replace=False)
    X[noisy, col] = rng.integers(5, 80, 60)
    result = suzuki_experiment(X, specs, cs, SuzukiConfig(feature_sets=("suzuki",)))
    assert result["n_per_class"] == int(cubic.sum()) and result["n_folds"] == 10
    depth1 = result["experiments"][0]
    assert depth1["depth"] == 1 and depth1["root"]["feature"] == "n_peaks"
    assert 26 <= depth1["root"]["threshold"] <= 31
    assert depth1["root"]["text"] == f"number of peaks ≤ {int(depth1['root']['threshold'])}"
    assert depth1["cv_accuracy_mean"] > 0.95 and len(depth1["fold_accuracies"]) == 10
    assert all(r["feature"] == "n_peaks" for r in depth1["fold_roots"])
    assert any(r.endswith("→ cubic" + r[r.index(" (accuracy"):]) and "number of peaks ≤" in r for r in depth1["rules"])
    # The accuracy is computed, not quoted: the mean of the fold accuracies, and within a couple of
    # points of what the found threshold scores on the balanced sample itself (computed here).
    assert depth1["cv_accuracy_mean"] == pytest.approx(np.mean(depth1["fold_accuracies"]))
    rows = balanced_sample(cs, seed=result["seed"])
    rule_says_cubic = X[rows, col] <= depth1["root"]["threshold"]
    assert depth1["cv_accuracy_mean"] == pytest.approx(np.mean(rule_says_cubic == (cs[rows] == 6)), abs=0.02)
    md = suzuki_to_markdown(result)
    assert f"{depth1['cv_accuracy_mean']:.1%} ± {depth1['cv_accuracy_std']:.1%}" in md
    assert f"({depth1['root']['threshold']:g})" in md and "number of peaks ≤" in md


def test_balanced_sample_and_errors():
    cs = np.array([6] * 5 + [1] * 20)
    rows = balanced_sample(cs, seed=1)
    assert np.sum(cs[rows] == 6) == 5 and np.sum(cs[rows] != 6) == 5
    assert np.array_equal(rows, balanced_sample(cs, seed=1))
    specs = interpretable_feature_specs(3)
    assert [specs[j].name for j in feature_columns(specs, "suzuki")] == \
        ["q1_inv_angstrom", "q2_inv_angstrom", "q3_inv_angstrom", "n_peaks"]
    with pytest.raises(ValueError, match="at least 2 cubic"):
        suzuki_experiment(np.zeros((4, len(specs))), specs, np.array([6, 0, 0, 0]))
    with pytest.raises(ValueError, match="n_folds"):
        SuzukiConfig(n_folds=1)

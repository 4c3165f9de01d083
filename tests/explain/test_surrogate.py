"""Surrogate fitting: fidelity against the model and accuracy against the truth, counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.explain.surrogate import (
    SplitData,
    agreement,
    class_names,
    depth_sweep,
    fit_surrogate,
    target_labels,
)
from xrdnet.features import interpretable_feature_specs

SPEC = {s.name: s for s in interpretable_feature_specs(10)}
SPECS = [SPEC["n_peaks"], SPEC["two_theta1_deg"], SPEC["q2_over_q1"]]


def synthetic(n, rng):
    """Columns n_peaks, 2θ₁, Q₂/Q₁ (SPECS order); the "model" says class 1 iff more than 20 peaks."""
    X = np.column_stack([rng.integers(2, 60, n).astype(float), rng.uniform(10, 40, n), rng.uniform(1, 2, n)])
    return X, (X[:, 0] > 20).astype(np.int64)


def test_fidelity_and_accuracy_of_a_known_labeling_match_a_hand_count():
    rng = np.random.default_rng(0)
    X_fit, y_fit = synthetic(400, rng)
    X_held, model_held = synthetic(200, rng)
    # The model disagrees with the rule on 13 held-out patterns; the truth is "more than 30 peaks".
    flipped = rng.choice(200, 13, replace=False)
    model_held[flipped] = 1 - model_held[flipped]
    truth_held = (X_held[:, 0] > 30).astype(np.int64)
    s = fit_surrogate("ovr:cubic", SplitData(X_fit, y_fit, y_fit), SplitData(X_held, model_held, truth_held),
                      SPECS, max_depth=1)
    t = s.tree.tree_
    assert SPECS[t.feature[0]].name == "n_peaks" and 20 <= t.threshold[0] < 21
    rule = (X_held[:, 0] > 20).astype(int)
    hand_fidelity = sum(int(r == m) for r, m in zip(rule, model_held)) / 200
    hand_accuracy = sum(int(r == y) for r, y in zip(rule, truth_held)) / 200
    assert hand_fidelity == pytest.approx(1 - 13 / 200)
    assert s.held_out["fidelity"] == pytest.approx(hand_fidelity)
    assert s.held_out["accuracy"] == pytest.approx(hand_accuracy)
    assert s.held_out["n"] == 200 and s.fit["fidelity"] == 1.0
    # Leaf statistics add up to the whole tree's.
    n_leaf = sum(v.n for v in s.leaves.values())
    agree = sum(v.n * v.fidelity for v in s.leaves.values())
    assert n_leaf == 200 and agree / 200 == pytest.approx(hand_fidelity)


def test_sweep_grows_with_depth_and_checks_inputs():
    rng = np.random.default_rng(1)
    X, _ = synthetic(300, rng)
    y = (X[:, 0] > 20).astype(int) + 2 * (X[:, 1] > 25)  # four classes need two splits
    data = SplitData(X, y, y)
    rows, trees = depth_sweep("crystal_system", data, data, SPECS, depths=[1, 2, 3])
    assert [r["depth"] for r in rows] == [1, 2, 3]
    assert rows[0]["leaves"] == 2 and rows[1]["fidelity"] == 1.0 and rows[0]["fidelity"] < 1.0
    assert set(trees) == {1, 2, 3}
    with pytest.raises(ValueError, match="max_depth"):
        fit_surrogate("cubic", data, data, SPECS, max_depth=0)
    with pytest.raises(ValueError, match="feature specs"):
        fit_surrogate("cubic", data, data, SPECS[:2], max_depth=1)
    with pytest.raises(ValueError, match="X contains inf"):
        SplitData(np.full((2, 3), np.inf), [0, 1], [0, 1])


def test_labels_and_names():
    cs, sg = np.array([6, 0, 6, 3]), np.array([225, 1, 221, 99])
    assert target_labels("cubic", cs, sg).tolist() == [1, 0, 1, 0]
    assert target_labels("space_group", cs, sg).tolist() == sg.tolist()
    assert class_names("cubic") == {0: "not cubic", 1: "cubic"}
    assert class_names("ovr:hexagonal")[1] == "hexagonal"
    assert class_names("space_group", [225])[225] == "Fm-3m (225)"
    assert agreement([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5
    with pytest.raises(ValueError, match="target"):
        target_labels("lattice", cs, sg)

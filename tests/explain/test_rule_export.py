"""Rule export: JSON round trip without sklearn, thresholds in physical units, text/LaTeX/Markdown/figure."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from xrdnet.explain.rule_figures import tree_figure
from xrdnet.explain.rule_text import (
    format_condition,
    one_line_rule,
    rule_text,
    rules_to_latex,
    rules_to_markdown,
    rules_to_text,
)
from xrdnet.explain.surrogate import SplitData, fit_surrogate
from xrdnet.explain.tree_json import (
    Condition,
    apply_tree_json,
    predict_patterns_with_tree_json,
    rule_covers,
    tree_rules,
    tree_to_json,
)
from xrdnet.features import FeatureSpec, interpretable_feature_specs, interpretable_features
from xrdnet.peak_finder import PeakFinderConfig

SPEC = {s.name: s for s in interpretable_feature_specs(10)}


def test_json_round_trip_gives_the_fitted_trees_predictions_including_nan():
    rng = np.random.default_rng(0)
    specs = [SPEC[n] for n in ("n_peaks", "two_theta1_deg", "q2_over_q1", "q5_over_q1", "d1_angstrom")]
    X = rng.normal(size=(600, 5)) * [10, 5, 0.3, 0.5, 1] + [25, 25, 1.5, 2.5, 3]
    X[:, 1:][rng.random((600, 4)) < 0.15] = np.nan  # missing peaks, seen in fitting (never a missing count)
    y = rng.integers(0, 4, 600) + 3 * (np.nan_to_num(X[:, 0]) > 25)
    tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y)
    names = {int(c): f"class {c}" for c in tree.classes_}
    doc = json.loads(json.dumps(tree_to_json(tree, specs, names, "test")))  # through text and back
    X_new = rng.normal(size=(2000, 5)) * [10, 5, 0.3, 0.5, 1] + [25, 25, 1.5, 2.5, 3]
    X_new[:, 1:][rng.random((2000, 4)) < 0.2] = np.nan
    # Values sitting exactly on, and a float32 step either side of, every threshold.
    t = tree.tree_
    inner = np.flatnonzero(t.children_left != -1)
    edge = X_new[: 3 * len(inner)].copy()
    for k, node in enumerate(np.repeat(inner, 3)):
        if not np.isfinite(t.threshold[node]):  # a present-vs-missing split: NaN and any value test it
            edge[k, t.feature[node]] = np.nan if k % 2 else 1e6
            continue
        at = np.float32(t.threshold[node])
        edge[k, t.feature[node]] = (np.nextafter(at, np.float32(-np.inf)), t.threshold[node],
                                    np.nextafter(at, np.float32(np.inf)))[k % 3]
    X_all = np.concatenate([X_new, edge])
    np.testing.assert_array_equal(apply_tree_json(doc, X_all), tree.predict(X_all))
    # A tree fitted without NaN still routes NaN as scikit-learn does.
    clean = DecisionTreeClassifier(max_depth=4, random_state=0).fit(np.nan_to_num(X), y)
    doc2 = tree_to_json(clean, specs, names, "clean")
    np.testing.assert_array_equal(apply_tree_json(doc2, X_new), clean.predict(X_new))
    assert json.dumps(doc, allow_nan=False)  # strict JSON: an inf threshold is written as null
    # The printed rules partition the space: each row is covered by exactly its leaf's rule.
    rules = tree_rules(doc)
    covers = np.stack([rule_covers(r, X_all) for r in rules], axis=1)
    assert np.all(covers.sum(axis=1) == 1)
    leaf_of_rule = np.array([r.leaf_id for r in rules])
    np.testing.assert_array_equal(leaf_of_rule[covers.argmax(axis=1)], tree.apply(X_all))
    text = rules_to_text(doc)
    assert "fewer than 0" not in text and "inf" not in text and "nan" not in text.lower()
    with pytest.raises(ValueError, match=r"\[P, 5\]"):
        apply_tree_json(doc, X_new[:, :4])
    with pytest.raises(ValueError, match="not an xrdnet surrogate tree"):
        apply_tree_json({"nodes": []}, X_new)


def test_json_applied_to_patterns_gives_the_same_predictions_as_the_tree():
    rng = np.random.default_rng(3)
    grid = np.arange(10.0, 70.0, 0.02)
    patterns = []
    for _ in range(40):
        centres = np.sort(rng.uniform(12, 68, rng.integers(2, 16)))
        patterns.append(sum(h * np.exp(-0.5 * ((grid - c) / 0.05) ** 2)
                            for c, h in zip(centres, rng.uniform(0.1, 1, len(centres)))))
    patterns = np.stack(patterns)
    config = PeakFinderConfig(smooth_points=0)
    X, specs = interpretable_features(patterns, grid, 1.5406, n_peaks=6, config=config)
    y = (X[:, [s.name for s in specs].index("n_peaks")] > 8).astype(int)
    s = fit_surrogate("cubic", SplitData(X, y, y), SplitData(X, y, y), specs, max_depth=3)
    from xrdnet.explain.tree_json import surrogate_to_json

    doc = surrogate_to_json(s, {"n_peaks": 6, "peak_finder": {"smooth_points": 0}})
    np.testing.assert_array_equal(predict_patterns_with_tree_json(doc, patterns, grid, 1.5406), s.tree.predict(X))
    np.testing.assert_array_equal(predict_patterns_with_tree_json(doc, patterns[5], grid, 1.5406),
                                  s.tree.predict(X[5:6]))


@pytest.mark.parametrize("name, lower, upper, expected", [
    ("n_peaks", None, 28.5, "number of peaks ≤ 28"),
    ("n_peaks", 28.5, None, "number of peaks > 28"),
    ("n_peaks", 5.5, 28.5, "5 < number of peaks ≤ 28"),
    ("n_peaks", 27.5, 28.5, "number of peaks = 28"),
    ("two_theta1_deg", None, 23.4149, "2θ₁ ≤ 23.41°"),
    ("d1_angstrom", 3.1234, None, "d₁ > 3.12 Å"),
    ("q1_inv_angstrom", None, 1.93391, "Q₁ ≤ 1.934 1/Å"),
    ("q2_over_q1", None, 1.15470, "Q₂/Q₁ ≤ 1.155"),
    ("q2_over_q1", 1.15461, 1.15479, "1.1546 < Q₂/Q₁ ≤ 1.1548"),  # more digits where 3 would tie
])
def test_thresholds_print_in_physical_units(name, lower, upper, expected):
    assert format_condition(Condition(SPEC[name], lower, upper, missing_ok=False)) == expected


def test_missing_peaks_and_latex_wording():
    assert format_condition(Condition(SPEC["q5_over_q1"], float("inf"), None, True)) == "fewer than 5 peaks"
    assert format_condition(Condition(SPEC["q5_over_q1"], None, None, False)) == "at least 5 peaks"
    c = Condition(SPEC["q5_over_q1"], None, 2.2361, missing_ok=True)
    assert format_condition(c) == "(Q₅/Q₁ ≤ 2.236 or fewer than 5 peaks)"
    assert format_condition(c, min_peaks=10) == "Q₅/Q₁ ≤ 2.236"  # the rule already demands 10 peaks
    latex = format_condition(Condition(SPEC["two_theta1_deg"], None, 23.4149, False), style="latex")
    assert latex == r"$2\theta_{1}$ $\leq$ 23.41$^\circ$"
    assert format_condition(Condition(SPEC["d1_angstrom"], 3.1234, None, False), style="latex") == \
        r"$d_{1}$ $>$ 3.12\,\AA"


def test_categorical_features_print_the_names_their_thresholds_keep():
    from xrdnet.indexing.features import indexing_feature_specs

    spec = {s.name: s for s in indexing_feature_specs()}
    system = spec["best_cell_system"]
    assert format_condition(Condition(system, 4.5, None, False)) == "best cell's system ∈ {hexagonal, cubic}"
    assert format_condition(Condition(system, 2.5, 3.5, False)) == "best cell's system = tetragonal"
    assert format_condition(Condition(system, None, 5.5, False)) == "best cell's system ≠ cubic"
    assert format_condition(Condition(system, None, 3.5, False)) == \
        "best cell's system ∉ {trigonal, hexagonal, cubic}"
    assert format_condition(Condition(system, 4.5, None, False), style="latex") == \
        r"best cell's system $\in$ \{hexagonal, cubic\}"
    assert format_condition(Condition(spec["best_cell_confident"], None, 0.5, False)) == "confident cell = no"
    # categories survive the tree's JSON (a list there), and plain features carry none
    doc_spec = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(system).items()}
    assert FeatureSpec(**json.loads(json.dumps(doc_spec))) == system
    assert SPEC["n_peaks"].categories == ()


def stump_on_peak_count(n=6000):
    """Depth-1 cubic surrogate where the model says cubic iff at most 28 peaks (2 % disagree)."""
    rng = np.random.default_rng(5)
    specs = [SPEC["n_peaks"], SPEC["two_theta1_deg"]]
    X = np.column_stack([rng.integers(5, 60, n).astype(float), rng.uniform(10, 40, n)])
    model = (X[:, 0] <= 28).astype(int)
    truth = model.copy()
    wrong = rng.choice(n, n // 50, replace=False)
    truth[wrong] = 1 - truth[wrong]
    half = n // 2
    return fit_surrogate("cubic", SplitData(X[:half], model[:half], truth[:half]),
                         SplitData(X[half:], model[half:], truth[half:]), specs, max_depth=1)


def test_rule_text_one_line_rule_and_documents():
    from xrdnet.explain.tree_json import surrogate_to_json

    s = stump_on_peak_count()
    doc = surrogate_to_json(s)
    rules = tree_rules(doc)
    cubic = next(r for r in rules if r.class_name == "cubic")
    text = rule_text(cubic)
    n = cubic.held_out["n"]
    # The leaf's fidelity stands beside the constant's on the same patterns (the model's commonest
    # answer, "not cubic", is never given on this leaf), then accuracy and coverage.
    assert text.startswith("number of peaks ≤ 28 → cubic (fidelity 1.00 vs constant 0.00, accuracy 0.9")
    assert f"coverage {100 * n / 3000:.1f} %" in text
    assert text.endswith(f"n = {n // 1000} {n % 1000:03d})")  # thousands grouped with a space
    headline = one_line_rule(doc)
    assert headline["text"].startswith("number of peaks ≤ 28 → cubic (fidelity 1.00")
    assert headline["text"].endswith("n = 3 000)") and headline["n"] == 3000
    txt = rules_to_text(doc)
    assert "number of peaks > 28 → not cubic" in txt and "held-out fidelity 1.000" in txt
    assert "| number of peaks ≤ 28 | cubic | 1.00 | 0.00 |" in rules_to_markdown(doc)
    tex = rules_to_latex(doc, label="tab:x")
    assert r"number of peaks $\leq$ 28 & cubic & 1.00 & 0.00" in tex and r"\label{tab:x}" in tex
    assert r"3\,000" in tex and tex.count(r"\begin{tabular}") == 1


def test_tree_figure_writes_png_and_svg(tmp_path):
    s = stump_on_peak_count(400)
    paths = tree_figure(s.tree, s.specs, s.class_names, [tmp_path / "t.png", tmp_path / "t.svg"], title="stump")
    assert all(p.stat().st_size > 1000 for p in paths)
    assert "number of peaks" in (tmp_path / "t.svg").read_text()


def test_present_versus_missing_split_is_strict_json_and_reads_as_peak_counts():
    # Class 1 exactly when there is no 5th peak: scikit-learn splits "present vs NaN" at x ≤ inf.
    rng = np.random.default_rng(2)
    specs = [SPEC["q5_over_q1"], SPEC["n_peaks"]]
    X = np.column_stack([rng.uniform(2, 3, 200), rng.integers(1, 40, 200)])
    missing = rng.random(200) < 0.4
    X[missing, 0] = np.nan
    y = missing.astype(int)
    tree = DecisionTreeClassifier(max_depth=1).fit(X, y)
    assert np.isinf(tree.tree_.threshold[0])
    doc = json.loads(json.dumps(tree_to_json(tree, specs, {0: "five or more", 1: "few"}, "presence"),
                                allow_nan=False))
    assert doc["nodes"][0]["threshold"] is None
    np.testing.assert_array_equal(apply_tree_json(doc, X), tree.predict(X))
    texts = sorted(rule_text(r) for r in tree_rules(doc))
    assert texts == ["at least 5 peaks → five or more", "fewer than 5 peaks → few"]
    covers = np.stack([rule_covers(r, X) for r in tree_rules(doc)], axis=1)
    assert np.all(covers.sum(axis=1) == 1)


def test_headline_is_the_rule_with_the_largest_gain_over_the_constant():
    from xrdnet.explain.rule_text import headline_rule

    # The model says "mono" (0) mostly; "cubic" (6) exactly when there are few peaks, and "hex"
    # (5) for a handful of patterns no feature describes. A depth-1 tree on the peak count is the
    # rule to cite; a rule that covers everything and answers "mono" gains nothing.
    rng = np.random.default_rng(0)
    n_peaks = rng.integers(5, 60, 2000).astype(float)
    model = np.where(n_peaks <= 20, 6, 0)
    model[rng.random(2000) < 0.05] = 5
    truth = model.copy()
    X = n_peaks[:, None]
    specs = [SPEC["n_peaks"]]
    names = {0: "mono", 5: "hex", 6: "cubic"}
    tree = DecisionTreeClassifier(max_depth=1).fit(X, model)
    doc = tree_to_json(tree, specs, names, "cs")
    everything = tree_to_json(DecisionTreeClassifier(max_depth=1).fit(X, np.zeros(2000, int)), specs, names, "const")
    candidates = [("cs", r, r.label) for r in tree_rules(doc)] + [("const", r, r.label) for r in tree_rules(everything)]
    head = headline_rule(candidates, X, model, truth, names)
    assert head["beats_constant"] and head["class_name"] == "cubic" and head["rule"] == "number of peaks ≤ 20"
    covered = n_peaks <= 20
    assert head["coverage"] == pytest.approx(covered.mean())
    assert head["fidelity"] == pytest.approx(np.mean(model[covered] == 6))
    assert head["constant_fidelity"] == pytest.approx(np.mean(model[covered] == 0))
    assert head["gain"] == pytest.approx(head["coverage"] * (head["fidelity"] - head["constant_fidelity"]))
    assert head["reading_fidelity"] == pytest.approx(np.mean(np.where(covered, 6, 0) == model))
    # A broad leaf whose class the model gives on fewer than half of its patterns is no headline, however
    # much its coverage gains: few peaks → cubic; 11-35 → mono (the constant); more → hex 40 %, tri 30 %, cubic 30 %.
    mixed = np.where(n_peaks <= 10, 6, np.where(n_peaks <= 35, 0, rng.choice([5, 1, 6], 2000, p=[0.4, 0.3, 0.3])))
    names2 = {**names, 1: "tri"}
    doc2 = tree_to_json(DecisionTreeClassifier(max_depth=2).fit(X, mixed), specs, names2, "cs")
    candidates2 = [("cs", r, r.label) for r in tree_rules(doc2)]
    assert any(r.class_name == "hex" for _, r, _ in candidates2)  # the broad plurality leaf is a candidate
    head2 = headline_rule(candidates2, X, mixed, mixed, names2)
    assert head2["class_name"] == "cubic" and head2["fidelity"] > 0.9
    # Only rules answering the constant: the headline says none beats it.
    none = headline_rule([("const", r, r.label) for r in tree_rules(everything)], X, model, truth, names)
    assert not none["beats_constant"] and none["text"].startswith("no rule beats always answering “mono”")


def test_rules_figure_fits_a_journal_column(tmp_path):
    import matplotlib.image as mpimg

    from xrdnet.explain.rule_figures import COLUMN_WIDTH_MM, rules_figure
    from xrdnet.explain.tree_json import surrogate_to_json

    doc = surrogate_to_json(stump_on_peak_count())
    png, svg = rules_figure(doc, [tmp_path / "r.png", tmp_path / "r.svg"])
    width_px = mpimg.imread(png).shape[1]
    assert width_px == pytest.approx(COLUMN_WIDTH_MM / 25.4 * 300, abs=2)  # 85 mm at 300 dpi
    text = svg.read_text()
    # Every rule with its units and class is in the figure, and the axis says what the bars are.
    for rule in tree_rules(doc):
        assert rule.class_name in text
    assert "number of peaks ≤ 28" in text and "leaf fidelity" in text

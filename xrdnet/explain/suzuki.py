"""The cubic-vs-non-cubic decision-tree experiment of Suzuki et al. (2020), as a reproducible function.

Suzuki et al. (Sci. Rep. 10, 21790) took every cubic pattern and an equal-size random sample of
non-cubic ones, fitted decision trees of depth 1 and 2 to the TRUE labels on peak features (the
first ten peak positions and the number of peaks) and scored them by 10-fold cross-validation. Their
depth-1 tree reads "number of peaks ≤ 28.5 → cubic", 83.1 % accurate. Unlike the surrogates, this
experiment explains the data, not the network: it is the baseline a rule fitted to the CNN should
be compared with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from xrdnet.explain.rule_text import format_condition, format_count, rule_conditions_text
from xrdnet.explain.surrogate import CUBIC
from xrdnet.explain.tree_json import Condition, tree_rules, tree_to_json
from xrdnet.features import FeatureSpec

FEATURE_SETS = ("suzuki", "n_peaks", "all")
PUBLISHED = {"rule": "number of peaks ≤ 28.5 → cubic", "accuracy": 0.831,
             "reference": "Suzuki et al. 2020, Sci. Rep. 10, 21790"}


@dataclass(frozen=True)
class SuzukiConfig:
    """Settings of the experiment (the ``suzuki:`` section of a rules config).

    Attributes:
        depths: tree depths to fit (theirs: 1 and 2).
        n_folds: stratified cross-validation folds (theirs: 10); lowered to the size of the
            smaller class when a tiny data set has fewer patterns than folds.
        feature_sets: ``suzuki`` = Q of the first peaks and the number of peaks (their inputs);
            ``n_peaks`` = the number of peaks alone (the feature of their published rule, so its
            threshold can be compared with 28.5); ``all`` = every interpretable feature.
        seed: seeds the non-cubic sample, the fold assignment and the trees.
    """

    depths: tuple[int, ...] = (1, 2)
    n_folds: int = 10
    feature_sets: tuple[str, ...] = ("suzuki", "n_peaks", "all")
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.depths or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.depths):
            raise ValueError(f"depths must be positive integers, got {self.depths!r}")
        if isinstance(self.n_folds, bool) or not isinstance(self.n_folds, int) or self.n_folds < 2:
            raise ValueError(f"n_folds must be an integer >= 2, got {self.n_folds!r}")
        unknown = [s for s in self.feature_sets if s not in FEATURE_SETS]
        if not self.feature_sets or unknown:
            raise ValueError(f"feature_sets must be some of {FEATURE_SETS}, got {self.feature_sets!r}")


def feature_columns(specs: Sequence[FeatureSpec], feature_set: str) -> list[int]:
    """Columns of ``specs`` in ``feature_set``: ``suzuki`` = ``q{i}_inv_angstrom`` and ``n_peaks``;
    ``n_peaks`` = that column alone; ``all``."""
    if feature_set == "all":
        return list(range(len(specs)))
    if feature_set == "n_peaks":
        cols = [j for j, s in enumerate(specs) if s.name == "n_peaks"]
        if not cols:
            raise ValueError("the n_peaks feature set needs an n_peaks column")
        return cols
    if feature_set != "suzuki":
        raise ValueError(f"feature_set must be one of {FEATURE_SETS}, got {feature_set!r}")
    cols = [j for j, s in enumerate(specs)
            if s.name == "n_peaks" or (s.name.startswith("q") and s.name.endswith("_inv_angstrom"))]
    if not any(specs[j].name == "n_peaks" for j in cols):
        raise ValueError("the Suzuki feature set needs an n_peaks column")
    return cols


def balanced_sample(crystal_system: np.ndarray, seed: int = 0) -> np.ndarray:
    """Sorted rows: every cubic pattern and as many randomly drawn non-cubic ones (seeded).

    When cubic patterns outnumber the rest, the cubic ones are sampled down instead, so the two
    classes are always the same size and chance accuracy is 50 %.
    """
    cs = np.asarray(crystal_system).astype(np.int64)
    cubic, other = np.flatnonzero(cs == CUBIC), np.flatnonzero(cs != CUBIC)
    m = min(len(cubic), len(other))
    rng = np.random.default_rng(seed)
    pick = [rng.choice(rows, m, replace=False) if len(rows) > m else rows for rows in (cubic, other)]
    return np.sort(np.concatenate(pick))


def suzuki_experiment(X: np.ndarray, specs: Sequence[FeatureSpec], crystal_system: np.ndarray,
                      config: SuzukiConfig = SuzukiConfig(), groups: Sequence[str] | None = None) -> dict:
    """Run the experiment on features ``X [P, F]`` (columns ``specs``) with true ``crystal_system [P]``.

    For each feature set and depth: stratified k-fold accuracy (mean, std and per fold, with each
    fold's root split and the spread of the root thresholds that test the same feature as the
    whole-sample tree) and a tree fitted to the whole balanced sample, whose root threshold is
    reported raw (as the paper does: 28.5) and in units ("number of peaks ≤ 28"), with its rules.
    ``groups [P]`` (e.g. compound keys) keeps every group inside one fold
    (``StratifiedGroupKFold``): patterns of one compound in the training and the test folds would
    flatter the score. Raises ValueError when there are fewer than 2 cubic or 2 non-cubic patterns.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier

    X = np.asarray(X, dtype=np.float64)
    specs = list(specs)
    cs = np.asarray(crystal_system).astype(np.int64)
    if X.ndim != 2 or X.shape[1] != len(specs) or len(cs) != len(X):
        raise ValueError(f"X must be [P, {len(specs)}] with one crystal system per row; got X {X.shape}, "
                         f"crystal_system {cs.shape}")
    rows = balanced_sample(cs, config.seed)
    y = (cs[rows] == CUBIC).astype(np.int64)
    n_per_class = len(rows) // 2
    if n_per_class < 2:
        raise ValueError(f"the Suzuki experiment needs at least 2 cubic and 2 non-cubic patterns, got "
                         f"{int(np.sum(cs == CUBIC))} cubic and {int(np.sum(cs != CUBIC))} non-cubic")
    n_folds = min(config.n_folds, n_per_class)
    group_of = None
    if groups is not None:
        groups = np.asarray(groups, dtype=object)
        if len(groups) != len(cs):
            raise ValueError(f"groups has {len(groups)} entries, expected one per row of X ({len(cs)})")
        group_of = groups[rows]
        n_groups = len(set(group_of.tolist()))
        if n_groups < 2 * n_folds or any(g in (None, "") for g in group_of.tolist()):
            group_of = None  # too few (or unknown) groups to group by: plain stratified folds
    names = {0: "not cubic", 1: "cubic"}
    result = {
        "published": PUBLISHED, "labels": "true crystal systems (not the model's predictions)",
        "n_cubic_available": int(np.sum(cs == CUBIC)), "n_non_cubic_available": int(np.sum(cs != CUBIC)),
        "n_per_class": n_per_class, "n_folds": n_folds, "seed": config.seed,
        "folds_grouped_by": "compound" if group_of is not None else None, "experiments": [],
    }
    for feature_set in config.feature_sets:
        cols = feature_columns(specs, feature_set)
        sub_specs, Xs = [specs[j] for j in cols], X[rows][:, cols]
        for depth in config.depths:
            if group_of is not None:
                splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=config.seed)
                fold_iter = splitter.split(Xs, y, group_of)
            else:
                fold_iter = StratifiedKFold(n_folds, shuffle=True, random_state=config.seed).split(Xs, y)
            accuracies, roots = [], []
            for train_idx, test_idx in fold_iter:
                tree = DecisionTreeClassifier(max_depth=depth, random_state=config.seed)
                tree.fit(Xs[train_idx], y[train_idx])
                accuracies.append(float(np.mean(tree.predict(Xs[test_idx]) == y[test_idx])))
                roots.append(_root(tree, sub_specs))
            full = DecisionTreeClassifier(max_depth=depth, random_state=config.seed).fit(Xs, y)
            leaves = _leaf_counts(full, Xs, y)
            tree_json = tree_to_json(full, sub_specs, names, f"suzuki {feature_set} depth {depth}", leaves=leaves,
                                     settings={"max_depth": depth, "seed": config.seed})
            root = _root(full, sub_specs)
            same = [r["threshold"] for r in roots
                    if r and root and r["feature"] == root["feature"] and r["threshold"] is not None]
            stability = {"feature": root["feature"] if root else None, "folds_with_same_root_feature": len(same),
                         "n_folds": len(roots),
                         "threshold_mean": float(np.mean(same)) if same else None,
                         "threshold_std": float(np.std(same)) if same else None,
                         "threshold_min": float(np.min(same)) if same else None,
                         "threshold_max": float(np.max(same)) if same else None}
            result["experiments"].append({
                "threshold_stability": stability,
                "feature_set": feature_set, "depth": depth,
                "cv_accuracy_mean": float(np.mean(accuracies)), "cv_accuracy_std": float(np.std(accuracies)),
                "fold_accuracies": accuracies, "fold_roots": roots, "root": root,
                "rules": [_sample_rule_text(r) for r in tree_rules(tree_json)], "tree": tree_json,
            })
    return result


def _root(tree, specs: Sequence[FeatureSpec]) -> dict | None:
    """Root split of ``tree``: feature, unit, raw threshold and the rounded one in units (None for a leaf)."""
    t = tree.tree_
    if t.children_left[0] == -1:
        return None
    spec = specs[int(t.feature[0])]
    value = float(t.threshold[0])
    if not math.isfinite(value):  # a "feature present vs missing" split of a NaN-aware tree
        return {"feature": spec.name, "unit": spec.unit, "threshold": None,
                "text": format_condition(Condition(spec, None, None, False))}
    return {"feature": spec.name, "unit": spec.unit, "threshold": value,
            "text": format_condition(Condition(spec, None, value, False))}


def _sample_rule_text(rule) -> str:
    """``number of peaks ≤ 28 → cubic (accuracy 0.85, n = 612)``, over the balanced sample."""
    h = rule.held_out or {}
    acc = h.get("accuracy")
    shown = "–" if acc is None else f"{acc:.2f}"
    return f"{rule_conditions_text(rule)} → {rule.class_name} (accuracy {shown}, n = {format_count(h.get('n') or 0)})"


def _leaf_counts(tree, X: np.ndarray, y: np.ndarray) -> dict[int, dict]:
    """Leaf id -> ``{n, fidelity, accuracy}`` on the fitted sample (no model here: fidelity = accuracy)."""
    reached = tree.apply(X)
    out = {}
    for node in np.flatnonzero(tree.tree_.children_left == -1):
        here = reached == node
        n = int(here.sum())
        cls = tree.classes_[int(np.argmax(tree.tree_.value[node, 0]))]
        acc = float(np.mean(y[here] == cls)) if n else float("nan")
        out[int(node)] = {"n": n, "fidelity": acc, "accuracy": acc}
    return out


def suzuki_to_markdown(result: dict) -> str:
    """Markdown report of ``suzuki_experiment``: one row per feature set and depth, then the rules."""
    pub = result["published"]
    lines = [
        "## Cubic vs non-cubic, after Suzuki et al. (2020)", "",
        f"True labels; all cubic patterns and an equal random sample of non-cubic ones: "
        f"{format_count(result['n_per_class'])} + {format_count(result['n_per_class'])} "
        f"(of {format_count(result['n_cubic_available'])} cubic, {format_count(result['n_non_cubic_available'])} "
        f"non-cubic); {result['n_folds']}-fold stratified cross-validation"
        f"{' grouped by ' + result['folds_grouped_by'] if result.get('folds_grouped_by') else ''}, seed {result['seed']}. "
        f"Published: \"{pub['rule']}\", {pub['accuracy']:.1%} ({pub['reference']}).", "",
        "| features | depth | root split (threshold) | CV accuracy | published | folds with the same root feature "
        "| root threshold over those folds |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for e in result["experiments"]:
        root = e["root"]
        same = sum(1 for r in e["fold_roots"] if r and root and r["feature"] == root["feature"])
        shown = "no split" if not root else root["text"] if root["threshold"] is None \
            else f"{root['text']} ({root['threshold']:g})"
        st = e.get("threshold_stability") or {}
        spread = "–" if st.get("threshold_mean") is None else \
            f"{st['threshold_mean']:.4g} ± {st['threshold_std']:.2g} ({st['threshold_min']:.4g}–{st['threshold_max']:.4g})"
        lines.append(f"| {e['feature_set']} | {e['depth']} | {shown} | "
                     f"{e['cv_accuracy_mean']:.1%} ± {e['cv_accuracy_std']:.1%} | {pub['accuracy']:.1%} | "
                     f"{same}/{len(e['fold_roots'])} | {spread} |")
    lines.append("")
    for e in result["experiments"]:
        lines += [f"Rules, {e['feature_set']} features, depth {e['depth']} (fitted on the whole sample; "
                  "accuracy and n over that sample):", ""]
        lines += [f"- {r}" for r in e["rules"]] + [""]
    return "\n".join(lines)

"""The surrogate-tree JSON document: write, read and evaluate it without scikit-learn; its rules.

The JSON document (``tree_to_json``) is the single source: every text export is made from it, and
``apply_tree_json`` evaluates it on new feature rows without scikit-learn, giving the fitted tree's
own predictions. ``tree_rules`` reads its leaves as ``Rule``s (conditions merged per feature) and
``rule_covers`` says which feature rows a rule covers.

JSON layout (``"format": "xrdnet-surrogate-tree"``, ``"version": 1``): ``features`` (the
``FeatureSpec`` of each X column, in order), ``classes`` and ``class_names``, ``nodes`` (index =
node id; a split has ``feature``, ``feature_index``, ``threshold``, ``missing_goes_left``,
``left``, ``right``; a leaf has ``leaf: true``, ``class``, ``class_name`` and its ``held_out``
statistics), the whole tree's ``held_out`` / ``fit`` scores and free-form ``settings`` and
``feature_extraction`` (what is needed to compute the features of a new pattern).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.explain.rule_features import rule_features
from xrdnet.features import FeatureSpec
from xrdnet.peak_finder import PeakFinderConfig

FORMAT = "xrdnet-surrogate-tree"
VERSION = 1


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- JSON


def tree_to_json(tree, specs: Sequence[FeatureSpec], class_names: dict[int, str], name: str,
                 leaves: dict | None = None, held_out: dict | None = None, fit: dict | None = None,
                 settings: dict | None = None, feature_extraction: dict | None = None) -> dict:
    """The JSON document of a fitted ``DecisionTreeClassifier`` (plain data: ``json.dumps`` it).

    ``leaves`` maps leaf node id -> held-out statistics (``LeafStats`` or a dict with ``n``,
    ``fidelity``, ``accuracy``); ``held_out`` / ``fit`` are whole-tree scores. NaN scores are
    written as null so the file is strict JSON. Thresholds keep full float64 precision.
    """
    specs = list(specs)
    t = tree.tree_
    if t.n_features != len(specs):
        raise ValueError(f"tree was fitted on {t.n_features} features but {len(specs)} feature specs were given")
    classes = [int(c) for c in tree.classes_]
    fractions = t.value[:, 0, :] / np.maximum(t.value[:, 0, :].sum(axis=1, keepdims=True), 1e-300)
    nodes = []
    for node in range(t.node_count):
        entry = {"id": node, "n_fit": int(t.n_node_samples[node]),
                 "class_fractions": [round(float(v), 6) for v in fractions[node]]}
        if t.children_left[node] == -1:
            label = classes[int(np.argmax(t.value[node, 0]))]
            entry.update({"leaf": True, "class": label, "class_name": class_names[label]})
            stats = (leaves or {}).get(node)
            if stats is not None:
                stats = asdict(stats) if not isinstance(stats, dict) else stats
                entry["held_out"] = {"n": int(stats["n"]), "fidelity": _finite_or_none(stats["fidelity"]),
                                     "accuracy": _finite_or_none(stats["accuracy"])}
                for key in ("constant_fidelity", "coverage"):
                    if stats.get(key) is not None:
                        entry["held_out"][key] = _finite_or_none(stats[key])
        else:
            j = int(t.feature[node])
            entry.update({"leaf": False, "feature": specs[j].name, "feature_index": j,
                          # inf = "present vs missing" split (NaN-aware trees); null keeps strict JSON.
                          "threshold": _finite_or_none(t.threshold[node]),
                          "missing_goes_left": bool(t.missing_go_to_left[node]),
                          "left": int(t.children_left[node]), "right": int(t.children_right[node])})
        nodes.append(entry)

    def clean(scores):
        return None if scores is None else {k: (_finite_or_none(v) if isinstance(v, float) else v)
                                            for k, v in scores.items()}

    return {
        "format": FORMAT, "version": VERSION, "name": name,
        "depth": int(tree.get_depth()), "n_leaves": int(tree.get_n_leaves()),
        # Names of every label the target knows, not only the tree's classes: a one-vs-rest tree
        # that never predicts its class can still say which class it never predicts.
        "classes": classes, "class_names": {str(c): n for c, n in sorted(class_names.items())},
        "features": [{k: v for k, v in asdict(s).items() if k != "categories" or v} for s in specs],
        "held_out": clean(held_out), "fit": clean(fit),
        "settings": settings or {}, "feature_extraction": feature_extraction or {},
        "nodes": nodes,
    }


def surrogate_to_json(surrogate, feature_extraction: dict | None = None) -> dict:
    """``tree_to_json`` of a ``FittedSurrogate`` (its leaves' and whole-tree held-out scores included)."""
    return tree_to_json(surrogate.tree, surrogate.specs, surrogate.class_names, surrogate.name,
                        surrogate.leaves, surrogate.held_out, surrogate.fit, surrogate.settings, feature_extraction)


def _check_tree_json(tree_json: dict) -> None:
    if not isinstance(tree_json, dict) or tree_json.get("format") != FORMAT:
        raise ValueError(f"not an xrdnet surrogate tree (expected \"format\": \"{FORMAT}\")")
    if tree_json.get("version") != VERSION:
        raise ValueError(f"surrogate tree version {tree_json.get('version')!r} is not supported (expected {VERSION})")


def load_tree_json(path: str | Path) -> dict:
    """Read a ``tree.json`` written by ``xrdnet rules`` (checked to be one)."""
    path = Path(path)
    tree_json = json.loads(path.read_text())
    try:
        _check_tree_json(tree_json)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return tree_json


def apply_tree_json(tree_json: dict, X: np.ndarray) -> np.ndarray:
    """Class labels ``[P]`` int64 that the tree in ``tree_json`` gives feature rows ``X [P, F]``.

    Pure numpy, no scikit-learn: the columns of X are ``tree_json["features"]`` in order (as
    ``interpretable_features`` returns them); NaN goes where the split's ``missing_goes_left``
    says. scikit-learn compares float32 copies of X against its float64 thresholds, so X is
    rounded to float32 first: otherwise a value within float32 rounding of a threshold could
    take the other branch than the fitted tree does.
    """
    _check_tree_json(tree_json)
    features = tree_json["features"]
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(features):
        raise ValueError(f"X must be [P, {len(features)}] (one column per feature of the tree), got shape {X.shape}")
    X = X.astype(np.float32).astype(np.float64)
    nodes = tree_json["nodes"]
    is_leaf = np.array([n["leaf"] for n in nodes])
    feature = np.array([n.get("feature_index", 0) for n in nodes], dtype=np.int64)
    threshold = np.array([np.inf if n.get("threshold", 0.0) is None else n.get("threshold", 0.0) for n in nodes],
                         dtype=np.float64)
    missing_left = np.array([n.get("missing_goes_left", False) for n in nodes])
    left = np.array([n.get("left", -1) for n in nodes], dtype=np.int64)
    right = np.array([n.get("right", -1) for n in nodes], dtype=np.int64)
    label = np.array([n.get("class", 0) for n in nodes], dtype=np.int64)
    at = np.zeros(len(X), dtype=np.int64)
    for _ in range(len(nodes)):  # each step moves every unfinished row one level down
        active = np.flatnonzero(~is_leaf[at])
        if len(active) == 0:
            break
        node = at[active]
        x = X[active, feature[node]]
        go_left = np.where(np.isnan(x), missing_left[node], x <= threshold[node])
        at[active] = np.where(go_left, left[node], right[node])
    return label[at]


def predict_patterns_with_tree_json(tree_json: dict, patterns: np.ndarray, two_theta_deg: np.ndarray,
                                    wavelength_angstrom: float) -> np.ndarray:
    """Class labels ``[P]`` of ``patterns [P, G]`` on ``two_theta_deg [G]``: features, then ``apply_tree_json``.

    The features are computed with the peak-finder settings and peak count stored in the tree's
    ``feature_extraction`` (defaults where absent), so a measured pattern is read the same way as
    the data the rules were fitted on. ``wavelength_angstrom`` is the λ of the peak maxima (Kα1).
    """
    return apply_tree_json(tree_json, tree_features(tree_json, patterns, two_theta_deg, wavelength_angstrom))


def tree_features(tree_json: dict, patterns: np.ndarray, two_theta_deg: np.ndarray,
                  wavelength_angstrom: float) -> np.ndarray:
    """``[P, F]`` the tree's features of ``patterns [P, G]`` (or one ``[G]``), in the tree's column order.

    Computed with the peak-finder settings and peak count stored in the tree's ``feature_extraction``
    (defaults where absent), so a measured pattern is read the same way as the data the rules were fitted on.
    """
    _check_tree_json(tree_json)
    extraction = tree_json.get("feature_extraction") or {}
    config = PeakFinderConfig(**(extraction.get("peak_finder") or {}))
    X, specs = rule_features(np.atleast_2d(patterns), two_theta_deg, wavelength_angstrom,
                             str(extraction.get("feature_set", "interpretable")), int(extraction.get("n_peaks", 10)), config)
    names = [f["name"] for f in tree_json["features"]]
    column = {s.name: j for j, s in enumerate(specs)}
    unknown = [n for n in names if n not in column]
    if unknown:
        raise ValueError(f"the tree uses features this xrdnet does not compute: {unknown}")
    return X[:, [column[n] for n in names]]


# --------------------------------------------------------------------------- rules and conditions


@dataclass(frozen=True)
class Condition:
    """What a rule requires of one feature: ``lower < x ≤ upper`` (either side may be open).

    ``missing_ok``: a pattern without this feature (NaN) satisfies the condition too. Both
    bounds open with ``missing_ok`` false means only "the feature exists"; ``lower = inf``
    means only "the feature is missing" (the present-vs-missing splits of NaN-aware trees).
    """

    spec: FeatureSpec
    lower: float | None
    upper: float | None
    missing_ok: bool
    spec_index: int = -1  # the feature's column in X (set by ``tree_rules``)


@dataclass(frozen=True)
class Rule:
    """One root-to-leaf path, conditions merged per feature, with the leaf's class and statistics."""

    conditions: tuple[Condition, ...]
    label: int
    class_name: str
    leaf_id: int
    n_fit: int
    held_out: dict | None  # {"n", "fidelity", "accuracy"} of the held-out patterns reaching the leaf


def _spec(feature: dict) -> FeatureSpec:
    return FeatureSpec(**feature)


def tree_rules(tree_json: dict) -> list[Rule]:
    """Every leaf of ``tree_json`` as a ``Rule``, left to right.

    Repeated tests of one feature along a path merge into one interval ("5 < number of peaks ≤
    28"); a NaN passes the merged condition only if it went the rule's way at every test.
    """
    _check_tree_json(tree_json)
    nodes = tree_json["nodes"]
    specs = [_spec(f) for f in tree_json["features"]]
    rules: list[Rule] = []

    def walk(node_id: int, bounds: dict[int, list]) -> None:
        node = nodes[node_id]
        if node["leaf"]:
            conditions = tuple(Condition(specs[j], lo, hi, ok, j) for j, (lo, hi, ok) in bounds.items())
            rules.append(Rule(conditions, int(node["class"]), node["class_name"], node_id, int(node["n_fit"]),
                              node.get("held_out")))
            return
        j, miss_left = node["feature_index"], bool(node["missing_goes_left"])
        t = math.inf if node["threshold"] is None else float(node["threshold"])
        for child, goes_left in ((node["left"], True), (node["right"], False)):
            lo, hi, ok = bounds.get(j, [None, None, True])
            if goes_left:
                if math.isfinite(t):  # x ≤ inf only says "x is present", which ok = False records
                    hi = t if hi is None else min(hi, t)
            else:
                lo = t if lo is None else max(lo, t)
            walk(child, {**bounds, j: [lo, hi, ok and (miss_left == goes_left)]})

    walk(0, {})
    return rules


def rule_covers(rule: Rule, X: np.ndarray) -> np.ndarray:
    """``[P]`` bool: which feature rows ``X [P, F]`` satisfy every condition of ``rule``.

    The leaves' rules partition the feature space, so exactly one rule of a tree covers each row,
    the rule of the leaf ``apply_tree_json`` reaches (X is rounded to float32 the same way).
    """
    X = np.asarray(X, dtype=np.float64).astype(np.float32).astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2D feature matrix [P, F], got shape {X.shape}")
    covered = np.ones(len(X), dtype=bool)
    for c in rule.conditions:
        if not 0 <= c.spec_index < X.shape[1]:
            raise ValueError(f"condition on {c.spec.name!r} has no column in X (spec_index {c.spec_index})")
        x = X[:, c.spec_index]
        present = ~np.isnan(x)
        with np.errstate(invalid="ignore"):
            ok = present & (True if c.lower is None else x > c.lower) & (True if c.upper is None else x <= c.upper)
        covered &= ok | (~present & c.missing_ok)
    return covered


def covering_rule(tree_json: dict, pattern: np.ndarray, two_theta_deg: np.ndarray,
                  wavelength_angstrom: float) -> Rule | None:
    """The ``Rule`` of ``tree_json`` whose leaf one pattern ``[G]`` reaches (None if none covers it)."""
    X = tree_features(tree_json, pattern, two_theta_deg, wavelength_angstrom)
    for rule in tree_rules(tree_json):
        if rule_covers(rule, X)[0]:
            return rule
    return None

"""Surrogate trees as rules a paper can print: JSON, plain text, Markdown, LaTeX and a tree figure.

The JSON document (``tree_to_json``) is the single source: every text export is made from it, and
``apply_tree_json`` evaluates it on new feature rows without scikit-learn, giving the fitted tree's
own predictions. Thresholds print in physical units: counts as integers (a split at 28.5 on a count
reads "≤ 28"), angles in degrees (``2θ₁ ≤ 23.41°``), spacings in Å, Q in 1/Å, ratios bare.

JSON layout (``"format": "xrdnet-surrogate-tree"``, ``"version": 1``): ``features`` (the
``FeatureSpec`` of each X column, in order), ``classes`` and ``class_names``, ``nodes`` (index =
node id; a split has ``feature``, ``feature_index``, ``threshold``, ``missing_goes_left``,
``left``, ``right``; a leaf has ``leaf: true``, ``class``, ``class_name`` and its ``held_out``
statistics), the whole tree's ``held_out`` / ``fit`` scores and free-form ``settings`` and
``feature_extraction`` (what is needed to compute the features of a new pattern).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.features import FeatureSpec, PeakFinderConfig, interpretable_features

FORMAT = "xrdnet-surrogate-tree"
VERSION = 1

# Decimals a threshold prints with, per unit (counts are integers); enough to tell neighbouring
# peaks apart at laboratory resolution without pretending to more.
_DECIMALS = {"deg": 2, "Å": 2, "1/Å": 3, "1": 3}
_UNIT_TEXT = {"deg": "°", "Å": " Å", "1/Å": " 1/Å", "1": "", "count": ""}
_UNIT_LATEX = {"deg": r"$^\circ$", "Å": r"\,\AA", "1/Å": r"\,\AA$^{-1}$", "1": "", "count": ""}


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
        "features": [asdict(s) for s in specs],
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
    _check_tree_json(tree_json)
    extraction = tree_json.get("feature_extraction") or {}
    config = PeakFinderConfig(**(extraction.get("peak_finder") or {}))
    X, specs = interpretable_features(np.atleast_2d(patterns), two_theta_deg, wavelength_angstrom,
                                      int(extraction.get("n_peaks", 10)), config)
    names = [f["name"] for f in tree_json["features"]]
    column = {s.name: j for j, s in enumerate(specs)}
    unknown = [n for n in names if n not in column]
    if unknown:
        raise ValueError(f"the tree uses features this xrdnet does not compute: {unknown}")
    return apply_tree_json(tree_json, X[:, [column[n] for n in names]])


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


def _number(value: float, unit: str, decimals: int | None = None) -> str:
    if unit == "count":
        return str(int(math.floor(value)))
    return f"{value:.{_DECIMALS[unit] if decimals is None else decimals}f}"


def format_threshold(spec: FeatureSpec, value: float, style: str = "text", decimals: int | None = None) -> str:
    """A threshold with its unit: ``28`` (count: floor of the split, since x ≤ 28.5 on integers is
    x ≤ 28 and x > 28.5 is x > 28), ``23.41°``, ``3.12 Å``, ``1.934 1/Å``, ``1.155``; ``style`` is
    ``text`` (Unicode) or ``latex``."""
    if style not in ("text", "latex"):
        raise ValueError(f"style must be 'text' or 'latex', got {style!r}")
    units = _UNIT_TEXT if style == "text" else _UNIT_LATEX
    return _number(value, spec.unit, decimals) + units[spec.unit]


def _min_peaks_implied(conditions: Sequence[Condition]) -> int:
    """Fewest peaks every pattern satisfying ``conditions`` has: from a lower bound on the peak
    count, or from a feature that must exist (the 8th peak's position needs 8 peaks)."""
    least = 0
    for c in conditions:
        if c.spec.name == "n_peaks" and c.lower is not None and math.isfinite(c.lower):
            least = max(least, int(math.floor(c.lower)) + 1)
        if not c.missing_ok and not (c.lower is not None and math.isinf(c.lower)):
            least = max(least, c.spec.needs_peaks)
    return least


def format_condition(condition: Condition, style: str = "text", min_peaks: int = 0) -> str:
    """``condition`` as text in physical units, e.g. ``number of peaks ≤ 28``, ``2θ₁ > 23.41°``,
    ``1.155 < Q₂/Q₁ ≤ 1.414``, ``(Q₅/Q₁ ≤ 2.236 or fewer than 5 peaks)`` (``style`` text or latex).

    The "or fewer than k peaks" part appears where NaN passes the condition, unless ``min_peaks``
    (implied by the rest of the rule) already guarantees the feature exists.
    """
    c, spec = condition, condition.spec
    name = (spec.latex or spec.symbol or spec.name) if style == "latex" else (spec.symbol or spec.name)
    le, lt, gt = (r"$\leq$", "$<$", "$>$") if style == "latex" else ("≤", "<", ">")
    k = spec.needs_peaks
    fewer = f"{name} missing" if k == 0 else "no peaks" if k == 1 else f"fewer than {k} peaks"
    if c.lower is not None and math.isinf(c.lower):  # only patterns lacking the feature
        return fewer if c.missing_ok else "never"
    if c.lower is None and c.upper is None:  # only "the feature exists"
        if c.missing_ok:
            return "always"
        return f"{name} known" if k == 0 else f"at least {k} peak{'s' if k != 1 else ''}"
    if spec.unit == "count" and c.lower is not None and c.upper is not None \
            and math.floor(c.upper) - math.floor(c.lower) == 1:
        text = f"{name} = {format_threshold(spec, c.upper, style)}"  # 27 < n ≤ 28 on integers
    else:
        decimals = None
        if c.lower is not None and c.upper is not None and spec.unit != "count":
            # Close splits could round to the same number ("1.155 < x ≤ 1.155"): print more digits.
            decimals = _DECIMALS[spec.unit]
            while decimals < 8 and _number(c.lower, spec.unit, decimals) == _number(c.upper, spec.unit, decimals):
                decimals += 1
        lo = None if c.lower is None else format_threshold(spec, c.lower, style, decimals)
        hi = None if c.upper is None else format_threshold(spec, c.upper, style, decimals)
        if lo is not None and hi is not None:
            text = f"{lo} {lt} {name} {le} {hi}"
        elif hi is not None:
            text = f"{name} {le} {hi}"
        else:
            text = f"{name} {gt} {lo}"
    if c.missing_ok and spec.needs_peaks > max(min_peaks, 0):
        text = f"({text} or {fewer})"
    return text


def format_count(n: int, style: str = "text") -> str:
    """An integer with thin groups of three: ``5 213`` (text) or ``5\\,213`` (LaTeX)."""
    grouped = f"{int(n):,}"
    return grouped.replace(",", r"\," if style == "latex" else " ")


def _fmt_score(value, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}f}"


def rule_conditions_text(rule: Rule, style: str = "text") -> str:
    """The conditions of ``rule`` joined with "and" ("always" for a tree that is a single leaf)."""
    if not rule.conditions:
        return "always"
    def presence_only(c: Condition) -> bool:
        return c.lower is None and c.upper is None and not c.missing_ok

    # "at least 2 peaks" says nothing next to "Q₅/Q₁ > 3.3", which already needs 5.
    bounded = [c for c in rule.conditions if not presence_only(c)]
    implied = _min_peaks_implied(bounded)
    shown = bounded + [c for c in rule.conditions if presence_only(c) and c.spec.needs_peaks > implied]
    shown.sort(key=rule.conditions.index)
    min_peaks = _min_peaks_implied(rule.conditions)
    return " and ".join(format_condition(c, style, min_peaks) for c in shown) or "always"


def rule_text(rule: Rule) -> str:
    """``number of peaks ≤ 28 → cubic (fidelity 0.91, accuracy 0.88, n = 5 213)``.

    Fidelity, accuracy and n are over the held-out patterns the rule covers (its leaf): the
    share the model labels with the rule's class, the share truly of it, and how many.
    """
    text = f"{rule_conditions_text(rule)} → {rule.class_name}"
    h = rule.held_out
    if h is not None:
        text += f" (fidelity {_fmt_score(h['fidelity'])}"
        if h.get("constant_fidelity") is not None:
            text += f" vs constant {_fmt_score(h['constant_fidelity'])}"
        text += f", accuracy {_fmt_score(h['accuracy'])}"
        if h.get("coverage") is not None:
            text += f", coverage {_fmt_pct(h['coverage'])}"
        text += f", n = {format_count(h['n'])})"
    return text


def _fmt_pct(value) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f} %"


def _ordered(rules: list[Rule], classes: Sequence[int] | None) -> list[Rule]:
    """Rules of ``classes`` (all when None), grouped by class, most-used (held-out n) first."""
    kept = [r for r in rules if classes is None or r.label in set(classes)]
    return sorted(kept, key=lambda r: (r.label, -((r.held_out or {}).get("n") or 0), r.leaf_id))


def _tree_header(tree_json: dict) -> str:
    h = tree_json.get("held_out") or {}
    fit = tree_json.get("fit") or {}
    head = (f"{tree_json['name']}: depth {tree_json['depth']}, {tree_json['n_leaves']} leaves, "
            f"fitted to the model's predictions on {format_count(fit.get('n') or 0)} patterns")
    if h:
        head += (f"; held-out fidelity {_fmt_score(h.get('fidelity'), 3)}, accuracy {_fmt_score(h.get('accuracy'), 3)},"
                 f" n = {format_count(h.get('n') or 0)}")
        if h.get("baseline_fidelity") is not None:
            head += f" (always the model's most common answer: fidelity {_fmt_score(h['baseline_fidelity'], 3)})"
    return head


RULE_LEGEND = ("Per rule: fidelity = share of the held-out patterns it covers that the model gives the rule's class, "
               "constant = the same share for the model's most common answer (what the rule must beat), "
               "accuracy = share truly of the rule's class, coverage and n = held-out patterns covered.")


def _no_rule_note(tree_json: dict, classes: Sequence[int] | None) -> str:
    names = ", ".join(tree_json["class_names"].get(str(c), str(c)) for c in classes or [])
    return f"(no leaf predicts {names}: the model seldom or never gives it on the fit split)"


def rules_to_text(tree_json: dict, classes: Sequence[int] | None = None, legend: bool = True) -> str:
    """Plain-text rules of ``tree_json``: a header with the whole tree's scores (and, with
    ``legend``, what the numbers mean), then one line per leaf (only leaves predicting
    ``classes`` when given), grouped by class."""
    lines = [f"# {_tree_header(tree_json)}"] + ([f"# {RULE_LEGEND}"] if legend else [])
    rules = _ordered(tree_rules(tree_json), classes)
    lines += [rule_text(r) for r in rules] or [_no_rule_note(tree_json, classes)]
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    # Only the cell separator: GFM leaves intraword underscores ("P2_1/c") alone.
    return text.replace("|", r"\|")


def rules_to_markdown(tree_json: dict, classes: Sequence[int] | None = None, title: str | None = None) -> str:
    """Markdown table of the rules of ``tree_json`` (rule, class, fidelity, accuracy, n)."""
    lines = [f"### {title or tree_json['name']}", "", _md_escape(_tree_header(tree_json)) + ".", "",
             "| rule | class | fidelity | constant | accuracy | coverage | n |", "|---|---|---:|---:|---:|---:|---:|"]
    rules = _ordered(tree_rules(tree_json), classes)
    if not rules:
        lines.append(f"| {_no_rule_note(tree_json, classes)} | | | | | | |")
    for r in rules:
        h = r.held_out or {}
        lines.append(f"| {_md_escape(rule_conditions_text(r))} | {_md_escape(r.class_name)} | "
                     f"{_fmt_score(h.get('fidelity'))} | {_fmt_score(h.get('constant_fidelity'))} | "
                     f"{_fmt_score(h.get('accuracy'))} | {_fmt_pct(h.get('coverage'))} | "
                     f"{format_count(h.get('n') or 0)} |")
    lines += ["", _md_escape(RULE_LEGEND), ""]
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    out = []
    for ch in text:
        out.append({"_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}",
                    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}.get(ch, ch))
    return "".join(out)


def rules_to_latex(tree_json: dict, classes: Sequence[int] | None = None, caption: str | None = None,
                   label: str | None = None) -> str:
    """A LaTeX ``table`` (booktabs) of the rules of ``tree_json``; needs ``\\usepackage{booktabs}``."""
    h = tree_json.get("held_out") or {}
    caption = caption or (f"Surrogate decision-tree rules ({_latex_escape(tree_json['name'])}, depth "
                          f"{tree_json['depth']}) fitted to the model's predictions. Held-out fidelity "
                          f"{_fmt_score(h.get('fidelity'), 3)}, accuracy {_fmt_score(h.get('accuracy'), 3)}, "
                          f"$n = {format_count(h.get('n') or 0, 'latex')}$. Per rule: fidelity = share of the "
                          "held-out patterns it covers that the model assigns to its class, constant = the "
                          "same share for the model's most common answer, accuracy = "
                          "share truly of that class, $n$ = patterns covered.")
    lines = [r"\begin{table}[htbp]", r"\centering", r"\small", r"\begin{tabular}{p{0.45\linewidth}lrrrr}", r"\toprule",
             r"Rule & Class & Fidelity & Constant & Accuracy & $n$ \\", r"\midrule"]
    rules = _ordered(tree_rules(tree_json), classes)
    if not rules:
        lines.append(rf"\multicolumn{{6}}{{l}}{{{_latex_escape(_no_rule_note(tree_json, classes))}}} \\")
    for r in rules:
        s = r.held_out or {}
        fidelity, constant, accuracy = (_fmt_score(s.get(k)).replace("–", "--")
                                        for k in ("fidelity", "constant_fidelity", "accuracy"))
        lines.append(f"{rule_conditions_text(r, 'latex')} & {_latex_escape(r.class_name)} & "
                     f"{fidelity} & {constant} & {accuracy} & "
                     f"{format_count(s.get('n') or 0, 'latex')} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}"]
    if label:
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def one_line_rule(tree_json: dict, positive: int = 1) -> dict:
    """The headline rule of a (depth-1) one-vs-rest tree: its leaf predicting ``positive``.

    Returns ``text`` ("number of peaks ≤ 28 → cubic (fidelity 0.91, accuracy 0.88, n = 5 213)"),
    where fidelity, accuracy and n are the whole tree's on the held-out split (the rule read as
    "this → cubic, otherwise not cubic"), plus ``rule`` (conditions only), ``class_name`` and
    ``covers`` (the held-out statistics of the leaf alone). With no leaf predicting ``positive``
    the leaf with the largest fitted share of ``positive`` is taken, and its own class printed.
    """
    rules = tree_rules(tree_json)
    hits = [r for r in rules if r.label == positive]
    if hits:
        rule = max(hits, key=lambda r: r.n_fit)
    else:
        k = tree_json["classes"].index(positive) if positive in tree_json["classes"] else None
        nodes = tree_json["nodes"]
        rule = max(rules, key=lambda r: nodes[r.leaf_id]["class_fractions"][k] if k is not None else 0.0)
    h = tree_json.get("held_out") or {}
    conditions = rule_conditions_text(rule)
    text = (f"{conditions} → {rule.class_name} (fidelity {_fmt_score(h.get('fidelity'))}, "
            f"accuracy {_fmt_score(h.get('accuracy'))}, n = {format_count(h.get('n') or 0)})")
    return {"text": text, "rule": conditions, "class_name": rule.class_name,
            "fidelity": h.get("fidelity"), "accuracy": h.get("accuracy"), "n": h.get("n"),
            "baseline_fidelity": h.get("baseline_fidelity"), "covers": rule.held_out,
            "scope": "fidelity/accuracy/n: the whole tree on the held-out split; covers: the rule's leaf alone"}


# --------------------------------------------------------------------------- depth sweep tables

SWEEP_COLUMNS = ("model", "depth", "actual_depth", "leaves", "fidelity", "accuracy", "n", "baseline_fidelity",
                 "fit_fidelity", "balanced_fidelity")


def write_sweep_csv(rows: Sequence[dict], path: str | Path) -> Path:
    """``sweep.csv`` of ``depth_sweep`` rows (columns ``SWEEP_COLUMNS``)."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=SWEEP_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def sweep_to_markdown(rows: Sequence[dict]) -> str:
    """Markdown table of ``depth_sweep`` rows: pick the shallowest tree whose fidelity is good enough."""
    lines = ["| model | depth | leaves | fidelity | fidelity of constant | balanced fidelity | accuracy | n "
             "| fit fidelity |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {_md_escape(r['model'])} | {r['depth']} | {r['leaves']} | {_fmt_score(r['fidelity'], 3)} | "
                     f"{_fmt_score(r.get('baseline_fidelity'), 3)} | {_fmt_score(r.get('balanced_fidelity'), 3)} | "
                     f"{_fmt_score(r['accuracy'], 3)} | {format_count(r['n'])} | {_fmt_score(r.get('fit_fidelity'), 3)} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- figure


def tree_figure(tree, specs: Sequence[FeatureSpec], class_names: dict[int, str], paths: Sequence[str | Path],
                title: str | None = None) -> list[Path]:
    """Draw the fitted ``tree`` (``sklearn.tree.plot_tree``) and save it to every path in ``paths``.

    Feature names carry their units ("2θ₁ (°)"); split values are scikit-learn's raw thresholds
    (28.5 on a count), which the text exports round. The size grows with the leaves and depth so
    labels stay legible in a paper; the format follows each path's suffix (.png, .svg, .pdf).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.tree import plot_tree

    leaves, depth = int(tree.get_n_leaves()), int(tree.get_depth())
    width = min(48.0, max(6.0, 1.9 * leaves))
    height = min(30.0, max(3.5, 2.1 * (depth + 1)))
    fig, ax = plt.subplots(figsize=(width, height))
    plot_tree(tree, ax=ax, feature_names=[s.label for s in specs],
              class_names=[class_names[int(c)] for c in tree.classes_], filled=True, rounded=True,
              impurity=False, proportion=False, fontsize=9 if leaves <= 16 else 7)
    if title:
        ax.set_title(title)
    # plot_tree cannot show where a missing feature (too few peaks) goes; the text exports can.
    fig.text(0.01, 0.005, "Left = condition true. Patterns lacking a feature (too few peaks) follow the side "
             "recorded in tree.json / rules.txt.", fontsize=7, color="0.4", va="bottom")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    written = []
    for path in paths:
        path = Path(path)
        fig.savefig(path, dpi=150 if path.suffix.lower() == ".png" else None)
        written.append(path)
    plt.close(fig)
    return written


def describe_path(tree_json: dict, pattern: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float) -> str:
    """The rule (decision path) of ``tree_json`` that fires for one pattern ``[G]``, as text.

    The features are computed exactly as in ``predict_patterns_with_tree_json``; the leaf rule that
    covers them is printed with its held-out fidelity and accuracy, e.g. ``number of peaks ≤ 28 →
    cubic (fidelity 0.91, accuracy 0.88, n = 5 213)``. This is what ``xrdnet predict`` shows as the
    reason behind a prediction.
    """
    _check_tree_json(tree_json)
    extraction = tree_json.get("feature_extraction") or {}
    config = PeakFinderConfig(**(extraction.get("peak_finder") or {}))
    X, specs = interpretable_features(np.atleast_2d(pattern), two_theta_deg, wavelength_angstrom,
                                      int(extraction.get("n_peaks", 10)), config)
    column = {sp.name: j for j, sp in enumerate(specs)}
    X = X[:, [column[f["name"]] for f in tree_json["features"]]]
    for rule in tree_rules(tree_json):
        if rule_covers(rule, X)[0]:
            return rule_text(rule)
    raise ValueError("no rule of the tree covers this pattern (a malformed tree JSON?)")


# --------------------------------------------------------------------------- headline rule


def headline_rule(candidates: Sequence[tuple[str, Rule, int]], X: np.ndarray, model_label, true_label,
                  class_names: dict[int, str]) -> dict:
    """The one rule worth a headline: the largest fidelity gain over the constant answer, held out.

    ``candidates`` are ``(tree name, rule, class)`` with ``class`` in the label space of
    ``model_label [P]`` / ``true_label [P]`` (a one-vs-rest leaf's positive class mapped back to
    its system); ``X [P, F]`` holds the held-out features in the rules' columns. Each rule is
    read as the classifier "rule true → its class, otherwise the constant", where the constant is
    the model's most common answer; outside the rule both agree, so its gain in fidelity over the
    constant is coverage × (fidelity on its leaf − the constant's fidelity on the same patterns).

    Returns ``text``, ``rule``, ``class_name``, ``tree``, the leaf's own ``fidelity``,
    ``constant_fidelity``, ``accuracy``, ``coverage`` and ``n``, the whole reading's
    ``reading_fidelity`` / ``constant_reading_fidelity`` / ``gain``, and ``balanced_fidelity`` (of
    "class vs rest" against the model's "class vs rest"). With no rule above the constant the
    text says so and ``beats_constant`` is False.
    """
    from xrdnet.explain.surrogate import balanced_agreement, constant_label

    model_label = np.asarray(model_label, dtype=np.int64)
    true_label = np.asarray(true_label, dtype=np.int64)
    constant = constant_label(model_label)
    constant_name = class_names.get(constant, str(constant))
    base = float(np.mean(model_label == constant))
    best = None
    for index, (tree_name, rule, label) in enumerate(candidates):
        if label == constant:
            continue  # answering the constant on a leaf gains nothing over the constant
        covered = rule_covers(rule, X)
        n = int(covered.sum())
        if n == 0:
            continue
        fidelity = float(np.mean(model_label[covered] == label))
        constant_fidelity = float(np.mean(model_label[covered] == constant))
        coverage = n / len(X)
        gain = coverage * (fidelity - constant_fidelity)
        key = (round(gain, 12), -len(rule.conditions), fidelity)
        if best is None or key > best[0]:
            best = (key, index, tree_name, rule, label, covered, n, fidelity, constant_fidelity, coverage, gain)
    if best is None or best[-1] <= 0:
        return {"beats_constant": False, "constant_class_name": constant_name, "constant_fidelity": base,
                "text": f"no rule beats always answering “{constant_name}” (held-out fidelity {base:.2f})"}
    _, index, tree_name, rule, label, covered, n, fidelity, constant_fidelity, coverage, gain = best
    binary_rule, binary_model = covered.astype(np.int64), (model_label == label).astype(np.int64)
    accuracy = float(np.mean(true_label[covered] == label))
    name = class_names.get(label, str(label))
    text = (f"{rule_conditions_text(rule)} → {name} (fidelity {fidelity:.2f} vs {constant_fidelity:.2f} for always "
            f"“{constant_name}”, accuracy {accuracy:.2f}, coverage {_fmt_pct(coverage)}, n = {format_count(n)})")
    return {"beats_constant": True, "text": text, "rule": rule_conditions_text(rule), "class_name": name,
            "label": int(label), "candidate": index,
            "tree": tree_name, "fidelity": fidelity, "constant_fidelity": constant_fidelity, "accuracy": accuracy,
            "coverage": coverage, "n": n, "gain": gain, "reading_fidelity": base + gain,
            "constant_reading_fidelity": base, "constant_class_name": constant_name,
            "balanced_fidelity": balanced_agreement(binary_rule, binary_model),
            "scope": "fidelity, constant_fidelity, accuracy, n: the held-out patterns the rule covers; "
                     "reading_fidelity: 'rule → class, else the constant' on all held-out patterns"}


# --------------------------------------------------------------------------- column-width rule figure

COLUMN_WIDTH_MM = 85.0
"""A journal's single column: the rule figure is drawn at this width and stays legible there."""
FIGURE_FONT_PT = 6.5
"""Smallest type in the rule figure: most journals ask for 5-7 pt at print size."""
_MM_PER_INCH = 25.4


def rules_figure(tree_json: dict, paths: Sequence[str | Path], title: str | None = None,
                 wrap_chars: int = 40) -> list[Path]:
    """The rules of a (shallow) tree as a column-width figure: one row per leaf, saved to every path.

    Each row reads "conditions → class" (units in every threshold, wrapped at ``wrap_chars``) with a
    bar of the leaf's held-out fidelity, a black tick at the constant's fidelity on the same
    patterns (the model's commonest answer: a bar short of its tick is a rule not worth citing)
    and the coverage. The figure is ``COLUMN_WIDTH_MM`` wide at ``FIGURE_FONT_PT``; PNG at 300 dpi,
    SVG/PDF as vectors (format from each suffix).
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rules = _ordered(tree_rules(tree_json), None)
    rows = []
    for r in rules:
        text = textwrap.wrap(f"{rule_conditions_text(r)} → {r.class_name}", wrap_chars) or ["always"]
        rows.append((r, text))
    n_lines = sum(len(t) for _, t in rows)
    line_in = FIGURE_FONT_PT * 1.35 / 72.0
    width_in = COLUMN_WIDTH_MM / _MM_PER_INCH
    header_in = 0.42 if title else 0.22
    height_in = header_in + 0.3 + line_in * n_lines + 0.05 * len(rows)
    fig = plt.figure(figsize=(width_in, height_in))
    text_ax = fig.add_axes((0.0, 0.0, 0.64, 1.0))
    bar_ax = fig.add_axes((0.655, 0.3 / height_in, 0.235, 1.0 - (header_in + 0.3) / height_in))
    text_ax.axis("off")
    y = 1.0 - header_in / height_in
    centres, blocks, fid, const, cov, colours = [], [], [], [], [], []
    cmap = plt.get_cmap("tab10")
    class_order = sorted({r.label for r, _ in rows})
    for r, text in rows:
        block = (line_in * len(text) + 0.05 * 1) / height_in
        text_ax.text(0.02, y - 0.025 / height_in, "\n".join(text), fontsize=FIGURE_FONT_PT, va="top", ha="left",
                     linespacing=1.15, transform=text_ax.transAxes)
        centres.append(y - block / 2)
        blocks.append(block)
        h = r.held_out or {}
        fid.append(h.get("fidelity") or 0.0)
        const.append(h.get("constant_fidelity"))
        cov.append(h.get("coverage"))
        colours.append(cmap(class_order.index(r.label) % 10))
        y -= block
    # Bars share the rows' vertical positions (figure fraction -> bar-axes fraction).
    bottom, top = 0.3 / height_in, 1.0 - header_in / height_in
    pos = [(c - bottom) / (top - bottom) for c in centres]
    # Every bar as tall as the smallest row allows, so bars of neighbouring rows never touch.
    bar_h = 0.6 * min(blocks, default=0.1) / (top - bottom)
    bar_ax.barh(pos, fid, height=bar_h, color=colours, alpha=0.85)
    for p, c, v in zip(pos, const, cov):
        if c is not None:
            bar_ax.plot([c, c], [p - bar_h / 1.6, p + bar_h / 1.6], color="black", lw=0.9)
        if v is not None:
            bar_ax.text(1.02, p, f"{100 * v:.0f}%", fontsize=FIGURE_FONT_PT - 1, va="center", ha="left",
                        transform=bar_ax.get_yaxis_transform(), clip_on=False)
    bar_ax.set_xlim(0, 1)
    bar_ax.set_ylim(0, 1)
    bar_ax.set_yticks([])
    bar_ax.set_xticks([0, 0.5, 1])
    bar_ax.tick_params(labelsize=FIGURE_FONT_PT - 1, length=2, pad=1)
    bar_ax.set_xlabel("leaf fidelity (| = constant)", fontsize=FIGURE_FONT_PT - 0.5, labelpad=1)
    bar_ax.text(1.02, 1.0, "coverage", fontsize=FIGURE_FONT_PT - 1.5, va="bottom", ha="left",
                transform=bar_ax.transAxes, clip_on=False)
    for side in ("top", "right", "left"):
        bar_ax.spines[side].set_visible(False)
    h = tree_json.get("held_out") or {}
    head = title or (f"{tree_json['name']}, depth {tree_json['depth']}: held-out fidelity "
                     f"{_fmt_score(h.get('fidelity'))} (constant {_fmt_score(h.get('baseline_fidelity'))})")
    fig.text(0.01, 1.0 - 0.04 / height_in, "\n".join(textwrap.wrap(head, 62)), fontsize=FIGURE_FONT_PT,
             va="top", ha="left", weight="bold")
    written = []
    # Text stays text in SVG/PDF (editable, searchable), as journals' production staff prefer.
    with matplotlib.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "xrdnet"}):
        for path in paths:
            path = Path(path)
            suffix = path.suffix.lower()
            # No creation date in the file: the same rules give the same bytes (reproducible exports).
            metadata = {"Date": None} if suffix == ".svg" else {"CreationDate": None} if suffix == ".pdf" else None
            fig.savefig(path, dpi=300 if suffix == ".png" else None, metadata=metadata)
            written.append(path)
    plt.close(fig)
    return written

"""Surrogate-tree rules as text a paper can print: plain text, Markdown, LaTeX, headline rules, sweep tables.

Everything here is made from the JSON document of ``xrdnet.explain.tree_json``. Thresholds print
in physical units: counts as integers (a split at 28.5 on a count reads "≤ 28"), angles in degrees
(``2θ₁ ≤ 23.41°``), spacings in Å, Q in 1/Å, ratios bare.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.explain.tree_json import Condition, Rule, covering_rule, rule_covers, tree_rules
from xrdnet.features import FeatureSpec

# Decimals a threshold prints with, per unit (counts are integers); enough to tell neighbouring
# peaks apart at laboratory resolution without pretending to more.
_DECIMALS = {"deg": 2, "Å": 2, "1/Å": 3, "1": 3}
_UNIT_TEXT = {"deg": "°", "Å": " Å", "1/Å": " 1/Å", "1": "", "count": ""}
_UNIT_LATEX = {"deg": r"$^\circ$", "Å": r"\,\AA", "1/Å": r"\,\AA$^{-1}$", "1": "", "count": ""}


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
    if spec.categories:  # codes 0..k-1: the names the thresholds keep, or those they leave out
        kept = [n for code, n in enumerate(spec.categories)
                if (c.lower is None or code > c.lower) and (c.upper is None or code <= c.upper)]
        left = [n for n in spec.categories if n not in kept]
        eq, ne, isin, notin = ("=", r"$\neq$", r"$\in$", r"$\notin$") if style == "latex" else ("=", "≠", "∈", "∉")
        if not kept:
            text = "never"
        elif len(kept) == 1:
            text = f"{name} {eq} {kept[0]}"
        elif len(left) == 1:
            text = f"{name} {ne} {left[0]}"
        elif len(kept) <= len(left):
            text = f"{name} {isin} {{{', '.join(kept)}}}"
        else:
            text = f"{name} {notin} {{{', '.join(left)}}}"
        if style == "latex":
            text = text.replace("{", r"\{").replace("}", r"\}")
    elif spec.unit == "count" and c.lower is not None and c.upper is not None \
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


# --------------------------------------------------------------------------- the rule behind one prediction


def describe_path(tree_json: dict, pattern: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float) -> str:
    """The rule (decision path) of ``tree_json`` that fires for one pattern ``[G]``, as text.

    The features are computed exactly as in ``predict_patterns_with_tree_json``; the leaf rule that
    covers them is printed with its held-out fidelity and accuracy, e.g. ``number of peaks ≤ 28 →
    cubic (fidelity 0.91, accuracy 0.88, n = 5 213)``. This is what ``xrdnet predict`` shows as the
    reason behind a prediction.
    """
    rule = covering_rule(tree_json, pattern, two_theta_deg, wavelength_angstrom)
    if rule is None:
        raise ValueError("no rule of the tree covers this pattern (a malformed tree JSON?)")
    return rule_text(rule)


# --------------------------------------------------------------------------- headline rule


HEADLINE_MIN_FIDELITY = 0.5
"""A headline rule must be what the model answers for most of the held-out patterns it covers: a broad leaf
whose class is only the plurality (say 32 % of seven classes) gains by its coverage alone, and "→ class" would
be false for most of the patterns it names."""


def headline_rule(candidates: Sequence[tuple[str, Rule, int]], X: np.ndarray, model_label, true_label,
                  class_names: dict[int, str]) -> dict:
    """The one rule worth a headline: the largest fidelity gain over the constant answer, held out.

    ``candidates`` are ``(tree name, rule, class)`` with ``class`` in the label space of
    ``model_label [P]`` / ``true_label [P]`` (a one-vs-rest leaf's positive class mapped back to
    its system); ``X [P, F]`` holds the held-out features in the rules' columns. Each rule is
    read as the classifier "rule true → its class, otherwise the constant", where the constant is
    the model's most common answer; outside the rule both agree, so its gain in fidelity over the
    constant is coverage × (fidelity on its leaf − the constant's fidelity on the same patterns).
    Only rules the model follows on most of their leaf (fidelity > ``HEADLINE_MIN_FIDELITY``) compete.

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
        if fidelity <= HEADLINE_MIN_FIDELITY:
            continue  # the model gives another answer on most of the leaf: not a rule to cite
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

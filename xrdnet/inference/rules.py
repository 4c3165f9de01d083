"""The surrogate rule behind an answer: the leaf of the checkpoint's tree that a pattern reaches.

A rule is shown only when its class is the answer (a rule for another class would explain nothing
the user was told), with the tree's fidelity to the network and accuracy on held-out data.
"""

from __future__ import annotations

import numpy as np

from xrdnet.inference.result import ClassScore, RuleExplanation


def rule_for_pattern(tree_json: dict, row: np.ndarray, grid: np.ndarray, wavelength_angstrom: float):
    """The ``Rule`` of ``tree_json`` whose leaf the pattern ``row [G]`` reaches (None if none covers it)."""
    from xrdnet.explain.tree_json import covering_rule

    return covering_rule(tree_json, row, grid, wavelength_angstrom)


def explain(tree_json: dict, row: np.ndarray, grid: np.ndarray, wavelength_angstrom: float, cs: ClassScore,
            sg: ClassScore) -> RuleExplanation | None:
    """The rule of this pattern's leaf for the answer ``cs``/``sg``, or None when its class is not the answer."""
    try:
        rule = rule_for_pattern(tree_json, row, grid, wavelength_angstrom)
    except (ValueError, KeyError):
        return None
    if rule is None:
        return None
    target = str(tree_json.get("name", ""))
    agrees = rule.class_name == cs.name or ("space_group" in target and rule.label == sg.index)
    if not agrees:
        return None
    from xrdnet.explain.rule_text import rule_text

    h = rule.held_out or {}
    return RuleExplanation(rule_text(rule), rule.class_name, h.get("fidelity"), h.get("accuracy"), h.get("n"))

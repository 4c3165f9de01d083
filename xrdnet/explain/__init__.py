"""Explain a trained model with rules a reader can check: surrogate decision trees on peak features.

- ``surrogate``: trees fitted to the model's predictions; fidelity, accuracy, depth sweep;
- ``tree_json``: the JSON document of a tree, its scikit-learn-free evaluator and its rules;
- ``rule_text``: the rules as text, Markdown and LaTeX; ``rule_figures``: tree and rule figures;
- ``rule_export``: the names of the three above, re-exported for one release;
- ``suzuki``: the cubic-vs-non-cubic experiment of Suzuki et al. (2020) on the true labels;
- ``rule_features``: the feature sets rules are written in;
- ``command``: ``xrdnet rules``, all of the above for one run and data set (the run's own model, or what
  ``xrdnet predict`` answers with a checkpoint: ``RulesConfig.answers``).

Features come from ``rule_features``: ``xrdnet.features.interpretable_features``, optionally with the
indexing features of ``xrdnet.indexing.features`` (``RulesConfig.features``).
"""

from xrdnet.explain.command import RulesConfig, compute_rule_inputs, export_all_rules, make_rules, write_target_rules
from xrdnet.explain.rule_figures import tree_figure
from xrdnet.explain.rule_text import (
    format_condition,
    format_threshold,
    one_line_rule,
    rule_text,
    rules_to_latex,
    rules_to_markdown,
    rules_to_text,
)
from xrdnet.explain.surrogate import (
    TARGETS,
    FittedSurrogate,
    SplitData,
    agreement,
    depth_sweep,
    fit_surrogate,
    target_labels,
)
from xrdnet.explain.suzuki import SuzukiConfig, suzuki_experiment
from xrdnet.explain.tree_json import (
    apply_tree_json,
    load_tree_json,
    predict_patterns_with_tree_json,
    rule_covers,
    surrogate_to_json,
    tree_rules,
    tree_to_json,
)

__all__ = [
    "RulesConfig", "compute_rule_inputs", "export_all_rules", "make_rules", "write_target_rules",
    "apply_tree_json", "format_condition", "format_threshold", "load_tree_json", "one_line_rule",
    "predict_patterns_with_tree_json", "rule_covers", "rule_text", "rules_to_latex", "rules_to_markdown", "rules_to_text",
    "surrogate_to_json", "tree_figure", "tree_rules", "tree_to_json",
    "TARGETS", "FittedSurrogate", "SplitData", "agreement", "depth_sweep", "fit_surrogate", "target_labels",
    "SuzukiConfig", "suzuki_experiment",
]

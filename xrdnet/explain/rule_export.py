"""Re-export of the rule-export names from their new homes, kept for one release; import from those.

Surrogate trees as rules a paper can print now live in three modules:

- ``xrdnet.explain.tree_json``: the JSON document (``tree_to_json``, ``load_tree_json``), its
  scikit-learn-free evaluation (``apply_tree_json``, ``predict_patterns_with_tree_json``) and its
  rules (``Condition``, ``Rule``, ``tree_rules``, ``rule_covers``);
- ``xrdnet.explain.rule_text``: rules as plain text, Markdown and LaTeX, the headline rules
  (``one_line_rule``, ``headline_rule``), ``describe_path`` and the depth-sweep tables;
- ``xrdnet.explain.rule_figures``: ``tree_figure`` and the column-width ``rules_figure``.
"""

from xrdnet.explain.rule_figures import COLUMN_WIDTH_MM, FIGURE_FONT_PT, rules_figure, tree_figure
from xrdnet.explain.rule_text import (
    RULE_LEGEND,
    SWEEP_COLUMNS,
    describe_path,
    format_condition,
    format_count,
    format_threshold,
    headline_rule,
    one_line_rule,
    rule_conditions_text,
    rule_text,
    rules_to_latex,
    rules_to_markdown,
    rules_to_text,
    sweep_to_markdown,
    write_sweep_csv,
)
from xrdnet.explain.tree_json import (
    FORMAT,
    VERSION,
    Condition,
    Rule,
    apply_tree_json,
    load_tree_json,
    predict_patterns_with_tree_json,
    rule_covers,
    surrogate_to_json,
    tree_rules,
    tree_to_json,
)

__all__ = [
    "FORMAT", "VERSION", "Condition", "Rule", "apply_tree_json", "load_tree_json", "predict_patterns_with_tree_json",
    "rule_covers", "surrogate_to_json", "tree_rules", "tree_to_json",
    "RULE_LEGEND", "SWEEP_COLUMNS", "describe_path", "format_condition", "format_count", "format_threshold",
    "headline_rule", "one_line_rule", "rule_conditions_text", "rule_text", "rules_to_latex", "rules_to_markdown",
    "rules_to_text", "sweep_to_markdown", "write_sweep_csv",
    "COLUMN_WIDTH_MM", "FIGURE_FONT_PT", "rules_figure", "tree_figure",
]

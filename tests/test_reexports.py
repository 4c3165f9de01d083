"""Names that moved to smaller modules stay importable from their old module (re-exported for one release)."""

from __future__ import annotations

import importlib

import pytest

MOVED = {
    "xrdnet.explain.rule_export": {
        "xrdnet.explain.tree_json": ["FORMAT", "VERSION", "Condition", "Rule", "apply_tree_json", "load_tree_json",
                                     "predict_patterns_with_tree_json", "rule_covers", "surrogate_to_json",
                                     "tree_rules", "tree_to_json"],
        "xrdnet.explain.rule_text": ["RULE_LEGEND", "SWEEP_COLUMNS", "describe_path", "format_condition",
                                     "format_count", "format_threshold", "headline_rule", "one_line_rule",
                                     "rule_conditions_text", "rule_text", "rules_to_latex", "rules_to_markdown",
                                     "rules_to_text", "sweep_to_markdown", "write_sweep_csv"],
        "xrdnet.explain.rule_figures": ["COLUMN_WIDTH_MM", "FIGURE_FONT_PT", "rules_figure", "tree_figure"],
    },
    "xrdnet.features": {
        "xrdnet.peak_finder": ["PeakFinderConfig", "Peaks", "find_peaks", "find_peaks_batch"],
        "xrdnet.units": ["q_inv_angstrom_from_two_theta", "two_theta_deg_from_q", "d_angstrom_from_two_theta"],
    },
    "xrdnet.peak_finder": {
        "xrdnet.units": ["q_inv_angstrom_from_two_theta", "two_theta_deg_from_q", "d_angstrom_from_two_theta"],
    },
    "xrdnet.simulate.profiles": {
        "xrdnet.simulate.profile_config": ["ProfileConfig", "ProfileParameters", "sample_parameters",
                                           "draw_parameters"],
    },
    "xrdnet.structures.synthetic": {
        "xrdnet.structures.synthetic_config": ["DEFAULT_ELEMENTS", "SyntheticConfig", "space_group_probabilities"],
        "xrdnet.structures.time_limit": ["AttemptTimeout", "_time_limit"],
    },
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_names_are_the_same_objects_in_the_old_module(old):
    old_module = importlib.import_module(old)
    for new, names in MOVED[old].items():
        new_module = importlib.import_module(new)
        for name in names:
            assert getattr(old_module, name) is getattr(new_module, name), f"{old}.{name} is not {new}.{name}"

"""The rule that picks a threshold (``xrdnet.checks.sweep``), on made-up sweep rows and measurements."""

from __future__ import annotations

import numpy as np

from xrdnet.checks.sweep import choose, is_one_family, run_checks, sweep

ROWS = [dict(value=v, frr=frr, detection=det) for v, frr, det in ((1, 0.0, 0.2), (2, 0.005, 0.6), (3, 0.02, 0.9))]


def test_the_value_in_force_is_kept_when_it_meets_the_rule():
    row, verdict = choose(ROWS, 2, 0.01)
    assert row["value"] == 2 and verdict.startswith("kept")


def test_otherwise_the_most_sensitive_value_meeting_the_rule_is_named():
    row, verdict = choose(ROWS, 3, 0.01)
    assert row["value"] == 2 and verdict.startswith("changed")
    assert choose(ROWS, 7, 0.01)[1] == "chosen"
    assert choose(ROWS, 3, -1.0) == (None, "no candidate meets the rule")


def test_the_sweep_reads_the_measurements_check_pattern_recorded():
    grid = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 4)
    x = np.arange(5.0, 90.0, 0.02)
    y = 10 + sum(h * np.exp(-0.5 * ((x - t) / 0.05) ** 2) for t, h in ((28.4, 1000), (47.3, 600), (56.1, 300),
                                                                       (69.1, 100), (76.4, 150)))
    code, m = run_checks(x, y, grid, 1.54056)
    assert code is None and m["n"] == len(m["peaks"]) == len(m["heights"]) >= 5 and not is_one_family(m, 1.54056)
    two = 10 + sum(h * np.exp(-0.5 * ((x - t) / 0.05) ** 2) for t, h in ((33.0, 1000), (47.0, 400)))
    code_few, few = run_checks(x, two, grid, 1.54056)
    assert code_few == "too_few_peaks" and few["n"] == 2
    out = sweep([m] * 4, {"too_few_peaks": [few], "amorphous": [m], "thin_film": [m]}, 1.54056)
    min_peaks = {r["value"]: r for r in out["MIN_PEAKS"]}
    assert min_peaks[3]["frr"] == 0.0 and min_peaks[3]["detection"] == 1.0  # 2 peaks < 3: detected
    assert set(out) == {"MIN_PEAKS", "AMORPHOUS_HUMP_RATIO, AMORPHOUS_MAX_PEAKS", "THIN_FILM_MAX_PEAKS"}

"""The threshold sweep behind ``xrdnet.checks.thresholds``: false refusals against detection, per candidate value.

``scripts/calibrate_checks.py`` builds the data (simulated single-phase validation patterns, whose every
refusal is false, and simulated negatives per check) and calls these; they hold the rule itself:
each refusing check's false-refusal rate ≤ ``max_frr``, the value in force kept when it meets it,
otherwise the most sensitive value that does. They read the measurements ``check_pattern`` recorded
(:func:`run_checks`), so the sweep and the checks decide on the very same numbers.
"""

from __future__ import annotations

import numpy as np

from xrdnet.checks.pattern import check_pattern
from xrdnet.checks.peaks import one_family
from xrdnet.checks.thresholds import AMORPHOUS_HUMP_RATIO


def run_checks(x, y, grid, lam, wavelength=None, x_unit_source="argument", metadata=None):
    """``check_pattern`` and what it decided on: ``(refusing code or None, {n, hump, peaks, heights} or None)``.

    The code is the refusing finding's own (``CheckedPattern.refusal_code``) and the measurements are
    what the peak checks decided on (``CheckedPattern.measured``; None when they did not run).
    """
    p = check_pattern(x, y, grid, lam, wavelength_angstrom=lam if wavelength is None else wavelength,
                      x_unit_source=x_unit_source, metadata=metadata)
    m = None
    if p.measured is not None:
        peaks, heights, hump = p.measured
        m = {"n": len(peaks), "hump": float(hump), "peaks": np.asarray(peaks), "heights": np.asarray(heights)}
    return p.refusal_code, m


def is_one_family(m: dict | None, lam: float) -> bool:
    """Whether measurements ``m`` (of :func:`run_checks`) are one family of orders (the thin-film test)."""
    return m is not None and m["n"] > 0 and one_family(m["peaks"], m["heights"], lam) is not None


def sweep(pos: list, negs: dict, lam: float) -> dict:
    """Per threshold: ``[{value, frr, detection}]`` over its candidates.

    ``pos``: measurements of single-phase validation patterns (every refusal false); ``negs``: per
    refusing code, measurements of simulated negatives of that check (``too_few_peaks``, ``amorphous``,
    ``thin_film``).
    """
    n_pos = np.array([m["n"] for m in pos])
    hump_pos = np.array([m["hump"] for m in pos])
    out = {}
    n_neg = np.array([m["n"] if m else 0 for m in negs["too_few_peaks"]])
    out["MIN_PEAKS"] = [dict(value=v, frr=float(np.mean(n_pos < v)), detection=float(np.mean(n_neg < v)))
                        for v in range(1, 9)]
    am = negs["amorphous"]
    n_am = np.array([m["n"] for m in am])
    hump_am = np.array([m["hump"] for m in am])
    rows = []
    for r in np.round(np.arange(0.2, 0.95, 0.05), 2):
        for k in range(1, 16):
            rows.append(dict(value=[float(r), k], frr=float(np.mean((hump_pos >= r) & (n_pos < k))),
                             detection=float(np.mean((hump_am >= r) & (n_am < k)))))
    out["AMORPHOUS_HUMP_RATIO, AMORPHOUS_MAX_PEAKS"] = rows
    fam_pos = np.array([is_one_family(m, lam) for m in pos]) & (hump_pos < AMORPHOUS_HUMP_RATIO)
    tf = negs["thin_film"]
    fam_neg = np.array([is_one_family(m, lam) for m in tf]) & (np.array([m["hump"] for m in tf]) < AMORPHOUS_HUMP_RATIO)
    n_tf = np.array([m["n"] for m in tf])
    out["THIN_FILM_MAX_PEAKS"] = [dict(value=v, frr=float(np.mean(fam_pos & (n_pos <= v))),
                                       detection=float(np.mean(fam_neg & (n_tf <= v)))) for v in range(2, 16)]
    return out


def choose(rows: list[dict], current, max_frr: float) -> tuple[dict | None, str]:
    """``(row, verdict)``: keep ``current`` when it meets the rule; else the most sensitive candidate that does."""
    ok = [r for r in rows if r["frr"] <= max_frr]
    cur = next((r for r in rows if r["value"] == current), None)
    if cur is not None and cur["frr"] <= max_frr:
        return cur, "kept (meets the rule)"
    if not ok:
        return None, "no candidate meets the rule"
    best = max(ok, key=lambda r: (r["detection"], -r["frr"]))
    return best, "changed (the value in force does not meet the rule)" if cur is not None else "chosen"

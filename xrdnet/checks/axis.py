"""The x-axis check: is the axis 2θ, and if it is Q or d, was that stated or only guessed?"""

from __future__ import annotations

import numpy as np

from xrdnet.checks.finding import X_AXIS_NOT_2THETA, Finding
from xrdnet.checks.thresholds import X_AXIS_MAX_FOR_DECREASING_D, X_AXIS_MAX_FOR_Q_OR_D

STATED_SOURCES_EXCLUDED = ("default", "guess", "values", None)
"""``x_unit_source`` values that mean nobody stated the unit (it was defaulted or told from the numbers)."""
UNIT_NAMES = {"q": "Q (1/Å)", "d": "d spacing (Å)"}


def check_x_axis(x: np.ndarray, x_unit: str, x_unit_source: str, was_decreasing: bool = False
                 ) -> tuple[list[Finding], Finding | None]:
    """``(findings, refusing finding or None)`` about the x axis ``x [M]`` (increasing: ``signal.ordered_axis``).

    ``x_unit_source``: "argument"/"header"/"file" (stated) or "default"/"guess"/"values". A stated Q or
    d axis is converted (a finding says so); a 2θ axis that only *looks* like Q or d (all values ≤
    ``X_AXIS_MAX_FOR_Q_OR_D``, or decreasing values in a d range) is refused, and so is a guessed Q/d.
    """
    stated = x_unit_source not in STATED_SOURCES_EXCLUDED
    lo, hi = float(np.min(x)), float(np.max(x))
    numbers = {"x_min": lo, "x_max": hi, "x_unit": x_unit, "x_unit_stated": stated}
    if x_unit in ("q", "d"):
        how = "stated" if stated else "guessed from the values"
        msg = (f"the x axis is {UNIT_NAMES[x_unit]} ({how}), not 2θ: converted to 2θ at the model's wavelength "
               "(no wavelength needed)")
        if stated:
            return [Finding(X_AXIS_NOT_2THETA, msg, measurements=numbers)], None
        refusal = Finding(X_AXIS_NOT_2THETA, msg + "; pass the unit (--x-unit) to confirm", True, numbers,
                          f"the x axis looks like {UNIT_NAMES[x_unit]}, not 2θ")
        return [refusal], refusal
    if stated:
        return [], None
    if hi <= X_AXIS_MAX_FOR_Q_OR_D:
        refusal = Finding(X_AXIS_NOT_2THETA,
                          f"x runs {lo:.3g}–{hi:.3g}: a Q (1/Å) or d (Å) range rather than powder 2θ in degrees; "
                          "say which with --x-unit {2theta,q,d} (x_unit=)", True, numbers,
                          "the x axis does not look like 2θ")
        return [refusal], refusal
    if was_decreasing and hi <= X_AXIS_MAX_FOR_DECREASING_D:
        refusal = Finding(X_AXIS_NOT_2THETA,
                          f"x decreases from {hi:.3g} to {lo:.3g}, as d spacings (Å) do; say which with --x-unit",
                          True, {**numbers, "was_decreasing": True}, "the x axis looks like d spacing, not 2θ")
        return [refusal], refusal
    return [], None

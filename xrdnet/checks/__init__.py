"""The checks before an answer: each one a :class:`Finding` with a stable code, its numbers, and whether it refuses.

==========================  ===========================================================  ==========
code                        when                                                         refuses?
==========================  ===========================================================  ==========
``x_axis_not_2theta``       the x axis is Q or d (stated: converted, no wavelength           if only
                            needed) or looks like it (values ≤ ``X_AXIS_MAX_FOR_Q_OR_D``,    guessed
                            or decreasing values in a d range) while called 2θ
``wavelength_assumed``      a 2θ axis without a stated wavelength: the model's (its line      no
                            and λ, e.g. Cu Kα1) is assumed and named
``low_coverage``            the pattern covers less than ``WARN_COVERAGE`` of the model's     below
                            2θ range (at its wavelength, i.e. of its Q range); the message    ``MIN_COVERAGE``
                            quotes the card's accuracy on validation scans cut alike
``too_few_peaks``           fewer than ``MIN_PEAKS`` sharp peaks                              yes
``amorphous``               a broad hump reaches ``AMORPHOUS_HUMP_RATIO`` of the pattern's    with fewer
                            height above its floor                                            than 6 peaks
``thin_film``               XRDML scan axis 2θ-ω / header words (warning); or the strong     one family
                            peaks are one family of orders (Q ratios 1:2:3…) (refusal)
==========================  ===========================================================  ==========

The predictor adds the findings that need the model (``likely_mixture``,
``mixture_detector_unavailable``, ``indexing_disagrees``, ``answer_from_indexing``,
``low_confidence``, ``prior``, ``forced``, ``reader``; see ``xrdnet.inference``).

- ``finding``: ``Finding``, ``PredictionWarning`` and the codes.
- ``thresholds``: every threshold with where its value comes from (``scripts/calibrate_checks.py``).
- ``axis``, ``peaks``, ``metadata``: one module per check; ``pattern``: all of them in order
  (:func:`check_pattern`) and the pattern on the model's grid.
- ``sweep``: false refusals against detection per candidate threshold, and the rule that picks one
  (``scripts/calibrate_checks.py`` builds the data and calls it).
"""

from xrdnet.checks.axis import check_x_axis
from xrdnet.checks.finding import (AMORPHOUS, ANSWER_FROM_INDEXING, FORCED, INDEXING_DISAGREES, LIKELY_MIXTURE,
                                   LOW_CONFIDENCE, LOW_COVERAGE, MIXTURE_UNAVAILABLE, PRIOR, READER, REFUSING_CODES,
                                   THIN_FILM, TOO_FEW_PEAKS, WAVELENGTH_ASSUMED, X_AXIS_NOT_2THETA, Finding,
                                   PredictionWarning, merge_by_code)
from xrdnet.checks.metadata import check_metadata
from xrdnet.checks.pattern import X_UNITS, CheckedPattern, check_pattern
from xrdnet.checks.peaks import check_peaks, one_family
from xrdnet.checks.thresholds import (AMORPHOUS_HUMP_RATIO, AMORPHOUS_MAX_PEAKS, BACKGROUND_WINDOW_DEG, MIN_COVERAGE,
                                      MIN_PEAKS, PEAK_SIGMAS, SHARP_PEAK_MIN_HEIGHT, SMOOTH_DEG,
                                      THIN_FILM_FAMILY_SHARE, THIN_FILM_MAX_FAMILY_PEAKS, THIN_FILM_MAX_PEAKS,
                                      WARN_COVERAGE, X_AXIS_MAX_FOR_Q_OR_D)

THRESHOLD_NAMES = ("MIN_PEAKS", "AMORPHOUS_HUMP_RATIO", "AMORPHOUS_MAX_PEAKS", "THIN_FILM_MAX_PEAKS",
                   "THIN_FILM_FAMILY_SHARE", "THIN_FILM_MAX_FAMILY_PEAKS", "MIN_COVERAGE", "X_AXIS_MAX_FOR_Q_OR_D")
"""The thresholds ``scripts/calibrate_checks.py`` reports (and sweeps where it can)."""

__all__ = [
    "AMORPHOUS", "AMORPHOUS_HUMP_RATIO", "AMORPHOUS_MAX_PEAKS", "ANSWER_FROM_INDEXING", "BACKGROUND_WINDOW_DEG",
    "CheckedPattern", "FORCED", "Finding", "INDEXING_DISAGREES", "LIKELY_MIXTURE", "LOW_CONFIDENCE", "LOW_COVERAGE",
    "MIN_COVERAGE", "MIN_PEAKS", "MIXTURE_UNAVAILABLE", "PEAK_SIGMAS", "PRIOR", "PredictionWarning", "READER",
    "REFUSING_CODES", "SHARP_PEAK_MIN_HEIGHT", "SMOOTH_DEG", "THIN_FILM", "THIN_FILM_FAMILY_SHARE",
    "THIN_FILM_MAX_FAMILY_PEAKS", "THIN_FILM_MAX_PEAKS", "THRESHOLD_NAMES", "TOO_FEW_PEAKS", "WARN_COVERAGE",
    "WAVELENGTH_ASSUMED", "X_AXIS_MAX_FOR_Q_OR_D", "X_AXIS_NOT_2THETA", "X_UNITS", "check_metadata",
    "check_pattern", "check_peaks", "check_x_axis", "merge_by_code", "one_family",
]

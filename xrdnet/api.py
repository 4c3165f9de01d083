"""One prediction API under the CLI: arrays in, a typed, honest result out.

>>> import xrdnet
>>> result = xrdnet.predict(two_theta_deg, intensity, wavelength="CuKa")      # doctest: +SKIP
>>> result.crystal_system.name, result.crystal_system.probability, [w.code for w in result.warnings]

:class:`Predictor` loads a checkpoint (or several: an ensemble averages their calibrated probabilities)
once and answers many patterns; :func:`predict` is the one-call form with the shipped checkpoint.
Files are read by ``xrdnet.patterns_io`` and handed over as :class:`~xrdnet.patterns_io.MeasuredPattern`
(:meth:`Predictor.predict_pattern`); ``xrdnet predict`` and ``predict_files`` are thin layers on top.

Before it answers, every pattern is checked (pure functions on arrays, :func:`check_pattern`), and
each finding is a :class:`PredictionWarning` with a code:

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
``likely_mixture``          the mixture detector (``xrdnet.mixture``) says so                no
``mixture_detector_``       the checkpoint's mixture detector failed to load or to run: no    no
``unavailable``             pattern of the batch could be flagged ``likely_mixture``
``indexing_disagrees``      the peaks index confidently (``xrdnet.indexing.evidence``) on    no
                            a cell of another crystal system than the answer; names it
``low_confidence``          below ``min_confidence``: the answer is "uncertain"               (abstains)
``prior``                   ``prior=`` re-weighted the probabilities                          no
``forced``                  ``force=True`` answered despite a refusal                         (answers)
``reader``                  what the file reader repaired or guessed (reversed axis, ...)     no
==========================  ===========================================================  ==========

A refused pattern gets no class answer (``refused`` with ``refusal_reason``) unless ``force=True``.
Probabilities are temperature-scaled with the checkpoint's ``calibration.json`` (fitted on simulated
validation data) and can be re-weighted for a known sample population (``prior=``).

This module is a re-export shim (kept for one release): the code lives in layers that pass codes and
numbers, not sentences:

- ``xrdnet.signal``: axis, background split, noise level, sharp peaks (pure array code);
- ``xrdnet.checks``: one ``Finding(code, message, refuses, measurements)`` per check, the thresholds with
  their provenance, and ``check_pattern``;
- ``xrdnet.checkpoint``: ``Checkpoint.load(name | path)``, ``ModelCard``, the shipped names, the format version;
- ``xrdnet.inference``: ``Predictor(Checkpoint)``, ``PredictionResult`` and friends, text and JSON.
"""

from __future__ import annotations

from xrdnet.checkpoint.parts import describe_failure as _failure  # noqa: F401 - old private name
from xrdnet.checkpoint.parts import load_mixture as _load_mixture
from xrdnet.checkpoint.registry import default_checkpoint
from xrdnet.checks import (AMORPHOUS_HUMP_RATIO, AMORPHOUS_MAX_PEAKS, BACKGROUND_WINDOW_DEG,  # noqa: F401
                           MIN_COVERAGE, MIN_PEAKS, MIXTURE_UNAVAILABLE, PEAK_SIGMAS, REFUSING_CODES,
                           SHARP_PEAK_MIN_HEIGHT, SMOOTH_DEG, THIN_FILM_FAMILY_SHARE, THIN_FILM_MAX_FAMILY_PEAKS,
                           THIN_FILM_MAX_PEAKS, WARN_COVERAGE, X_AXIS_MAX_FOR_Q_OR_D, X_UNITS, CheckedPattern,
                           Finding, PredictionWarning, check_metadata, check_pattern, check_peaks, check_x_axis)
from xrdnet.checks.peaks import one_family as _one_family  # noqa: F401 - old private name
from xrdnet.checks.thresholds import THIN_FILM_WORDS as _THIN_FILM_WORDS  # noqa: F401 - old private name
from xrdnet.inference.predictor import _DEFAULT, Predictor, predict  # noqa: F401
from xrdnet.inference.result import ClassScore, ModelInfo, PredictionResult, RuleExplanation, Warning  # noqa: F401
from xrdnet.inference.rules import rule_for_pattern  # noqa: F401
from xrdnet.signal import noise_sigma, peak_measurements  # noqa: F401
from xrdnet.signal.axis import q_of_axis as _x_to_q  # noqa: F401 - old private name
from xrdnet.signal.background import sharp_and_broad as _sharp_part  # noqa: F401 - old private name

_Prepared = CheckedPattern  # the old private name of a checked pattern

__all__ = [
    "Predictor",
    "PredictionResult",
    "PredictionWarning",
    "ClassScore",
    "RuleExplanation",
    "ModelInfo",
    "predict",
    "check_pattern",
    "default_checkpoint",
    "X_UNITS",
]


def _mixture_detector(checkpoint):
    """Old private form of ``xrdnet.checkpoint.parts.load_mixture``: ``(detector or None, problem or None)``."""
    return _load_mixture(checkpoint, stacklevel=4)

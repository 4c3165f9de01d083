"""What a check says: a :class:`Finding` with a stable code, the numbers it measured, and whether it refuses.

Layers pass findings, not sentences: the predictor, ``scripts/calibrate_checks.py`` and the tests
act on ``code``, ``refuses`` and ``measurements``; ``message`` (and ``reason``, the short refusal
text of a refusing finding) is written once, by the check, for the person reading the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---- codes of the checks before the model runs (see xrdnet.checks for when each is raised)
X_AXIS_NOT_2THETA = "x_axis_not_2theta"
WAVELENGTH_ASSUMED = "wavelength_assumed"
LOW_COVERAGE = "low_coverage"
TOO_FEW_PEAKS = "too_few_peaks"
AMORPHOUS = "amorphous"
THIN_FILM = "thin_film"

REFUSING_CODES = (X_AXIS_NOT_2THETA, LOW_COVERAGE, TOO_FEW_PEAKS, AMORPHOUS, THIN_FILM)
"""The checks that can refuse an answer (each refuses only past its threshold)."""

# ---- codes the predictor adds after the model runs
LIKELY_MIXTURE = "likely_mixture"
MIXTURE_UNAVAILABLE = "mixture_detector_unavailable"
"""Code of the results the mixture detector could not judge (it failed to load or to run)."""
INDEXING_DISAGREES = "indexing_disagrees"
ANSWER_FROM_INDEXING = "answer_from_indexing"
LOW_CONFIDENCE = "low_confidence"
PRIOR = "prior"
FORCED = "forced"
READER = "reader"


@dataclass(frozen=True)
class PredictionWarning:
    """One finding about a pattern as a result reports it: a stable ``code`` and a sentence."""

    code: str
    message: str

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one pattern.

    Attributes:
        code: one of the codes above.
        message: the sentence a result shows (``PredictionWarning.message``).
        refuses: True when the answer would be meaningless (unless forced).
        measurements: the numbers the check decided on (``n_sharp_peaks``, ``hump_ratio``,
            ``coverage``, ``x_min``/``x_max``...), named with their units.
        reason: the short refusal text (``PredictionResult.refusal_reason``) of a refusing finding.
    """

    code: str
    message: str
    refuses: bool = False
    measurements: dict = field(default_factory=dict, compare=False)
    reason: str | None = None

    def as_warning(self) -> PredictionWarning:
        """The finding as a result reports it (code and sentence)."""
        return PredictionWarning(self.code, self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def merge_by_code(findings: list[Finding], extra: Finding) -> list[Finding]:
    """``findings`` with ``extra`` added: one finding per code, so a second one of a code joins the first's sentence.

    The first keeps its ``refuses`` and ``reason``; measurements are combined.
    """
    for i, f in enumerate(findings):
        if f.code == extra.code:
            merged = Finding(f.code, f.message + "; " + extra.message, f.refuses,
                             {**extra.measurements, **f.measurements}, f.reason)
            return findings[:i] + [merged] + findings[i + 1:]
    return findings + [extra]

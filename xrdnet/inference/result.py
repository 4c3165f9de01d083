"""The typed answer for one pattern: :class:`PredictionResult` and what it is made of, and its JSON form.

``PredictionResult.to_dict`` is the ``xrdnet predict --json`` object (one per file); its keys are
stable, and ``xrdnet.inference.text`` renders the same dict as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xrdnet.checks.finding import PredictionWarning

Warning = PredictionWarning  # noqa: A001 - the name the issue uses; PredictionWarning avoids shadowing


@dataclass(frozen=True)
class ClassScore:
    """A class and its probability: crystal system (``index`` 0..6) or space group (``index`` = ITA number)."""

    name: str
    index: int
    probability: float


@dataclass(frozen=True)
class RuleExplanation:
    """The surrogate tree's rule for this pattern's leaf, shown only when its class is the answer."""

    text: str
    class_name: str
    fidelity: float | None
    accuracy: float | None
    n: int | None


@dataclass(frozen=True)
class ModelInfo:
    """What answered: checkpoint name(s), kind(s), calibration, and the measured figures of its card."""

    name: str
    kinds: tuple[str, ...]
    paths: tuple[str, ...]
    calibrated: bool
    temperatures: tuple[tuple[float, float], ...]
    real_cs_accuracy: float | None = None
    real_baseline_cs_accuracy: float | None = None
    real_n: int | None = None
    real_set: str | None = None
    wavelength_angstrom: float | None = None
    """The run's own (``LoadedRun.wavelength_angstrom``); required: no model is trained at an assumed one."""
    two_theta_range_deg: tuple[float, float] = (5.0, 90.0)
    real_by_scan_range: tuple[dict, ...] = ()
    """The card's accuracy on the measured set cut to laboratory scan ranges (``xrdnet calibrate``)."""
    real_network_cs_accuracy: float | None = None
    """The network's own accuracy on the measured set; ``real_cs_accuracy`` is that of the answers as given."""
    real_with_indexing: bool = False
    """Whether ``real_cs_accuracy`` is that of the answers as this predictor gives them (forest pool, indexing)
    rather than the network's own."""
    forest_weight: float | None = None
    """The weight of the forest the networks' crystal-system probabilities are pooled with, None without one."""
    indexing_mixed_in: bool = True
    """Whether a confident indexing cell is mixed into the answer (``Predictor.combine_indexing``)."""
    search_match_weight: float | None = None
    """The weight of the search-match vote the answer is pooled with last, None without a reference library."""

    def __post_init__(self) -> None:
        if self.wavelength_angstrom is None:
            raise ValueError(f"model {self.name}: no wavelength stated for its training patterns; a 2θ answer "
                             "needs the model's wavelength (no default is assumed)")

    def scan_range_note(self, start_deg: float, end_deg: float) -> str:
        """What a scan of 2θ ``start_deg``–``end_deg`` costs this model, from its card: the measured accuracy
        on the validation scans cut to the nearest laboratory range, beside the full-range figure."""
        from xrdnet.simulate.coverage import nearest_scan_range

        # the card's cut-range figures are the networks' own, or (a forest pool) the pooled answers'
        full = self.real_network_cs_accuracy if self.real_network_cs_accuracy is not None else self.real_cs_accuracy
        what = "network alone"
        if self.forest_weight is not None and self.real_cs_accuracy is not None:
            full, what = self.real_cs_accuracy, "pooled with the forest"
            what += "" if self.search_match_weight is None else " and search-match"
        if not self.real_by_scan_range or full is None:
            return "this model's accuracy on such short scans is not on record (card.json)"
        entry = self.real_by_scan_range[nearest_scan_range(
            start_deg, end_deg, [e["two_theta_range_deg"] for e in self.real_by_scan_range])]
        lo, hi = entry["two_theta_range_deg"]
        return (f"on the {self.real_n or ''} measured {self.real_set or 'validation'} scans cut to {lo:.0f}–{hi:.0f}° "
                f"this model gets the crystal system right {100 * entry['cs_accuracy']:.1f} % of the time "
                f"({100 * full:.1f} % over its full range; {what})").replace("  ", " ")

    def headline(self) -> str:
        """One line: the model, its measured accuracy on real patterns and the constant baseline."""
        text = f"model {self.name}"
        if self.real_cs_accuracy is not None:
            text += (f": {100 * self.real_cs_accuracy:.1f} % crystal-system accuracy on "
                     f"{self.real_n or ''} measured {self.real_set or 'real'} patterns".replace("  ", " "))
            if self.real_with_indexing and self.real_network_cs_accuracy is not None:
                network = 100 * self.real_network_cs_accuracy
                text += (f" {evidence_words(self.forest_weight, self.indexing_mixed_in, self.search_match_weight)}"
                         f" ({network:.1f} % network alone)")
            if self.real_baseline_cs_accuracy is not None:
                text += f" (always answering the commonest system: {100 * self.real_baseline_cs_accuracy:.1f} %)"
        else:
            text += ": no measured real-pattern accuracy on record (card.json)"
        return text + ("" if self.calibrated else "; probabilities not calibrated")


def evidence_words(forest_weight: float | None, indexing_mixed_in: bool = True,
                   search_match_weight: float | None = None) -> str:
    """What the answers' measured figure includes beyond the networks, for a header line."""
    matched = "" if search_match_weight is None else f" and with search-match at weight {search_match_weight:.2f}"
    if forest_weight is None:
        return "with the indexing evidence" + matched
    pooled = f"pooled with the peak-and-indexing forest at weight {forest_weight:.2f}"
    return pooled + (" and the indexing evidence" if indexing_mixed_in else "") + matched


@dataclass
class PredictionResult:
    """The answer for one pattern.

    ``status`` is ``"answered"``, ``"uncertain"`` (top probability below ``min_confidence``: no
    single answer, see ``top_crystal_systems``) or ``"refused"`` (``refusal_reason``; no class
    answer, unless forced). ``crystal_system`` / ``space_group`` are None unless answered (or
    forced). ``space_group`` is the best group within the predicted crystal system; when that is
    not the overall most probable group, ``space_group_is_overall_top`` is False. Probabilities
    are calibrated (and re-weighted by the prior, when one is given): ``crystal_system_proba [7]``,
    ``space_group_proba [230]`` (column j = group j + 1), empty when refused. When a confident
    indexing cell was combined with the network (``Predictor(combine_indexing=True)``, the default),
    they are the combined probabilities and ``network_crystal_system`` is the network's own answer.
    ``reference_matches`` are the closest reference patterns of the checkpoint's search-match library (best
    first: database id, formula, crystal system, space group, cosine similarity 0..1 and the sample's d over
    the reference's), empty for a checkpoint without one.
    """

    status: str
    model: ModelInfo
    crystal_system: ClassScore | None = None
    space_group: ClassScore | None = None
    space_group_is_overall_top: bool = True
    top_crystal_systems: list[ClassScore] = field(default_factory=list)
    top_space_groups: list[ClassScore] = field(default_factory=list)
    crystal_system_proba: np.ndarray = field(default_factory=lambda: np.zeros(0))
    space_group_proba: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warnings: list[PredictionWarning] = field(default_factory=list)
    refusal_reason: str | None = None
    forced: bool = False
    rule: RuleExplanation | None = None
    peaks_two_theta_deg: list[float] = field(default_factory=list)
    coverage: float = 1.0
    wavelength_angstrom: float | None = None
    wavelength_source: str = "default"
    x_unit: str = "2theta"
    prior: str | None = None
    mixture_probability: float | None = None
    mixture_detector_probability: float | None = None
    source: str | None = None
    cell: dict | None = None
    cell_of_predicted_system: dict | None = None
    network_crystal_system: ClassScore | None = None
    combined_with_indexing: bool = False
    reference_matches: list[dict] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.status == "refused"

    @property
    def uncertain(self) -> bool:
        return self.status == "uncertain"

    @property
    def warning_codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def to_dict(self) -> dict:
        """Plain-JSON form (``xrdnet predict --json``)."""
        def score(s: ClassScore | None, kind: str) -> dict | None:
            if s is None:
                return None
            if kind == "cs":
                return {"name": s.name, "index": s.index, "probability": s.probability}
            return {"number": s.index, "symbol": s.name, "probability": s.probability}

        m = self.model
        return {
            "file": self.source,
            "status": self.status,
            "refused": self.refused,
            "refusal_reason": self.refusal_reason,
            "forced": self.forced,
            "crystal_system": score(self.crystal_system, "cs"),
            "space_group": score(self.space_group, "sg"),
            "space_group_is_overall_top": self.space_group_is_overall_top,
            "top_k": {"crystal_system": [score(s, "cs") for s in self.top_crystal_systems],
                      "space_group": [score(s, "sg") for s in self.top_space_groups]},
            "rule": None if self.rule is None else self.rule.text,
            "rule_fidelity": None if self.rule is None else self.rule.fidelity,
            "peaks_two_theta_deg": self.peaks_two_theta_deg,
            "coverage": self.coverage,
            "wavelength_angstrom": self.wavelength_angstrom,
            "wavelength_source": self.wavelength_source,
            "x_unit": self.x_unit,
            "prior": self.prior,
            "mixture_probability": self.mixture_probability,
            "mixture_detector_probability": self.mixture_detector_probability,
            "cell": self.cell,
            "cell_of_predicted_system": self.cell_of_predicted_system,
            "network_crystal_system": score(self.network_crystal_system, "cs"),
            "combined_with_indexing": self.combined_with_indexing,
            "reference_matches": self.reference_matches,
            "warnings": [w.to_dict() for w in self.warnings],
            "model": {"name": m.name, "kinds": list(m.kinds), "calibrated": m.calibrated,
                      "temperatures": [list(t) for t in m.temperatures],
                      "real_cs_accuracy": m.real_cs_accuracy, "real_network_cs_accuracy": m.real_network_cs_accuracy,
                      "real_with_indexing": m.real_with_indexing, "forest_weight": m.forest_weight,
                      "indexing_mixed_in": m.indexing_mixed_in, "search_match_weight": m.search_match_weight,
                      "real_baseline_cs_accuracy": m.real_baseline_cs_accuracy, "real_n": m.real_n,
                      "real_set": m.real_set},
        }

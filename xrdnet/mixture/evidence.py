"""The mixture flag from evidence: the detector network's logit beside how well single cells index the peaks.

A second phase shows itself as lines that no single lattice explains. ``xrdnet predict`` has already
indexed the sharp peaks (the ``cell`` it reports), so the de Wolff M of the best cell of each family
costs nothing more at prediction time. A single phase indexes on its own cell and on every setting of
lower symmetry with the same M (a cubic cell is also a tetragonal, hexagonal and orthorhombic one); in a
mixture the families that must reach the second phase's lines fit them with lower M. The figures are
combined with the detector's logit by a logistic regression (``EvidenceCombiner``)::

    p(mixture | x) = σ(w · (x − μ) / s + b)       x = ``evidence_row(...)`` [F], F = len(EVIDENCE_FEATURES)

fitted on simulated specimens of the data set's *validation* compounds, rendered like the detector's
training specimens (never on measured scans). Its threshold is chosen on the single-phase measured
validation scans for at most 10 % flagged (``scripts/fit_mixture_evidence.py``). The weights are numbers in
``evidence.json`` beside the detector, tied to its weights by their SHA-256, read without unpickling.

Measured (``python scripts/fit_mixture_evidence.py --data data/real.h5 --real ../shared/data/rruff``):
at 9.9 % of the 454 single-phase RRUFF validation scans flagged, validation mixtures made of those scans
(2-3 scans of different space groups, fractions ≥ 0.2, two draws of 600) are flagged 49.7 % / 51.8 %
against 38.0 % / 40.7 % for the detector alone at the same false alarms (AUROC 0.831 / 0.843 against
0.805 / 0.818); a second detector seed: 50.7 % / 52.7 % against 42.7 % / 44.5 %. Simulated test specimens:
7.7 % / 63.3 % (singles / mixtures flagged) against 6.4 % / 52.9 %. The indexed shares and the number
of sharp peaks were tried and left out (``EVIDENCE_FEATURES``); neither the two-cell test
(``scripts/bench_two_cell_mixtures.py``) nor a monoclinic cell added anything on the measured mixtures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrdnet.indexing.families import FAMILIES

EVIDENCE_FAMILIES = tuple(FAMILIES)
"""The lattice families whose best cells enter the evidence (those ``predict`` indexes)."""

EVIDENCE_FEATURES = ("detector_logit", "best_log_merit") + tuple(f"{name}_log_merit" for name in EVIDENCE_FAMILIES)
"""The columns of :func:`evidence_row`: the detector's logit, then log(1 + M) of the best cell and of each
family's best cell (0 where none is found). The indexed shares and the number of sharp peaks were tried
and left out: simulated single phases have about twice the sharp peaks of measured ones (median 33
against 17), and a fit on simulated specimens with them flagged 36.5 % / 40.3 % of the measured validation
mixtures at 10 % false alarms, no better than the detector alone (38.0 % / 40.7 %)."""

PROBABILITY_CLIP = 1e-4
"""The detector's probability is clipped to [clip, 1 − clip] before its logit (a saturated sigmoid stays finite)."""


def evidence_row(detector_probability: float, indexing) -> np.ndarray:
    """``[F]`` float64 evidence of one pattern: the detector's probability and the ``IndexingResult`` of its sharp
    peaks (None when too few were found)."""
    p = float(np.clip(detector_probability, PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP))

    def log_merit(cell) -> float:
        return 0.0 if cell is None else float(np.log1p(cell.figure_of_merit))

    cells = {} if indexing is None else indexing.cells
    return np.array([np.log(p / (1.0 - p)), log_merit(None if indexing is None else indexing.best),
                     *(log_merit(cells.get(name)) for name in EVIDENCE_FAMILIES)], dtype=np.float64)


def evidence_of_checked(checked, wavelength_angstrom: float, detector_probability: float) -> np.ndarray:
    """:func:`evidence_row` of a checked pattern (``xrdnet.checks.check_pattern``'s result): its sharp peaks
    indexed as ``predict`` indexes them (at the model's wavelength, Kα2 partners dropped)."""
    from xrdnet.indexing.evidence import index_measured_peaks

    peaks = checked.sharp_peaks
    return evidence_row(detector_probability, None if peaks is None else index_measured_peaks(*peaks, wavelength_angstrom))


def evidence_of_row(row: np.ndarray, grid_two_theta_deg: np.ndarray, wavelength_angstrom: float,
                    detector_probability: float) -> np.ndarray:
    """:func:`evidence_row` of a pattern on the model's grid (``row [G]``), its peaks found and indexed as
    ``predict`` finds and indexes a file's."""
    from xrdnet.checks import check_pattern

    checked = check_pattern(grid_two_theta_deg, np.asarray(row, np.float64), grid_two_theta_deg, wavelength_angstrom,
                            wavelength_angstrom=wavelength_angstrom, x_unit_source="argument")
    return evidence_of_checked(checked, wavelength_angstrom, detector_probability)


@dataclass
class EvidenceCombiner:
    """A logistic regression on standardised evidence rows; ``threshold`` is its decision threshold."""

    features: tuple[str, ...]
    mean: np.ndarray  # [F]
    scale: np.ndarray  # [F]
    coef: np.ndarray  # [F]
    intercept: float
    threshold: float = 0.5
    record: dict | None = None

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """``[B]`` mixture probability of evidence rows ``[B, F]`` (or one row ``[F]`` → ``[1]``)."""
        x = np.atleast_2d(np.asarray(rows, np.float64))
        if x.shape[1] != len(self.features):
            raise ValueError(f"evidence rows have {x.shape[1]} columns; the combiner takes {len(self.features)}")
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": float(self.intercept), "threshold": float(self.threshold),
                "record": self.record or {}}

    @classmethod
    def from_dict(cls, d: dict) -> "EvidenceCombiner":
        features = tuple(d["features"])
        if features != EVIDENCE_FEATURES:
            raise ValueError(f"the stored mixture evidence uses features {list(features)}; this xrdnet computes "
                             f"{list(EVIDENCE_FEATURES)}")
        arrays = {k: np.asarray(d[k], np.float64) for k in ("mean", "scale", "coef")}
        if any(a.shape != (len(features),) for a in arrays.values()):
            raise ValueError("the stored mixture evidence has arrays of the wrong length")
        return cls(features, arrays["mean"], arrays["scale"], arrays["coef"], float(d["intercept"]),
                   float(d.get("threshold", 0.5)), d.get("record") or {})


def fit_combiner(rows: np.ndarray, is_mixture: np.ndarray, regularisation: float = 1.0) -> EvidenceCombiner:
    """A combiner fitted to evidence rows ``[N, F]`` of single phases (False) and mixtures (True)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(rows, np.float64)
    y = np.asarray(is_mixture, bool)
    if x.ndim != 2 or x.shape[1] != len(EVIDENCE_FEATURES) or len(x) != len(y):
        raise ValueError(f"need rows [N, {len(EVIDENCE_FEATURES)}] and one label per row, got {x.shape}, {y.shape}")
    if y.all() or not y.any():
        raise ValueError("need both single phases and mixtures to fit the evidence combiner")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model = LogisticRegression(C=regularisation, max_iter=2000).fit((x - mean) / scale, y)
    return EvidenceCombiner(EVIDENCE_FEATURES, mean, scale, model.coef_[0].astype(np.float64),
                            float(model.intercept_[0]))

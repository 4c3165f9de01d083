"""The features surrogate rules are written in: peak-list features, optionally with the indexing evidence.

``interpretable`` is ``xrdnet.features.interpretable_features`` (peak positions, d and Q of the first
peaks, their ratios, peak counts, the cubic-indexed share). ``interpretable_indexing`` adds the
indexing features of ``xrdnet.indexing.features`` (per lattice family the indexed share of the lines
and de Wolff's M of its best cell, the best cell's system, centring and zero shift): a crystallographer's
evidence, and the evidence the shipped checkpoint's forest reads, so rules in these features can say
"indexes on a tetragonal cell with M > 20 -> tetragonal".

The set a tree was fitted on is stored in its ``feature_extraction`` (``feature_set``), so ``predict``
computes the same columns for a new pattern (``xrdnet.explain.tree_json.tree_features``).
"""

from __future__ import annotations

import numpy as np

from xrdnet.features import FeatureSpec, interpretable_features
from xrdnet.peak_finder import PeakFinderConfig

RULE_FEATURE_SETS = ("interpretable", "interpretable_indexing")


def rule_features(patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                  feature_set: str = "interpretable", n_peaks: int = 10,
                  peak_finder: PeakFinderConfig = PeakFinderConfig(), n_jobs: int = 1,
                  ) -> tuple[np.ndarray, list[FeatureSpec]]:
    """``(X [P, F] float64, specs)`` of ``patterns [P, G]`` on ``two_theta_deg [G]`` at λ (Å, Kα1 for a doublet).

    ``n_jobs`` worker processes for the indexing features (they cost ~0.1 s a pattern; 1 = this process).
    """
    if feature_set not in RULE_FEATURE_SETS:
        raise ValueError(f"feature_set must be one of {RULE_FEATURE_SETS}, got {feature_set!r}")
    X, specs = interpretable_features(patterns, two_theta_deg, wavelength_angstrom, n_peaks, peak_finder)
    if feature_set == "interpretable_indexing":
        from xrdnet.indexing.features import indexing_feature_specs, indexing_features

        extra = indexing_features(np.atleast_2d(patterns), two_theta_deg, wavelength_angstrom, n_jobs=n_jobs)
        X = np.hstack([X, extra.astype(np.float64)])
        specs = [*specs, *indexing_feature_specs()]
    return X, specs

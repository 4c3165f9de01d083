"""Indexing features (the forests' ``indexing`` set): simulated patterns of textbook structures, checked
against what the structures are (pymatgen builds them; their cells are known)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xrdnet.indexing.features import (CENTRING_CODES, WORKER_CHUNK, FAMILY_ORDER, features_of_peaks, indexing_feature_specs,
                                      indexing_features)
from xrdnet.simulate import ProfileConfig, XRDSimulator
from xrdnet.symmetry import CRYSTAL_SYSTEMS

NAMES = [s.name for s in indexing_feature_specs()]


def patterns_of(structures):
    profile = ProfileConfig(caglioti_u_deg2=(0.0, 0.0), caglioti_v_deg2=(0.0, 0.0), caglioti_w_deg2=(0.002, 0.002),
                            crystallite_size_nm=(500.0, 500.0))
    sim = XRDSimulator("CuKa", two_theta_range=(10.0, 90.0), step=0.01, profile=profile)
    return sim.patterns(structures, seed=0).numpy(), sim.two_theta_deg().numpy()


def test_textbook_patterns_index_on_their_own_system_and_centring():
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    rutile = Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"],
                                       [[0, 0, 0], [0.305, 0.305, 0]])
    x, grid = patterns_of([nacl, rutile])
    features = indexing_features(x, grid, 1.540598)
    assert features.shape == (2, len(NAMES)) and features.dtype == np.float32
    row = dict(zip(NAMES, features[0]))
    assert row["cubic_indexed_share"] == 1.0 and row["cubic_m20"] > 10
    assert CRYSTAL_SYSTEMS[int(row["best_cell_system"])] == "cubic"
    assert row["best_cell_centring"] == CENTRING_CODES["F"] and row["best_cell_confident"] == 1.0
    row = dict(zip(NAMES, features[1]))
    assert CRYSTAL_SYSTEMS[int(row["best_cell_system"])] == "tetragonal"
    assert row["tetragonal_indexed_share"] > row["cubic_indexed_share"]
    # worker processes (a chunk of rows each: fewer rows stay in this process) give the same numbers;
    # the rows differ in their last bits (the same peaks), so none is taken from the recent rows
    n = 2 * WORKER_CHUNK
    many = x[np.arange(n) % 2] * (1.0 - 1e-6 * np.arange(1, n + 1))[:, None]
    np.testing.assert_array_equal(indexing_features(many, grid, 1.540598, n_jobs=2), features[np.arange(n) % 2])
    # a row indexed a moment ago (predict: the pooled forest, then the rule) is not indexed again: its
    # numbers come back the same and unshared; another wavelength is another row
    import xrdnet.indexing.features as module

    calls = []
    original = module._features_of_row
    module._features_of_row = lambda job: calls.append(1) or original(job)
    try:
        again = indexing_features(x[:1], grid, 1.540598)
        again[0, 0] = -1.0
        np.testing.assert_array_equal(indexing_features(np.concatenate([x[:1], x[:1]]), grid, 1.540598),
                                      features[[0, 0]])
        assert calls == []
        assert not np.array_equal(indexing_features(x[:1], grid, 1.7890), features[:1]) and calls == [1]
    finally:
        module._features_of_row = original


def test_too_few_peaks_give_missing_values_and_the_line_count():
    out = features_of_peaks(np.array([20.0, 30.0, 40.0]), np.ones(3), 1.540598)
    assert np.isnan(out[: 2 * len(FAMILY_ORDER) + 4]).all() and out[-1] == 3.0
    with pytest.raises(ValueError, match="points"):
        indexing_features(np.zeros((1, 10)), np.linspace(10, 80, 11), 1.54)

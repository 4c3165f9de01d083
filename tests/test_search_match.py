"""Search-match (``xrdnet.search_match``): checked against pymatgen's sticks of real structures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from xrdnet.search_match import (MatchSettings, ReferenceLibrary, bin_span, line_width_ln_q, render,
                                 search, vote)
from xrdnet.units import q_inv_angstrom_from_two_theta

LAMBDA = 1.54056


def _structures():
    from pymatgen.core import Lattice, Structure

    return {
        "NaCl": Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "CsCl": Structure.from_spacegroup("Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "TiO2": Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"],
                                          [[0, 0, 0], [0.3048, 0.3048, 0]]),
        "ZnO": Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.25, 5.207), ["Zn", "O"],
                                         [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]),
    }


LABELS = {"NaCl": (6, 225), "CsCl": (6, 221), "TiO2": (3, 136), "ZnO": (5, 186)}


def _sticks(structure):
    """pymatgen's (Q [M], intensity [M]) of ``structure`` at Cu Kα1 over 5-90° 2θ."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    pattern = XRDCalculator(wavelength=LAMBDA).get_pattern(structure, two_theta_range=(5, 90))
    return q_inv_angstrom_from_two_theta(np.asarray(pattern.x), LAMBDA), np.asarray(pattern.y)


@pytest.fixture(scope="module")
def library():
    structures = _structures()
    lines = [_sticks(s) for s in structures.values()]
    return ReferenceLibrary.from_lines(np.concatenate([q for q, _ in lines]), np.concatenate([i for _, i in lines]),
                                       [len(q) for q, _ in lines], [LABELS[n][0] for n in structures],
                                       [LABELS[n][1] for n in structures], [f"test:{n}" for n in structures],
                                       list(structures))


FULL_SPAN = tuple(q_inv_angstrom_from_two_theta(np.array([5.0, 90.0]), LAMBDA))


@pytest.mark.parametrize("scale", [0.97, 1.0, 1.02, 1.035])
def test_a_scaled_cell_finds_its_reference_and_the_scale(library, scale):
    """NaCl with every length × scale (pymatgen's sticks of the scaled cell) matches NaCl at d × scale."""
    nacl = _structures()["NaCl"].copy()
    nacl.scale_lattice(nacl.volume * scale ** 3)
    matches = library.match_lines([_sticks(nacl)], [FULL_SPAN], k=4)
    assert library.formulas[matches.index[0, 0]] == "NaCl"
    assert matches.similarity[0, 0] > 0.97
    assert matches.d_scale[0, 0] == pytest.approx(scale, abs=0.0025)  # within about one grid step (0.2 %)
    assert matches.similarity[0, 1] < 0.8  # the other phases are far behind


def test_a_scale_beyond_the_searched_range_is_not_matched_as_well(library):
    nacl = _structures()["NaCl"].copy()
    nacl.scale_lattice(nacl.volume * 1.10 ** 3)  # +10 %, outside ±4 %
    within = library.match_lines([_sticks(_structures()["NaCl"])], [FULL_SPAN], k=4)
    beyond = library.match_lines([_sticks(nacl)], [FULL_SPAN], k=4)
    assert beyond.similarity[0].max() < within.similarity[0, 0] - 0.3


def test_each_phase_of_the_library_finds_itself(library):
    queries = [_sticks(s) for s in _structures().values()]
    matches = library.match_lines(queries, [FULL_SPAN] * len(queries))  # k: the settings' search depth (all 4)
    assert matches.index.shape == (4, 4)
    assert list(library.formulas[matches.index[:, 0]]) == list(_structures())
    cs, sg = library.probabilities(matches)
    assert list(cs.argmax(axis=1)) == [LABELS[n][0] for n in _structures()]
    assert list(sg.argmax(axis=1) + 1) == [LABELS[n][1] for n in _structures()]


def test_a_partial_scan_is_compared_over_its_own_span(library):
    """Rutile's lines seen only between 25 and 45° match rutile fully once the span is said."""
    q, intensity = _sticks(_structures()["TiO2"])
    span = tuple(q_inv_angstrom_from_two_theta(np.array([25.0, 45.0]), LAMBDA))
    seen = (q >= span[0]) & (q <= span[1])
    assert 1 < seen.sum() < len(q)
    own_span = library.match_lines([(q[seen], intensity[seen])], [span], k=1)
    full_span = library.match_lines([(q[seen], intensity[seen])], [FULL_SPAN], k=4)
    assert library.formulas[own_span.index[0, 0]] == "TiO2"
    assert own_span.similarity[0, 0] > 0.95
    rutile = list(library.formulas[full_span.index[0]]).index("TiO2")
    assert full_span.similarity[0, rutile] < own_span.similarity[0, 0] - 0.1  # the unseen lines counted against it


def test_a_line_renders_where_bragg_puts_it_and_wider_at_low_angle():
    settings = MatchSettings()
    q = q_inv_angstrom_from_two_theta(np.array([10.0, 80.0]), LAMBDA)
    vectors = render(np.array([0, 1]), q, np.array([1.0, 1.0]), 2, settings)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    expected = np.floor((np.log(q) - math.log(settings.q_min_inv_angstrom)) / settings.step_ln_q)
    assert list(vectors.argmax(axis=1)) == list(expected.astype(int))
    width = line_width_ln_q(q, settings)
    assert width[0] > 3 * width[1]
    # d ln Q = d(2θ) / (2 tan θ) at 10°, with the floor added in quadrature
    spread = math.radians(settings.position_error_deg) / (2 * math.tan(math.radians(5.0)))
    assert width[0] == pytest.approx(math.hypot(settings.width_floor_ln_q, spread), rel=1e-3)
    assert np.count_nonzero(vectors[0]) > np.count_nonzero(vectors[1])


def test_vote_trusts_matches_that_stand_out_and_ignores_the_rest():
    from xrdnet.search_match import Matches

    settings = MatchSettings(neighbours=2, contrast_rank=3)
    cs_of, sg_of = np.array([6, 3, 1]), np.array([225, 136, 14])
    index = np.array([[0, 1, 2]])
    standing_out = Matches(index, np.array([[0.95, 0.5, 0.45]], np.float32), np.ones((1, 3)))
    poor = Matches(index, np.array([[0.3, 0.29, 0.28]], np.float32), np.ones((1, 3)))
    # a short scan: everything looks alike, however high the similarity
    crowded = Matches(index, np.array([[0.93, 0.92, 0.92]], np.float32), np.ones((1, 3)))
    cs, sg = vote(standing_out, cs_of, sg_of, settings)
    assert cs[0].argmax() == 6 and cs[0, 6] > 0.9 and sg[0].argmax() == 224
    for flat in (poor, crowded):
        cs, sg = vote(flat, cs_of, sg_of, settings)
        assert cs[0].max() < 0.2 and sg[0].max() < 0.05
    by_similarity = MatchSettings(neighbours=2, trust_measure="similarity", trust_from=0.4, trust_full=0.8)
    cs, _ = vote(crowded, cs_of, sg_of, by_similarity)
    assert cs[0, 6] > 0.4  # the old measure trusts the crowded match


def test_search_returns_the_best_first():
    settings = MatchSettings(max_scale_change=0.0)
    refs = np.eye(4, settings.n_bins, dtype=np.float32)
    query = np.zeros((1, settings.n_bins), np.float32)
    query[0, :3] = [0.2, 0.9, 0.4]
    query /= np.linalg.norm(query)
    m = search(query, [(0, settings.n_bins)], refs, settings, k=3)
    assert list(m.index[0]) == [1, 2, 0]
    assert m.similarity[0, 0] == pytest.approx(query[0, 1], rel=1e-5)


def test_bin_span_covers_the_measured_range():
    settings = MatchSettings()
    lo, hi = bin_span(*FULL_SPAN, settings)
    assert 0 < lo < hi <= settings.n_bins


def test_library_file_round_trip(tmp_path, library):
    path = library.save(tmp_path / "lib.npz")
    back = ReferenceLibrary.load(path)
    assert back.settings == library.settings
    for name in ("line_count", "ln_q_code", "intensity_code", "crystal_system", "space_group", "ids", "formulas"):
        assert np.array_equal(getattr(back, name), getattr(library, name))
    q, i = back.lines(0)
    q0, i0 = _sticks(_structures()["NaCl"])
    assert np.allclose(q, q0[i0 / i0.max() >= 0.01], rtol=2e-4)


def test_bad_library_files_are_refused_with_their_name(tmp_path, library):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="junk.npz"):
        ReferenceLibrary.load(junk)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, format_version=np.int64(1), settings=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz"):  # an object array is never unpickled
        ReferenceLibrary.load(pickled)
    path = library.save(tmp_path / "ok.npz")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["crystal_system"] = arrays["crystal_system"][:-1]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(ValueError, match="short.npz: crystal_system has 3 entries for 4 structures"):
        ReferenceLibrary.load(tmp_path / "short.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        ReferenceLibrary.load(tmp_path / "missing.npz")


def test_settings_are_checked():
    with pytest.raises(ValueError, match="trust_from"):
        MatchSettings(trust_from=0.9, trust_full=0.5)
    with pytest.raises(ValueError, match="max_scale_change"):
        MatchSettings(max_scale_change=0.6)
    with pytest.raises(ValueError, match="unknown"):
        MatchSettings.from_dict({"nonsense": 1})
    with pytest.raises(ValueError, match="trust_measure"):
        MatchSettings(trust_measure="vibes")
    with pytest.raises(ValueError, match="contrast_rank"):
        MatchSettings(contrast_rank=0)


# ------------------------------------------------------------------ the checkpoint's match pool


def test_match_pool_file_round_trip_and_refusals(tmp_path, library):
    from xrdnet.checkpoint.match_pool import load_match_pool, write_match_pool

    assert load_match_pool(tmp_path) is None
    library.save(tmp_path / "reference" / "library.npz")
    write_match_pool(tmp_path, "reference/library.npz", 0.5, "a test", temperature=0.8, fitted_on={"n": 3})
    pool = load_match_pool(tmp_path)
    assert pool.weight == 0.5 and pool.temperature == 0.8 and len(pool.library) == 4
    record = tmp_path / "match_pool.json"
    for change, words in (({"weight": 1.5}, "'weight'"), ({"library": "../lib.npz"}, "'library'"),
                          ({"format_version": 9}, "format_version")):
        data = json.loads(record.read_text())
        data.update(change)
        record.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=words):
            load_match_pool(tmp_path)
    record.write_text("{not json")
    with pytest.raises(ValueError, match="match_pool.json"):
        load_match_pool(tmp_path)


def test_match_pool_combines_into_consistent_tables(library):
    """Pooled crystal systems and space groups agree: each system's groups sum to its probability."""
    from xrdnet.checkpoint.match_pool import MatchPool
    from xrdnet.symmetry import space_group_to_crystal_system_table

    pool = MatchPool(library, 0.5)
    queries = [_sticks(s) for s in _structures().values()]
    matches = library.match_lines(queries, [FULL_SPAN] * 4, k=5)
    rng = np.random.default_rng(0)
    cs = rng.dirichlet(np.ones(7), 4)
    sg = rng.dirichlet(np.ones(230), 4)
    pooled_cs, pooled_sg = pool.combine(cs, sg, matches)
    table = space_group_to_crystal_system_table()[1:]
    sums = np.stack([pooled_sg[:, table == c].sum(axis=1) for c in range(7)], axis=1)
    assert np.allclose(pooled_cs.sum(axis=1), 1) and np.allclose(sums, pooled_cs)
    assert list(pooled_cs.argmax(axis=1)) == [LABELS[n][0] for n in _structures()]  # random networks outvoted
    pool.weight = 0.0
    same_cs, _ = pool.combine(cs, sg, matches)
    assert np.allclose(same_cs, cs)
    described = pool.describe(matches, 0)
    assert described[0]["formula"] == "NaCl" and described[0]["space_group_symbol"] == "Fm-3m"
    assert described[0]["d_scale"] == pytest.approx(1.0, abs=0.0025)


def test_a_pattern_without_lines_gets_a_flat_vote(library):
    grid = np.linspace(5, 90, 1701)
    flat = np.zeros((2, len(grid)), np.float32)
    flat[1] = 1.0  # a constant: no peak stands out
    matches = library.match_patterns(flat, grid, LAMBDA)
    cs, sg = library.probabilities(matches)
    assert np.allclose(cs, 1 / 7) and np.allclose(sg, 1 / 230)

"""Indexing as evidence in predict: Kα2 partners, confidence, agreement and the disagreement warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xrdnet.indexing import agrees, cell_record, index_measured_peaks, is_confident
from xrdnet.indexing.evidence import kalpha2_partner

from tests.indexing.test_search import CASES, CU_KA1, CU_KA2, sticks

GENUINE = Path(__file__).resolve().parents[1] / "data" / "formats"


def test_kalpha2_partner_is_the_anodes_own_line():
    assert kalpha2_partner(CU_KA1) == pytest.approx(CU_KA2, abs=1e-5)
    assert kalpha2_partner(0.41458) is None  # a synchrotron wavelength has no doublet


def test_measured_peaks_with_kalpha2_partners_index_on_the_true_cell():
    tt, inten = sticks(CASES["LaB6"][0]())
    partners = 2 * np.rad2deg(np.arcsin(np.sin(np.deg2rad(tt) / 2) * CU_KA2 / CU_KA1))
    resolved = tt > 40  # at high angle the doublet is resolved: two peaks per line
    both_tt = np.concatenate([tt, partners[resolved]])
    both_i = np.concatenate([inten, inten[resolved] / 2])
    best = index_measured_peaks(both_tt, both_i, CU_KA1).best
    assert best.family == "cubic" and best.centring == "P" and best.a == pytest.approx(4.157, rel=1e-3)
    assert best.indexed_fraction == 1.0 and is_confident(best)


def test_agreement_of_cells_and_crystal_systems():
    zno = index_measured_peaks(*sticks(CASES["ZnO"][0]()), CU_KA1).best
    corundum = index_measured_peaks(*sticks(CASES["corundum"][0]()), CU_KA1).best
    assert agrees(zno, "hexagonal") and agrees(zno, "trigonal") and not agrees(zno, "monoclinic")
    assert agrees(corundum, "trigonal") and not agrees(corundum, "hexagonal")
    record = cell_record(zno)
    assert record["crystal_system"] == "hexagonal" and record["confident"] is True
    assert cell_record(None) is None


def test_a_confident_cell_of_another_system_gives_a_warning_naming_it():
    from xrdnet.api import ClassScore, Predictor, PredictionResult

    tt, inten = sticks(CASES["LaB6"][0]())
    indexing = index_measured_peaks(tt, inten, CU_KA1)
    for answer, expect_warning in (("monoclinic", True), ("cubic", False)):
        result = PredictionResult(status="answered", model=None, crystal_system=ClassScore(answer, 0, 0.4))
        Predictor._indexing_evidence(indexing, result, answer)
        assert result.cell["family"] == "cubic" and result.cell["a"] == pytest.approx(4.157, rel=1e-3)
        codes = [w.code for w in result.warnings]
        assert ("indexing_disagrees" in codes) == expect_warning
        if expect_warning:
            message = result.warnings[codes.index("indexing_disagrees")].message
            assert "cubic P cell" in message and "a = 4.157" in message
            assert result.cell_of_predicted_system is None  # monoclinic has no family here
        else:
            assert result.cell_of_predicted_system["a"] == pytest.approx(4.157, rel=1e-3)


def _network_saying_monoclinic():
    """A made-up network answer: 60 % monoclinic (P2₁/c), 10 % cubic (Pm-3m 7 %, Fm-3m 3 %), rest spread."""
    from xrdnet.symmetry import space_group_to_crystal_system_table

    table = space_group_to_crystal_system_table()[1:]  # [230] system of each group
    sg = np.full(230, 1e-4)
    sg[14 - 1], sg[221 - 1], sg[225 - 1] = 0.6, 0.07, 0.03
    sg /= sg.sum()
    cs = np.bincount(table, weights=sg, minlength=7)
    return cs, sg, table


def test_combining_with_a_confident_cell_is_the_stated_mixture():
    from xrdnet.indexing import (INDEXING_TRUST, TRUST_BY_CELL, combine_with_cell, combine_with_systems,
                                 systems_of_cell, trust_of_cell)
    from xrdnet.symmetry import CRYSTAL_SYSTEMS

    cs, sg, table = _network_saying_monoclinic()
    lab6 = index_measured_peaks(*sticks(CASES["LaB6"][0]()), CU_KA1).best
    assert systems_of_cell(lab6) == ("cubic",)
    # a cubic cell's weight is the cubic cells' record, shrunk toward the overall trust
    trust = trust_of_cell(lab6)
    assert trust == TRUST_BY_CELL["cubic"] and INDEXING_TRUST < trust < 57 / 59
    cs2, sg2 = combine_with_cell(cs, sg, lab6)
    cubic = CRYSTAL_SYSTEMS.index("cubic")
    # p'(cubic) = trust + (1 - trust) p(cubic); both heads still sum to 1; the answer moves to cubic
    assert cs2[cubic] == pytest.approx(trust + (1 - trust) * cs[cubic])
    cs3, _ = combine_with_cell(cs, sg, lab6, trust=INDEXING_TRUST)
    assert cs3[cubic] == pytest.approx(INDEXING_TRUST + (1 - INDEXING_TRUST) * cs[cubic])
    assert cs2.sum() == pytest.approx(1.0) and sg2.sum() == pytest.approx(1.0)
    assert cs2.argmax() == cubic and sg2.argmax() + 1 == 221  # the network's own order within cubic
    assert np.bincount(table, weights=sg2, minlength=7)[cubic] == pytest.approx(cs2[cubic])
    # outside the cell's systems every probability shrinks by the same factor
    assert sg2[14 - 1] / sg[14 - 1] == pytest.approx(1 - trust)
    # no confident cell, no change; trust 0 leaves the network alone; trust outside 0..1 is refused
    unchanged = combine_with_cell(cs, sg, None)
    assert np.array_equal(unchanged[0], cs) and np.array_equal(unchanged[1], sg)
    assert np.allclose(combine_with_systems(cs, sg, ("cubic",), trust=0.0)[1], sg)
    with pytest.raises(ValueError, match="trust"):
        combine_with_systems(cs, sg, ("cubic",), trust=1.5)


def test_a_p_hexagonal_cell_keeps_the_networks_choice_between_hexagonal_and_trigonal():
    from xrdnet.indexing import combine_with_cell, systems_of_cell
    from xrdnet.symmetry import CRYSTAL_SYSTEMS

    zno = index_measured_peaks(*sticks(CASES["ZnO"][0]()), CU_KA1).best
    assert systems_of_cell(zno) == ("hexagonal", "trigonal")
    _, sg, table = _network_saying_monoclinic()
    sg[154 - 1] += 0.05  # P3₂21 (trigonal) above every hexagonal group
    sg /= sg.sum()
    cs = np.bincount(table, weights=sg, minlength=7)
    cs2, sg2 = combine_with_cell(cs, sg, zno)
    assert CRYSTAL_SYSTEMS[int(cs2.argmax())] in ("hexagonal", "trigonal") and sg2.argmax() + 1 == 154


def test_predict_reports_the_cell_of_a_genuine_zincite_scan():
    from xrdnet.predict import predict_file_results

    results, errors, _ = predict_file_results([GENUINE / "bruker_raw_v2" / "pyxrd_brk_raw2_zincite.raw"])
    assert not errors
    cell = results[0].to_dict()["cell"]
    # zincite, ZnO: a = 3.2498, c = 5.2066 Å (ICSD 67454)
    assert cell["family"] == "hexagonal" and cell["centring"] == "P"
    assert cell["a"] == pytest.approx(3.2498, rel=2e-3) and cell["c"] == pytest.approx(5.2066, rel=2e-3)
    assert cell["confident"] and {"b", "alpha", "beta", "gamma", "figure_of_merit", "indexed_fraction",
                                  "zero_shift_deg"} <= set(cell)

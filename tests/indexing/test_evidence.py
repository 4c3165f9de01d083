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
    from xrdnet.api import ClassScore, Predictor, PredictionResult, _Prepared

    tt, inten = sticks(CASES["LaB6"][0]())
    prepared = _Prepared(None, [], None, 1.0, CU_KA1, "argument", "2theta", [], None, sharp_peaks=(tt, inten))
    for answer, expect_warning in (("monoclinic", True), ("cubic", False)):
        result = PredictionResult(status="answered", model=None, crystal_system=ClassScore(answer, 0, 0.4))
        Predictor._indexing_evidence(prepared, result, CU_KA1)
        assert result.cell["family"] == "cubic" and result.cell["a"] == pytest.approx(4.157, rel=1e-3)
        codes = [w.code for w in result.warnings]
        assert ("indexing_disagrees" in codes) == expect_warning
        if expect_warning:
            message = result.warnings[codes.index("indexing_disagrees")].message
            assert "cubic P cell" in message and "a = 4.157" in message
            assert result.cell_of_predicted_system is None  # monoclinic has no family here
        else:
            assert result.cell_of_predicted_system["a"] == pytest.approx(4.157, rel=1e-3)


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

"""The mixture flag from evidence: the evidence of a pattern, the combiner, its file and predict's use of it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xrdnet.indexing import index_measured_peaks
from xrdnet.mixture.evidence import EVIDENCE_FEATURES, EvidenceCombiner, evidence_row, fit_combiner

from tests.indexing.test_search import CASES, CU_KA1, sticks


def _col(name: str) -> int:
    return EVIDENCE_FEATURES.index(name)


def test_a_second_phase_lowers_the_figure_of_merit_of_the_cells_that_must_index_every_line():
    """A cubic cell alone indexes LaB6 with every line, and so do its tetragonal, hexagonal and orthorhombic
    settings; with ZnO's lines added the cubic cell keeps its M on the half it indexes, while the families
    that reach for the other half (ZnO is not cubic) fit worse."""
    lab6 = sticks(CASES["LaB6"][0]())
    zno = sticks(CASES["ZnO"][0]())
    alone = evidence_row(0.2, index_measured_peaks(*lab6, CU_KA1))
    both_tt, both_i = np.concatenate([lab6[0], zno[0]]), np.concatenate([lab6[1], zno[1]])
    order = np.argsort(both_tt)
    mixed = evidence_row(0.2, index_measured_peaks(both_tt[order], both_i[order], CU_KA1))
    assert alone.shape == mixed.shape == (len(EVIDENCE_FEATURES),)
    for family in ("hexagonal", "tetragonal", "orthorhombic"):
        assert mixed[_col(f"{family}_log_merit")] < alone[_col(f"{family}_log_merit")] - 1.0  # M falls e× or more
    assert alone[_col("detector_logit")] == pytest.approx(np.log(0.2 / 0.8))


def test_no_indexing_gives_zero_cells_and_a_saturated_detector_stays_finite():
    row = evidence_row(1.0, None)
    assert np.isfinite(row).all() and row[_col("detector_logit")] > 9
    assert not row[1:].any()


def _separable(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.5
    x = rng.normal(size=(n, len(EVIDENCE_FEATURES)))
    x[:, 0] += np.where(y, 2.0, -2.0)  # the detector's logit separates the classes
    return x, y


def test_the_combiner_learns_and_survives_its_json_form():
    x, y = _separable()
    combiner = fit_combiner(x, y)
    p = combiner.probability(x)
    assert p.shape == (len(x),) and ((p >= 0.5) == y).mean() > 0.9
    again = EvidenceCombiner.from_dict(json.loads(json.dumps(combiner.to_dict())))
    np.testing.assert_array_equal(again.probability(x), p)
    with pytest.raises(ValueError, match="columns"):
        combiner.probability(x[:, :3])
    with pytest.raises(ValueError, match="both"):
        fit_combiner(x, np.ones(len(x), bool))
    wrong = {**combiner.to_dict(), "features": ["detector_logit"]}
    with pytest.raises(ValueError, match="uses features"):
        EvidenceCombiner.from_dict(wrong)


def test_an_evidence_file_for_other_weights_is_refused_by_name(tmp_path):
    from xrdnet.mixture.detector import EVIDENCE_FILE, WEIGHTS_FILE, load_evidence, weights_digest

    (tmp_path / WEIGHTS_FILE).write_bytes(b"weights")
    assert load_evidence(tmp_path) is None
    combiner = fit_combiner(*_separable())
    combiner.record = {"detector_sha256_16": weights_digest(tmp_path)}
    (tmp_path / EVIDENCE_FILE).write_text(json.dumps(combiner.to_dict()))
    assert load_evidence(tmp_path).threshold == combiner.threshold
    (tmp_path / WEIGHTS_FILE).write_bytes(b"other weights")
    with pytest.raises(ValueError, match=r"evidence\.json: fitted for detector weights .* refit it"):
        load_evidence(tmp_path)
    (tmp_path / EVIDENCE_FILE).write_text("{}")
    with pytest.raises(ValueError, match=r"evidence\.json: not a mixture evidence file"):
        load_evidence(tmp_path)


def test_the_shipped_detector_carries_evidence_fitted_for_its_weights():
    from xrdnet.checkpoint import default_checkpoint
    from xrdnet.mixture import load_mixture_detector

    detector = load_mixture_detector(default_checkpoint())
    combiner = detector.evidence
    assert combiner is not None and combiner.features == EVIDENCE_FEATURES
    assert 0.0 < combiner.threshold < 1.0
    figures = combiner.record["figures"]
    assert figures["measured_single_flagged"] <= 0.10  # the rule its threshold was chosen by
    assert combiner.coef[_col("detector_logit")] > 0  # more detector evidence, more mixture


def test_saving_new_detector_weights_removes_the_evidence_fitted_for_the_old_ones(tmp_path):
    import torch

    from xrdnet.mixture.detector import (EVIDENCE_FILE, MixtureConfig, MixtureDetector, _make_net, load_mixture_detector,
                                         weights_digest)

    config = MixtureConfig(channels=(4,), hidden=8)
    torch.manual_seed(0)
    detector = MixtureDetector(_make_net(config), config, 0.5)
    detector.save(tmp_path)
    combiner = fit_combiner(*_separable())
    combiner.record = {"detector_sha256_16": weights_digest(tmp_path)}
    (tmp_path / EVIDENCE_FILE).write_text(json.dumps(combiner.to_dict()))
    detector.save(tmp_path)  # the same weights: the evidence still fits them
    assert load_mixture_detector(tmp_path).evidence is not None
    with torch.no_grad():
        next(detector.net.parameters()).add_(1.0)
    with pytest.warns(RuntimeWarning, match=r"evidence\.json was fitted for the detector weights replaced"):
        detector.save(tmp_path)
    assert not (tmp_path / EVIDENCE_FILE).exists() and load_mixture_detector(tmp_path).evidence is None

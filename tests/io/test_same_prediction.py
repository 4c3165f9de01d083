"""One measured scan written in many formats gets one answer from the shipped model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xrdnet.api import Predictor
from xrdnet.io import read_pattern

SPEC = Path(__file__).resolve().parents[1] / "data" / "formats" / "spec"
# The genuine zincite scan (Bruker RAW v2) re-written to each format's specification; Q and d files
# carry no wavelength and need none.
FILES = ("zincite.xy", "zincite.ras", "zincite_v3.raw", "zincite_stoe.raw", "zincite_instrm0.dat",
         "zincite_q.xy", "zincite_q.chi", "zincite_d.xy")


def test_same_scan_in_every_format_gets_the_same_prediction():
    predictor = Predictor()
    patterns = [read_pattern(SPEC / name, wavelength="CuKa1") for name in FILES]
    results = predictor.predict_patterns(patterns)
    assert all(r.status == "answered" for r in results), [(r.status, r.refusal_reason) for r in results]
    answers = {name: (r.crystal_system.name, r.space_group.index) for name, r in zip(FILES, results)}
    assert len(set(answers.values())) == 1, answers
    proba = np.stack([r.crystal_system_proba for r in results])
    np.testing.assert_allclose(proba, np.broadcast_to(proba[0], proba.shape), atol=0.02)

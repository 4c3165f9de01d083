"""The checks speak in codes and numbers: each Finding's code, whether it refuses, what it measured.

Layers above (the predictor, scripts/calibrate_checks.py) decide on these, never on the sentences,
so the tests here reword nothing and search no message.
"""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet import checks
from xrdnet.checks import Finding, check_metadata, check_pattern, check_peaks, check_x_axis
from xrdnet.signal import peak_measurements

GRID = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 4)  # the shipped model's grid
LAM = 1.54056
X = np.arange(5.0, 90.0, 0.02)


def _peaks(positions, heights, width=0.05, floor=10.0):
    y = np.full_like(X, floor)
    for t, h in zip(positions, heights):
        y += h * np.exp(-0.5 * ((X - t) / width) ** 2)
    return y


CRYSTAL = _peaks([20, 28.4, 33, 40.1, 47, 56.2, 59, 69.3, 76.5, 88], [300, 1000, 400, 600, 250, 150, 500, 90, 120, 60])


def test_a_clean_pattern_has_no_finding_and_its_measurements():
    p = check_pattern(X, CRYSTAL, GRID, LAM, wavelength_angstrom=LAM)
    assert p.findings == [] and p.refusing is None and p.refusal is None and p.refusal_code is None
    assert p.measured is not None and p.measurements["n_sharp_peaks"] == len(p.measured.two_theta_deg) >= 8
    assert p.measurements["hump_ratio"] < checks.AMORPHOUS_HUMP_RATIO and p.measurements["coverage"] > 0.99


@pytest.mark.parametrize("case, code, refuses", [
    ("too_few", checks.TOO_FEW_PEAKS, True),
    ("film", checks.THIN_FILM, True),
    ("short", checks.LOW_COVERAGE, True),
    ("mid", checks.LOW_COVERAGE, False),
    ("q_as_2theta", checks.X_AXIS_NOT_2THETA, True),
    ("no_wavelength", checks.WAVELENGTH_ASSUMED, False),
])
def test_each_check_raises_its_code(case, code, refuses):
    kw = {"wavelength_angstrom": LAM}
    x, y = X, CRYSTAL
    if case == "too_few":
        y = _peaks([33, 47], [1000, 400])
    elif case == "film":
        y = _peaks([2 * np.degrees(np.arcsin(n * LAM / 12)) for n in (1, 2, 3)], [1000, 300, 120], 0.03)
    elif case == "short":
        keep = (X > 30) & (X < 40)
        x, y = X[keep], CRYSTAL[keep]
    elif case == "mid":
        keep = (X > 20) & (X < 60)
        x, y = X[keep], CRYSTAL[keep]
    elif case == "q_as_2theta":
        x, kw = 4 * np.pi * np.sin(np.radians(X / 2)) / LAM, {"x_unit_source": "default"}
    elif case == "no_wavelength":
        kw = {}
    p = check_pattern(x, y, GRID, LAM, **kw)
    found = [f for f in p.findings if f.code == code]
    assert len(found) == 1 and isinstance(found[0], Finding) and found[0].refuses == refuses
    if refuses:
        assert p.refusal_code == code and p.refusal == found[0].reason
    else:
        assert p.refusing is None


def test_a_thin_film_wins_over_too_few_peaks_and_both_are_measured():
    y = _peaks([2 * np.degrees(np.arcsin(n * LAM / 12)) for n in (1, 2)], [1000, 300], 0.03)
    p = check_pattern(X, y, GRID, LAM, wavelength_angstrom=LAM)
    codes = [f.code for f in p.findings]
    assert codes == [checks.TOO_FEW_PEAKS, checks.THIN_FILM] and p.refusal_code == checks.THIN_FILM
    too_few = p.findings[0]
    assert too_few.refuses and too_few.measurements["n_sharp_peaks"] == 2  # it would refuse, the film is more specific
    assert "Q ratios 1:2" in p.findings[1].measurements["family"]


def test_an_amorphous_hump_refuses_with_its_ratio():
    rng = np.random.default_rng(0)
    y = rng.poisson(800 * np.exp(-0.5 * ((X - 24.0) / 5.0) ** 2) + 300 * np.exp(-0.5 * ((X - 43.0) / 7.0) ** 2)
                    + 50).astype(float)
    p = check_pattern(X, y, GRID, LAM, wavelength_angstrom=LAM)
    assert p.refusal_code == checks.AMORPHOUS
    assert p.refusing.measurements["hump_ratio"] >= checks.AMORPHOUS_HUMP_RATIO
    assert p.refusing.measurements["n_sharp_peaks"] < checks.AMORPHOUS_MAX_PEAKS


@pytest.mark.parametrize("x, y, lam, code", [
    (np.linspace(92, 170, 3000), np.linspace(1, 2, 3000), LAM, checks.LOW_COVERAGE),       # no overlap
    (np.linspace(60, 170, 3000), np.linspace(1, 2, 3000), 0.3, checks.LOW_COVERAGE),  # unreachable at the model's λ
    (np.linspace(5, 170, 3000), np.where(np.linspace(5, 170, 3000) > 95, 5.0, 0.0), LAM, checks.TOO_FEW_PEAKS),
])
def test_the_model_grid_errors_are_told_apart_by_their_codes(x, y, lam, code):
    """check_pattern used to tell these apart by searching the error for "overlap"; now PatternFileError.code."""
    from xrdnet.io.core import NO_INTENSITY, NO_OVERLAP, UNREACHABLE

    p = check_pattern(x, y, GRID, LAM, wavelength_angstrom=lam)
    assert p.row is None and p.refusal_code == code
    assert p.refusing.measurements["problem_code"] in (NO_OVERLAP, UNREACHABLE, NO_INTENSITY)
    assert set(checks.pattern.COVERAGE_CODES) == {NO_OVERLAP, UNREACHABLE}


def test_x_axis_findings_carry_the_range_they_judged():
    findings, refusal = check_x_axis(np.linspace(0.4, 6.0, 100), "2theta", "default")
    assert refusal is findings[0] and refusal.code == checks.X_AXIS_NOT_2THETA and refusal.refuses
    assert refusal.measurements["x_max"] == pytest.approx(6.0)
    stated, none = check_x_axis(np.linspace(0.4, 6.0, 100), "q", "header")
    assert none is None and stated[0].code == checks.X_AXIS_NOT_2THETA and not stated[0].refuses
    assert check_x_axis(np.linspace(5, 90, 100), "2theta", "default") == ([], None)
    _, d_like = check_x_axis(np.linspace(1.1, 17.7, 100), "2theta", "default", was_decreasing=True)
    assert d_like is not None and d_like.measurements["was_decreasing"]


def test_metadata_hints_are_one_thin_film_finding_that_does_not_refuse():
    (f,) = check_metadata({"scan_axis": "2Theta-Omega", "header": "epitaxial thin film"})
    assert f.code == checks.THIN_FILM and not f.refuses and f.measurements["scan_axis"] == "2Theta-Omega"
    assert check_metadata({"scan_axis": "Gonio"}) == []
    p = check_pattern(X, CRYSTAL, GRID, LAM, wavelength_angstrom=LAM, metadata={"scan_axis": "2Theta-Omega"})
    assert [w.code for w in p.warnings] == [checks.THIN_FILM] and p.refusing is None


def test_check_peaks_decides_on_the_recorded_measurements():
    p = check_pattern(X, CRYSTAL, GRID, LAM, wavelength_angstrom=LAM)
    again = peak_measurements(p.row, GRID)
    findings, refusal, peaks = check_peaks(p.row, GRID, LAM, measured=p.measured)
    np.testing.assert_array_equal(peaks, p.measured.two_theta_deg)
    assert findings == [] and refusal is None and len(again.heights) == len(again.two_theta_deg)


def test_a_reversed_axis_is_a_reader_code_not_a_word():
    """The predictor used to search the reader's warnings for "decreasing"; now ReaderNote.code."""
    from pathlib import Path

    from xrdnet.inference import Predictor
    from xrdnet.io.core import AXIS_REVERSED, NO_WAVELENGTH_STATED, MeasuredPattern, ReaderNote, note_code

    note = ReaderNote(AXIS_REVERSED, "angles were decreasing; the pattern was reversed")
    assert note == "angles were decreasing; the pattern was reversed" and note_code(note) == AXIS_REVERSED
    import pickle

    assert note_code(pickle.loads(pickle.dumps(note))) == AXIS_REVERSED
    x = np.linspace(1.1, 17.7, 200)
    pattern = MeasuredPattern(Path("d.xy"), x, np.ones_like(x), warnings=[note, "something else"])
    request = Predictor._pattern_request(pattern, None)
    assert request["was_decreasing"] and request["reader_warnings"] == [note, "something else"]
    reworded = MeasuredPattern(Path("d.xy"), x, np.ones_like(x), warnings=["x was decreasing and is now reversed"])
    assert not Predictor._pattern_request(reworded, None)["was_decreasing"]  # a sentence alone decides nothing
    quiet = MeasuredPattern(Path("r.rasx"), x, np.ones_like(x), warnings=[ReaderNote(NO_WAVELENGTH_STATED, "no λ")])
    assert Predictor._pattern_request(quiet, None)["reader_warnings"] == []  # wavelength_assumed says it


def test_a_reversed_file_read_from_disk_carries_the_code(tmp_path):
    from xrdnet.io import AXIS_REVERSED, note_code, read_pattern

    path = tmp_path / "reversed.xy"
    rows = np.column_stack([X[::-1], CRYSTAL[::-1]])
    np.savetxt(path, rows, header="wavelength: 1.54056")
    pattern = read_pattern(path)
    assert AXIS_REVERSED in [note_code(w) for w in pattern.warnings]

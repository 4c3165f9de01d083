"""Readers of measured pattern files and their conversion onto a model grid (tiny files in tmp_path)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from xrdnet.patterns_io import (
    MeasuredPattern,
    PatternFileError,
    estimate_background,
    read_many,
    read_pattern,
    to_model_grid,
)
from xrdnet.simulate.wavelengths import resolve_radiation

SHARED = Path(__file__).resolve().parents[1].parent / "shared"  # the checkout's sibling, wherever it lives
RRUFF = SHARED / "data" / "rruff"
NO_RRUFF = f"shared RRUFF data not present at {RRUFF} (../shared/data/rruff next to the repository)"
CU_KA1 = resolve_radiation("CuKa").kalpha1_angstrom
MO_KA1 = resolve_radiation("MoKa").kalpha1_angstrom
GRID = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 2)  # the default model grid, 8501 points


def _gauss(x, center, sigma=0.05, height=1000.0):
    return height * np.exp(-0.5 * ((x - center) / sigma) ** 2)


def _curve(n=60, start=10.0, step=0.1):
    """A small pattern: 2θ [n] and intensity [n] with a peak at 12.0° on a background of 10."""
    two_theta = start + step * np.arange(n)
    return two_theta, 10.0 + _gauss(two_theta, 12.0, 0.2)


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _table(rows, fmt="{:.3f} {:.2f}", sep="\n") -> str:
    return sep.join(fmt.format(*r) for r in rows)


def _two_theta_of_d(d_angstrom, wavelength_angstrom):
    return 2.0 * np.rad2deg(np.arcsin(wavelength_angstrom / (2.0 * d_angstrom)))


XRDML = """<?xml version="1.0" encoding="UTF-8"?>
<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" status="Completed">
  <sample type="To be analyzed"><id>quartz</id><name>quartz</name></sample>
  <xrdMeasurement measurementType="Scan" status="Completed">
    <comment><entry>Configuration=Reflection-Transmission Spinner</entry></comment>
    <usedWavelength intended="K-Alpha 1">
      <kAlpha1 unit="Angstrom">1.5405980</kAlpha1>
      <kAlpha2 unit="Angstrom">1.5444260</kAlpha2>
      <kBeta unit="Angstrom">1.3922500</kBeta>
      <ratioKAlpha2KAlpha1>0.5000</ratioKAlpha2KAlpha1>
    </usedWavelength>
    <incidentBeamPath><xRayTube name="PW3373/00 Cu LFF"><tension unit="kV">45</tension>
      <current unit="mA">40</current><anodeMaterial>Cu</anodeMaterial></xRayTube></incidentBeamPath>
    <scan appendNumber="0" mode="Continuous" scanAxis="Gonio" status="Completed">
      <header><startTimeStamp>2021-03-04T10:11:12+01:00</startTimeStamp></header>
      <dataPoints>
        <positions axis="2Theta" unit="deg">
          {positions}
        </positions>
        <positions axis="Omega" unit="deg"><startPosition>5.0</startPosition><endPosition>7.5</endPosition></positions>
        <commonCountingTime unit="seconds">{time}</commonCountingTime>
        {values}
      </dataPoints>
    </scan>
  </xrdMeasurement>
</xrdMeasurements>
"""


def _xrdml(tmp_path, name="scan.xrdml", counts=None, positions=None, time="2.00",
           element="intensities", extra="") -> Path:
    counts = np.arange(50) * 4 + 100 if counts is None else counts
    positions = positions or "<startPosition>10.00</startPosition><endPosition>14.90</endPosition>"
    values = f'<{element} unit="counts">{" ".join(str(int(c)) for c in counts)}</{element}>{extra}'
    return _write(tmp_path, name, XRDML.format(positions=positions, time=time, values=values))


# --------------------------------------------------------------------------- formats


def test_xy_with_comments_header_and_wavelength(tmp_path):
    tt, y = _curve()
    text = ("# sample: corundum\n! instrument: D8, Cu tube\n# wavelength: 1.5406\n2theta intensity\n"
            + _table(zip(tt, y)) + "\n\n\n")
    p = read_pattern(_write(tmp_path, "a.xy", text))
    assert isinstance(p, MeasuredPattern) and p.format == "xy" and len(p) == 60
    np.testing.assert_allclose(p.two_theta_deg, np.round(tt, 3))
    np.testing.assert_allclose(p.intensity, np.round(y, 2))
    assert p.errors is None and p.warnings == []
    assert p.wavelength_angstrom == pytest.approx(1.5406) and p.wavelength_source == "file"
    assert p.metadata["header"] == ["2theta intensity"]


def test_csv_with_header_row(tmp_path):
    tt, y = _curve()
    p = read_pattern(_write(tmp_path, "b.csv", "2theta,intensity\n" + _table(zip(tt, y), "{:.3f},{:.2f}")))
    assert p.format == "xy" and len(p) == 60 and p.metadata["delimiter"] == "comma"
    assert p.wavelength_angstrom is None and p.wavelength_source == "default"


def test_xye_three_columns(tmp_path):
    tt, y = _curve()
    p = read_pattern(_write(tmp_path, "c.xye", _table(zip(tt, y, np.sqrt(y)), "{:.3f} {:.2f} {:.3f}")))
    assert p.format == "xye"
    np.testing.assert_allclose(p.errors, np.sqrt(y), atol=1e-3)


def test_tab_separated_crlf_and_semicolon_decimal_comma(tmp_path):
    tt, y = _curve()
    tab = read_pattern(_write(tmp_path, "d.txt", "; exported\r\n" + _table(zip(tt, y), "{:.3f}\t{:.2f}", "\r\n")))
    assert tab.metadata["delimiter"] == "tab" and len(tab) == 60
    text = "2Theta;Counts\n" + _table(zip(tt, y), "{:.2f};{:.0f}").replace(".", ",")
    semi = read_pattern(_write(tmp_path, "e.csv", text))
    assert semi.metadata["decimal_comma"] and len(semi) == 60
    np.testing.assert_allclose(semi.two_theta_deg, np.round(tt, 2))


def test_intensity_only_with_start_step_header(tmp_path):
    _, y = _curve()
    rows = [" ".join(f"{v:.1f}" for v in y[i:i + 8]) for i in range(0, 60, 8)]  # 8 values a line
    p = read_pattern(_write(tmp_path, "f.dat", "; start = 10.0\n; step = 0.1\n" + "\n".join(rows)))
    assert p.format == "step-intensities"
    np.testing.assert_allclose(p.two_theta_deg, 10.0 + 0.1 * np.arange(60))
    fullprof = read_pattern(_write(tmp_path, "g.dat", "10.0 0.1 15.9\n" + "\n".join(rows)))
    assert fullprof.format == "fullprof-free" and len(fullprof) == 60


def test_xrdml_with_wavelength_and_counting_time(tmp_path):
    p = read_pattern(_xrdml(tmp_path), wavelength="MoKa")
    assert p.format == "xrdml" and len(p) == 50
    np.testing.assert_allclose(p.two_theta_deg, np.linspace(10.0, 14.9, 50))
    np.testing.assert_allclose(p.intensity, (np.arange(50) * 4 + 100) / 2.0)  # counts/s
    assert p.wavelength_angstrom == pytest.approx(1.540598) and p.wavelength_source == "file"
    assert p.metadata["kalpha2_angstrom"] == pytest.approx(1.544426)
    assert p.metadata["kalpha2_kalpha1_ratio"] == pytest.approx(0.5) and p.metadata["anode"] == "Cu"
    assert any("argument" in w for w in p.warnings)  # MoKa was asked for, the file says Cu

    listed = " ".join(f"{v:.2f}" for v in np.linspace(10.0, 14.9, 50))
    raw = read_pattern(_xrdml(tmp_path, "raw.xrdml", positions=f"<listPositions>{listed}</listPositions>",
                              element="counts", time="1",
                              extra="<beamAttenuationFactors>" + " ".join(["2"] * 50) + "</beamAttenuationFactors>"))
    np.testing.assert_allclose(raw.intensity, (np.arange(50) * 4 + 100) * 2.0)  # raw counts × attenuation


def test_wavelength_argument_and_loose_mentions(tmp_path):
    tt, y = _curve()
    body = _table(zip(tt, y))
    path = _write(tmp_path, "h.xy", "# Cu K-alpha, 40 kV\n" + body)
    plain = read_pattern(path)  # issue 14: an anode line by name is the file's statement (Kα1)
    assert plain.wavelength_angstrom == pytest.approx(CU_KA1) and plain.wavelength_source == "file"
    assert plain.metadata["radiation_hint"] == "CuKa"
    bare = _write(tmp_path, "h2.xy", "# 40 kV, 40 mA\n" + body)
    assert read_pattern(bare).wavelength_angstrom is None and read_pattern(bare).wavelength_source == "default"
    named = read_pattern(bare, wavelength="MoKa")
    assert named.wavelength_angstrom == pytest.approx(MO_KA1) and named.wavelength_source == "argument"
    assert read_pattern(bare, wavelength=0.4).wavelength_angstrom == pytest.approx(0.4)
    disagreeing = read_pattern(path, wavelength="MoKa")
    assert disagreeing.wavelength_source == "file" and any("argument" in w for w in disagreeing.warnings)
    nm = read_pattern(_write(tmp_path, "i.xy", "# lambda = 0.070930 nm\n" + body))
    assert nm.wavelength_angstrom == pytest.approx(0.7093)
    named_in_file = read_pattern(_write(tmp_path, "j.xy", "# radiation: MoKa\n" + body))
    assert named_in_file.wavelength_angstrom == pytest.approx(MO_KA1)
    with pytest.raises(ValueError, match="unknown wavelength"):
        read_pattern(path, wavelength="Unobtainium")


def test_decreasing_file_is_reversed_and_tiny_negatives_clipped(tmp_path):
    tt, y = _curve()
    y = y - 10.0 - 2.0  # background-subtracted: a few -2 values, 0.2 % of the maximum
    p = read_pattern(_write(tmp_path, "k.xy", _table(list(zip(tt, y))[::-1])))
    assert np.all(np.diff(p.two_theta_deg) > 0) and p.intensity.min() == 0
    assert any("reversed" in w for w in p.warnings) and any("clipped" in w for w in p.warnings)


# --------------------------------------------------------------------------- synchrotron .chi (issue 21)

def _q_curve(step=0.05):
    """Q [n] in 1/Å from 0.5 to ~31 (a synchrotron integration) and intensity with a peak at Q = 2.0."""
    q = 0.5 + step * np.arange(int(30.5 / step) + 1)
    return q, 10.0 + _gauss(q, 2.0, 0.02)


@pytest.mark.parametrize("title, factor", [("# chi_Q chi_I", 1.0), ("# q_A^-1 I", 1.0), ("# q_nm^-1 I", 10.0)])
def test_one_line_header_chi_reads_q(tmp_path, title, factor):
    """diffpy/pyFAI write one column-title line, no point count; Q in 1/nm is converted to 1/Å."""
    q, y = _q_curve()
    p = read_pattern(_write(tmp_path, "ni.chi", title + "\n" + _table(zip(q * factor, y), "{:.6f} {:.3f}")))
    assert p.format == "chi" and p.x_unit == "q" and p.x_unit_source == "header" and len(p) == len(q)
    np.testing.assert_allclose(p.q_inv_angstrom, q, atol=1e-6)
    assert p.q_inv_angstrom[-1] == pytest.approx(31.0, abs=0.05)
    assert p.wavelength_angstrom is None and p.two_theta_deg is None  # nobody stated one: none assumed


def test_one_line_header_chi_reads_two_theta_and_pyfai_wavelength(tmp_path):
    tt, y = _curve()
    p = read_pattern(_write(tmp_path, "a.chi", "# 2th_deg I\n" + _table(zip(tt, y))))
    assert p.x_unit == "2theta" and p.two_theta_deg[0] == pytest.approx(10.0) and p.wavelength_angstrom is None
    q, yq = _q_curve()
    header = "# == pyFAI calibration ==\n# Wavelength: 1.0332e-10 m\n#  q_nm^-1  I\n"
    p = read_pattern(_write(tmp_path, "b.chi", header + _table(zip(q * 10.0, yq), "{:.6f} {:.3f}")))
    assert p.x_unit == "q" and p.wavelength_angstrom == pytest.approx(1.0332) and p.wavelength_source == "file"
    np.testing.assert_allclose(p.q_inv_angstrom, q, atol=1e-6)


@pytest.mark.parametrize("text", ["# r_mm I\n", "# chi_R chi_I\n", ""])
def test_chi_with_unknown_axis_is_refused_in_one_line(tmp_path, text):
    tt, y = _curve()
    path = _write(tmp_path, "radial.chi", text + _table(zip(tt, y)))
    with pytest.raises(PatternFileError) as info:
        read_pattern(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message and ("2θ, Q nor d" in message or "x axis" in message)


# --------------------------------------------------------------------------- broken files

TT, Y = _curve()
GOOD = _table(zip(TT, Y))
BROKEN = {
    "empty.xy": "",
    "blank.xy": "\n\n   \n",
    "prose.txt": "Dear colleague,\nplease find the measurement attached.\nBest regards\n",
    "nan.xy": _table((t, np.nan if i == 5 else v) for i, (t, v) in enumerate(zip(TT, Y))),
    "few.xy": _table(zip(TT[:7], Y[:7])),
    "duplicated.xy": GOOD.replace("10.600", "10.500", 1),
    "unsorted.xy": GOOD.replace("10.600", "10.450", 1),
    "negative.xy": _table(zip(TT, Y - 100.0)),
    "one_column.txt": "\n".join(f"{v:.1f}" for v in Y),
    "ragged.xy": GOOD + "\n90.0",
    "beyond.xy": _table(zip(TT + 170.0, Y)),
    "gsas.gsa": "quartz\nBANK 1 60 12 TIME_MAP 1000.0 10.0 0 0 STD\n" + "  ".join(f"{v:.0f}" for v in Y),
    "structure.cif": "data_NaCl\n_cell_length_a 5.64\n_symmetry_space_group_name_H-M 'F m -3 m'\n",
    "other.xml": "<?xml version='1.0'?>\n<html><body>not a pattern</body></html>",
    "broken.xrdml": "<?xml version='1.0'?>\n<xrdMeasurements><xrdMeasurement><scan>",
    "binary.raw": bytes(range(256)) * 8,
    # issue 14: absurd data is refused, not classified
    "constant_1e308.xy": _table(((t, 1e308) for t in TT), "{:.3f} {:.6g}"),
    "constant.xy": _table(((t, 7.0) for t in TT)),
    "one_1e308.xy": _table(((t, 1e308 if i == 9 else v) for i, (t, v) in enumerate(zip(TT, Y))), "{:.3f} {:.6g}"),
    "overflow.xy": _table(((t, 1e308 if i % 2 else -1e308) for i, t in enumerate(TT)), "{:.3f} {:.6g}"),
    "zipped.brml": b"PK\x03\x04" + bytes(200),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_give_one_line_errors_naming_the_file(tmp_path, name):
    path = _write(tmp_path, name, BROKEN[name])
    with pytest.raises(PatternFileError) as info:
        read_pattern(path)
    message = str(info.value)
    assert name in message and "\n" not in message and message.startswith(str(path))
    assert str(pickle.loads(pickle.dumps(info.value))) == message


def test_specific_messages(tmp_path):
    def error(name):
        with pytest.raises(PatternFileError) as info:
            read_pattern(_write(tmp_path, name, BROKEN[name]))
        return str(info.value)

    assert "angles are not increasing (line 7: 10.45 after 10.5)" in error("unsorted.xy")
    assert "duplicated angle (line 7: 10.5 repeats line 6)" in error("duplicated.xy")
    assert "NaN" in error("nan.xy") and "line 6" in error("nan.xy")
    assert "only 7 data points" in error("few.xy")
    assert "negative intensities" in error("negative.xy")
    assert "time-of-flight" in error("gsas.gsa") and "binary" in error("binary.raw")
    assert "corrupt zip" in error("zipped.brml")
    assert "no peaks, no dynamic range" in error("constant.xy")
    assert "absurd intensity" in error("constant_1e308.xy") and "absurd intensity" in error("one_1e308.xy")
    with pytest.raises(PatternFileError, match="file not found"):
        read_pattern(tmp_path / "missing.xy")


# --------------------------------------------------------------------------- onto the model grid


def test_mo_pattern_moves_to_the_cu_bragg_angle():
    d_angstrom = 2.82
    mo_center = _two_theta_of_d(d_angstrom, MO_KA1)  # about 14.45°
    tt = np.round(np.arange(2.0, 45.0, 0.002), 3)
    pattern = MeasuredPattern(Path("mo.xy"), tt, 5.0 + _gauss(tt, mo_center, 0.03), wavelength_angstrom=MO_KA1)
    row, info = to_model_grid(pattern, GRID, CU_KA1)
    assert row.shape == GRID.shape and row.dtype == np.float32 and row.max() == pytest.approx(1.0)
    cu_center = _two_theta_of_d(d_angstrom, CU_KA1)  # about 31.71°
    assert abs(GRID[np.argmax(row)] - cu_center) <= 0.01 + 1e-9
    top = np.argmax(row)
    left, mid, right = row[top - 1:top + 2].astype(np.float64)
    vertex = GRID[top] + 0.01 * 0.5 * (left - right) / (left - 2 * mid + right)  # parabola through the top 3
    assert vertex == pytest.approx(cu_center, abs=0.002)
    assert info["converted"] and info["coverage"] == 1.0 and info["warning"] is None


def test_partial_coverage_is_zero_and_reported():
    tt = np.round(np.arange(5.0, 30.0, 0.01), 2)  # Mo Kα 5–30° is Cu Kα 10.9–68.4°
    pattern = MeasuredPattern(Path("mo.xy"), tt, 5.0 + _gauss(tt, 14.0), wavelength_angstrom=MO_KA1)
    row, info = to_model_grid(pattern, GRID, CU_KA1)
    # same Q: sin θ_Cu = sin θ_Mo · λ_Cu / λ_Mo
    lo, hi = (2 * np.rad2deg(np.arcsin(np.sin(np.deg2rad(t / 2)) * CU_KA1 / MO_KA1)) for t in (5.0, 29.99))
    assert info["two_theta_range_deg"] == pytest.approx((lo, hi), abs=1e-6)
    outside = (GRID < lo - 0.03) | (GRID > hi + 0.03)
    assert np.all(row[outside] == 0) and np.all(row[(GRID > lo + 0.03) & (GRID < hi - 0.03)] > 0)
    assert info["coverage"] == pytest.approx(np.mean(~outside), abs=0.002)
    assert info["warning"] == (f"covers 2θ {lo:.1f}–{hi:.1f}° of the model's 5.0–90.0° "
                               f"({100 * info['coverage']:.0f} %); the rest is zero")


def test_same_wavelength_and_background_subtraction():
    tt = np.round(np.arange(5.0, 90.0, 0.02), 2)
    background = 200.0 + 2.0 * (90.0 - tt)
    pattern = MeasuredPattern(Path("cu.xy"), tt, background + _gauss(tt, 40.0, 0.1), wavelength_angstrom=CU_KA1)
    raw, info = to_model_grid(pattern, GRID, CU_KA1, normalize=False)
    assert not info["converted"] and info["coverage"] == 1.0  # 89.98 is within a step of 90.00
    np.testing.assert_allclose(raw[::2][:-1], pattern.intensity, rtol=1e-6)
    est = estimate_background(tt, pattern.intensity)
    assert np.max(np.abs(est - background)) < 0.05 * 1000
    clean, _ = to_model_grid(pattern, GRID, CU_KA1, subtract_background=True)
    assert clean[np.argmin(np.abs(GRID - 40.0))] == pytest.approx(1.0)
    assert np.median(clean) < 0.03  # the slope is gone


# --------------------------------------------------------------------------- many files, real data


def test_read_many_continues_past_bad_files(tmp_path):
    good = _write(tmp_path, "good.xy", GOOD)
    bad = _write(tmp_path, "bad.xy", BROKEN["duplicated.xy"])
    patterns, errors = read_many([bad, tmp_path / "missing.xy", good, _write(tmp_path, "empty.xy", "")], "CuKa")
    assert [p.path.name for p in patterns] == ["good.xy"] and patterns[0].wavelength_source == "argument"
    assert [Path(path).name for path, _ in errors] == ["bad.xy", "missing.xy", "empty.xy"]
    assert all(Path(path).name in message for path, message in errors)
    with pytest.raises(ValueError):
        read_many([good], "NotAnAnode")


@pytest.mark.skipif(not (RRUFF / "rruff_0000.xy").is_file(), reason=NO_RRUFF)
def test_rruff_files_get_their_wavelength_from_the_header():
    files = sorted(RRUFF.glob("rruff_*.xy"))[::60]  # a spread of 8; the whole folder is checked by hand (454/454)
    patterns, errors = read_many(files)
    assert not errors and len(patterns) == len(files)
    assert all(p.wavelength_source == "file" and p.wavelength_angstrom == pytest.approx(CU_KA1) for p in patterns)


@pytest.mark.skipif(not (RRUFF / "rruff_0000.xy").is_file(), reason=NO_RRUFF)
def test_real_rruff_file_reads():
    p = read_pattern(RRUFF / "rruff_0000.xy")
    assert len(p) == 8500 and p.format == "xy" and p.warnings == []
    assert p.two_theta_deg[0] == pytest.approx(5.0) and p.two_theta_deg[-1] == pytest.approx(89.99)
    # "# 2theta_deg intensity (Cu K-alpha; ...)": the anode line is now the file's wavelength (issue 14)
    assert p.wavelength_angstrom == pytest.approx(CU_KA1) and p.wavelength_source == "file"
    assert p.x_unit == "2theta" and p.q_inv_angstrom is not None

"""Every reader on genuine instrument files (tests/data/formats, see LICENSES.md) and on files written to
the published layouts (tests/data/formats/spec); the same scan in every format reads as one pattern."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xrdnet.io import FORMATS, read_many, read_pattern, to_model_grid
from xrdnet.io.core import q_of_two_theta

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
SPEC = DATA / "spec"
GRID = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 2)
CU = 1.5406

# file, format, points, first 2θ, last 2θ, wavelength (Å), metadata that must be there
GENUINE = [
    ("xrdml/datalab_CG20396_jdb12-1.xrdml", "xrdml", 7181, 5.008, 124.995, 1.540598, {"intensity_element": "intensities"}),
    ("xrdml/nomad_XRD-918-16_10.xrdml", "xrdml", 5027, 4.007, 69.999, 1.540598, {"intensity_element": "intensities"}),
    ("xrdml/datalab_HL1-2_5-90_60min.xrdml", "xrdml", 6474, 5.001, 89.993, 1.540598, {"intensity_element": "counts"}),
    ("xrdml/nomad_m54313_om2th_10.xrdml", "xrdml", 1800, 26.025, 79.995, 1.540598, {"intensity_element": "counts"}),
    ("xrdml/dara_TiO2_0p4009-ZnO_0p6010--2min.xrdml", "xrdml", 2071, 10.022, 99.996, 1.540598, {"anode": "Cu"}),
    ("bruker_raw_v1/pyxrd_brk_raw1.raw", "bruker-raw-v1", 876, 4.98, 39.98, 1.5406, {"sample_name": "VINAIGRE"}),
    ("bruker_raw_v2/pyxrd_brk_raw2_zincite.raw", "bruker-raw-v2", 7251, 5.0, 150.0, 1.5406, {"anode": "Cu"}),
    ("bruker_raw_v4/datalab_TiO2.raw", "bruker-raw-v4", 1647, 10.0, 70.041, 1.5406, {"sample_name": "TiO2", "anode": "Cu"}),
    ("brml/datalab_TiOF.brml", "brml", 2469, 9.999, 60.013, 1.5406, {"anode": "Cu", "sample_name": "TiOF 18F.2"}),
    # the profiles start one step before MANIFEST's range (3.000 and 10.000 are the first rows of Profile0.txt)
    ("rigaku_rasx/datalab_JO_KL_16_ZF_3_60deg_0.02step_12degpermin_001.rasx", "rigaku-rasx", 2851, 3.0, 60.0,
     1.540593, {"anode": "Cu", "step_deg": 0.02}),
    ("rigaku_rasx/nomad_TwoTheta_scan_powder.rasx", "rigaku-rasx", 2726, 10.0, 119.0, 1.540593, {"step_deg": 0.04}),
    ("xye/datalab_example_bmb.xye", "xye", 575, 0.5, 1.073, 0.414581, {}),
    ("xy/datalab_example_ocx.xy", "xy", 1876, 5.0, 80.0, None, {}),
    ("xy/datalab_example_evadiffract.xy", "xy", 28, 5.0001, 5.2744, 1.54056, {"anode": "Cu"}),
    ("mythen_dat/datalab_example_mythen.dat", "xye", 730, 2.084, 5.0, None, {}),
]


@pytest.mark.parametrize("name, fmt, n, first, last, wavelength, meta", GENUINE, ids=[g[0].split("/")[-1] for g in GENUINE])
def test_genuine_file(name, fmt, n, first, last, wavelength, meta):
    p = read_pattern(DATA / name)
    assert p.format == fmt and len(p) == n
    assert p.two_theta_deg[0] == pytest.approx(first, abs=1e-3) and p.two_theta_deg[-1] == pytest.approx(last, abs=1e-3)
    assert p.x_unit == "2theta" and np.all(np.diff(p.two_theta_deg) > 0) and p.intensity.min() >= 0
    if wavelength is None:
        assert p.wavelength_angstrom is None and p.wavelength_source == "default" and p.q_inv_angstrom is None
    else:
        assert p.wavelength_angstrom == pytest.approx(wavelength, abs=2e-6) and p.wavelength_source == "file"
        np.testing.assert_allclose(p.q_inv_angstrom, q_of_two_theta(p.two_theta_deg, p.wavelength_angstrom))
    for key, value in meta.items():
        assert p.metadata[key] == (pytest.approx(value) if isinstance(value, float) else value)


def test_genuine_binary_metadata():
    v2 = read_pattern(DATA / "bruker_raw_v2/pyxrd_brk_raw2_zincite.raw")
    assert v2.metadata["step_deg"] == pytest.approx(0.02) and v2.metadata["time_per_step_s"] == pytest.approx(3.0)
    assert v2.metadata["kalpha2_angstrom"] == pytest.approx(1.5443) and v2.metadata["kalpha2_kalpha1_ratio"] == pytest.approx(0.514)
    xrdml = read_pattern(DATA / "xrdml/datalab_HL1-2_5-90_60min.xrdml")
    assert xrdml.metadata["kalpha2_kalpha1_ratio"] == pytest.approx(0.5) and xrdml.metadata["intensity_unit"] == "counts/s"
    brml = read_pattern(DATA / "brml/datalab_TiOF.brml")
    assert brml.metadata["time_per_step_s"] == pytest.approx(0.65) and brml.intensity.max() > 1000


def test_mac_file_starting_at_zero_drops_that_point():
    p = read_pattern(DATA / "xye/datalab_example_mac.xye")
    assert p.two_theta_deg[0] == pytest.approx(0.001) and any("2θ = 0" in w for w in p.warnings)


# --------------------------------------------------------------------------- written to the published layouts

ZINCITE = DATA / "bruker_raw_v2/pyxrd_brk_raw2_zincite.raw"
SAME_SCAN = {  # file in spec/ -> (format, wavelength stated by the file or None)
    "zincite.xy": ("xy", 1.54056), "zincite.xy.gz": ("xy", 1.54056), "zincite.xy.bz2": ("xy", 1.54056),
    "zincite.xy.xz": ("xy", 1.54056), "zincite.xye": ("xye", 1.5406), "zincite.csv": ("xy", None),
    "zincite.ras": ("rigaku-ras", 1.5406), "zincite.asc": ("rigaku-asc", 1.5406), "zincite.uxd": ("uxd", 1.5406),
    "zincite_counts.uxd": ("uxd", 1.5406), "zincite.gsa": ("gsas-std", 1.5406), "zincite_esd.gsa": ("gsas-esd", None),
    "zincite.fxye": ("gsas-fxye", 1.5406), "zincite_fxy.gsa": ("gsas-fxy", None),
    "zincite_instrm0.dat": ("fullprof-free", 1.54056), "zincite_xydata.dat": ("fullprof-xydata", 1.5406),
    "zincite.chi": ("chi", None), "zincite_v3.raw": ("bruker-raw-v3", 1.5406), "zincite_stoe.raw": ("stoe-raw", 1.5406),
}


@pytest.fixture(scope="module")
def reference():
    p = read_pattern(ZINCITE)
    keep = p.two_theta_deg <= 90.0 + 1e-6
    return np.round(p.two_theta_deg[keep], 4), p.intensity[keep]


@pytest.mark.parametrize("name", sorted(SAME_SCAN))
def test_same_scan_in_every_format(name, reference):
    fmt, wavelength = SAME_SCAN[name]
    p = read_pattern(SPEC / name, wavelength="CuKa1")
    tt, y = reference
    assert p.format == fmt and len(p) == len(tt) and p.x_unit == "2theta"
    np.testing.assert_allclose(p.two_theta_deg, tt, atol=2e-4)
    np.testing.assert_allclose(p.intensity, y, rtol=1e-6, atol=0.06)
    if wavelength is None:
        assert p.wavelength_source == "argument"
    else:
        assert p.wavelength_source == "file" and p.wavelength_angstrom == pytest.approx(wavelength, abs=1e-6)
    if name.endswith((".gz", ".bz2", ".xz")):
        assert p.metadata["compression"] in ("gzip", "bzip2", "xz")


def test_same_scan_gives_the_same_model_input(reference):
    rows = []
    for name in ("zincite.xy", "zincite.ras", "zincite_v3.raw", "zincite_q.xy", "zincite_q.chi", "zincite_d.xy"):
        p = read_pattern(SPEC / name)
        row, info = to_model_grid(p, GRID, CU)
        rows.append(row)
        assert info["coverage"] > 0.99
    for row in rows[1:]:
        assert np.max(np.abs(row - rows[0])) < 0.01  # Q/d round trips move points by < 1e-6 °


def test_gsas_instrument_file_is_found_or_given(tmp_path):
    p = read_pattern(SPEC / "zincite.gsa")  # names zincite.prm in its header
    assert p.wavelength_angstrom == pytest.approx(1.5406) and p.metadata["kalpha2_angstrom"] == pytest.approx(1.54439)
    given = read_pattern(SPEC / "zincite_esd.gsa", instrument_file=SPEC / "zincite.prm")
    assert given.wavelength_source == "file" and given.wavelength_angstrom == pytest.approx(1.5406)
    instprm = tmp_path / "x.instprm"
    instprm.write_text("#GSAS-II instrument parameter file\nType:PXC\nLam:0.7093\nZero:0.0\n")
    assert read_pattern(SPEC / "zincite_fxy.gsa", instrument_file=instprm).wavelength_angstrom == pytest.approx(0.7093)


# --------------------------------------------------------------------------- the x axis


def test_q_and_d_files(reference):
    tt, _ = reference
    q_ref = q_of_two_theta(tt, 1.5406)
    for name, unit, source in (("zincite_q.xy", "q", "header"), ("zincite_q.chi", "q", "header"),
                               ("zincite_d.xy", "d", "header"), ("zincite_d_noheader.txt", "d", "values")):
        p = read_pattern(SPEC / name)
        assert p.x_unit == unit and p.x_unit_source == source and p.two_theta_deg is None
        assert p.wavelength_angstrom is None and p.wavelength_source == "default"
        np.testing.assert_allclose(p.q_inv_angstrom, q_ref, rtol=1e-6)
        at_cu = read_pattern(SPEC / name, wavelength=1.5406)
        assert at_cu.wavelength_source == "argument"
        np.testing.assert_allclose(at_cu.two_theta_deg, tt, atol=1e-5)


def test_x_unit_argument_overrides_detection(tmp_path):
    p = read_pattern(SPEC / "zincite_q.xy", x_unit="q")
    assert p.x_unit_source == "argument"
    forced = read_pattern(SPEC / "zincite.csv", x_unit="d")  # 5..90 read as d in Å
    assert forced.x_unit == "d" and forced.x_unit_source == "argument" and forced.q_inv_angstrom[0] < forced.q_inv_angstrom[-1]
    with pytest.raises(ValueError, match="x_unit"):
        read_pattern(SPEC / "zincite.csv", x_unit="energy")
    patterns, errors = read_many([SPEC / "zincite_q.xy", SPEC / "zincite.xy"], x_unit="q")
    assert [p.x_unit for p in patterns] == ["q", "q"] and not errors
    header_words = {"q_nm^-1 I": ("q", 0.1), "d(Å) counts": ("d", 1.0), "2theta_deg intensity": ("2theta", 1.0),
                    "# Q [1/A]": ("q", 1.0), "d-spacing (nm), I": ("d", 10.0)}
    for words, (unit, factor) in header_words.items():
        x = np.linspace(1.0, 5.0, 40) if unit != "d" else np.linspace(5.0, 1.0, 40)
        body = "\n".join(f"{a:.6f} {10 + 100 * np.exp(-(a - 3) ** 2 / 0.01):.3f}" for a in x)
        p = read_pattern((tmp_path / "w.txt").write_text(words + "\n" + body) and tmp_path / "w.txt")
        assert p.x_unit == unit and p.x_unit_source == "header", words
        expected = x * factor if unit == "q" else (2 * np.pi / (x * factor) if unit == "d" else None)
        if expected is not None:
            np.testing.assert_allclose(np.sort(p.q_inv_angstrom), np.sort(expected), rtol=1e-5)


def test_decreasing_two_theta_with_even_steps_is_still_two_theta(tmp_path):
    x = np.arange(30.0, 10.0, -0.05)
    body = "\n".join(f"{a:.2f} {10 + np.exp(-(a - 20) ** 2):.3f}" for a in x)
    p = read_pattern((tmp_path / "down.xy").write_text(body) and tmp_path / "down.xy")
    assert p.x_unit == "2theta" and p.x_unit_source == "default" and any("reversed" in w for w in p.warnings)


# --------------------------------------------------------------------------- wavelength from anode names


@pytest.mark.parametrize("header, expected", [
    ("# Cu K-alpha", 1.54056), ("# CuKa1 radiation", 1.54056), ("# Cu Ka", 1.54056), ("# Mo Kα, 50 kV", 0.70930),
    ("# Co K-alpha1", 1.78896), ("# Cu K-Alpha1", 1.54056), ("; tube Fe K alpha", 1.93604), ("# Cu Kb", 1.39222),
    ("# anode: Cr", 2.28970), ("# Cu K-alpha2", 1.54439), ("# measured with care", None),
])
def test_wavelength_from_anode_names(tmp_path, header, expected):
    x = np.arange(10.0, 12.0, 0.05)
    body = "\n".join(f"{a:.2f} {10 + 50 * np.exp(-(a - 11) ** 2 / 0.01):.2f}" for a in x)
    p = read_pattern((tmp_path / "a.xy").write_text(header + "\n" + body, encoding="utf-8") and tmp_path / "a.xy")
    if expected is None:
        assert p.wavelength_angstrom is None and p.wavelength_source == "default"
    else:
        assert p.wavelength_angstrom == pytest.approx(expected, abs=2e-5) and p.wavelength_source == "file"


def test_registry_lists_every_format():
    assert {"xrdml", "bruker-raw", "brml", "rigaku-ras", "rigaku-rasx", "rigaku-asc", "gsas", "fullprof-xydata", "uxd",
            "stoe-raw", "chi", "table"} <= set(FORMATS)


def test_content_beats_extension(tmp_path):
    raw = (DATA / "bruker_raw_v2/pyxrd_brk_raw2_zincite.raw").read_bytes()
    p = read_pattern((tmp_path / "scan.xy").write_bytes(raw) and tmp_path / "scan.xy")
    assert p.format == "bruker-raw-v2" and p.metadata["detected_by"] == "content"
    xrdml = (DATA / "xrdml/nomad_m54313_om2th_10.xrdml").read_bytes()
    assert read_pattern((tmp_path / "a.txt").write_bytes(xrdml) and tmp_path / "a.txt").format == "xrdml"


def test_pyfai_style_text_in_radians_or_q_with_wavelength_in_metres(tmp_path):
    x = np.linspace(0.1, 1.5, 100)
    y = [10 + 100 * np.exp(-(a - 0.8) ** 2 / 0.001) for a in x]
    rad = tmp_path / "rad.dat"
    rad.write_text("# == pyFAI calibration ==\n# Wavelength: 1.0332e-10 m\n#  2th_rad   I\n"
                   + "\n".join(f"{a:.6f} {b:.4f}" for a, b in zip(x, y)))
    p = read_pattern(rad)
    assert p.x_unit == "2theta" and p.wavelength_angstrom == pytest.approx(1.0332)
    np.testing.assert_allclose(p.two_theta_deg, np.rad2deg(np.round(x, 6)))
    q = tmp_path / "q.dat"
    q.write_text("# Wavelength: 1.0332e-10 m\n#  q_nm^-1   I\n" + "\n".join(f"{a * 30:.6f} {b:.4f}" for a, b in zip(x, y)))
    p = read_pattern(q)
    assert p.x_unit == "q" and p.x_unit_source == "header" and p.wavelength_source == "file"
    np.testing.assert_allclose(p.q_inv_angstrom, np.round(x * 30, 6) / 10)
    np.testing.assert_allclose(p.two_theta_deg, 2 * np.rad2deg(np.arcsin(p.q_inv_angstrom * 1.0332 / (4 * np.pi))))


def test_utf16_and_bom_text_read_like_utf8(tmp_path):
    text = (SPEC / "zincite.xy").read_text(encoding="utf-8")
    ref = read_pattern(SPEC / "zincite.xy")
    for name, data in (("u16.xy", text.encode("utf-16")), ("bom.xy", b"\xef\xbb\xbf" + text.encode())):
        p = read_pattern((tmp_path / name).write_bytes(data) and tmp_path / name)
        np.testing.assert_array_equal(p.intensity, ref.intensity)
        assert p.wavelength_source == "file"

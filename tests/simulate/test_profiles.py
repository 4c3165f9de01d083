"""Rendered profiles: areas, widths, the Kα doublet, shifts, texture, determinism, finiteness."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from xrdnet.simulate import ProfileConfig, XRDSimulator
from xrdnet.simulate.profiles import render_peaks

from ..conftest import cubic

FIXED = dict(  # a deterministic instrument: every range collapsed to one value
    eta=(0.5, 0.5),
    caglioti_u_deg2=(0.01, 0.01),
    caglioti_v_deg2=(-0.005, -0.005),
    caglioti_w_deg2=(0.004, 0.004),
    crystallite_size_nm=(1e7, 1e7),  # Scherrer broadening negligible
    kalpha2=False,
)


def local_peak(x, y, center, half_width=0.6):
    sel = (x > center - half_width) & (x < center + half_width)
    return x[sel], y[sel]


def fwhm_of(x, y):
    """FWHM by linear interpolation of the half-maximum crossings of a single peak."""
    i = int(np.argmax(y))
    half = y[i] / 2
    left = np.flatnonzero(y[:i] < half)[-1]
    right = i + np.flatnonzero(y[i:] < half)[0]
    xl = np.interp(half, [y[left], y[left + 1]], [x[left], x[left + 1]])
    xr = np.interp(half, [y[right], y[right - 1]], [x[right], x[right - 1]])
    return xr - xl


def test_render_peaks_conserves_area_even_below_the_step():
    center = torch.tensor([[20.0, 40.123, 60.5]], dtype=torch.float64)
    fwhm = torch.tensor([[0.004, 0.05, 0.3]])  # first one narrower than the 0.01° step
    area = torch.tensor([[1.0, 2.0, 3.0]])
    out = render_peaks(center, fwhm, area, torch.tensor([0.5]), 5.0, 0.01, 8501, 10.0, 1 << 20)
    assert float(out.sum()) == pytest.approx(6.0, rel=1e-5)
    x = 5.0 + 0.01 * np.arange(8501)
    for c, a in zip([20.0, 40.123, 60.5], [1, 2, 3]):
        sel = np.abs(x - c) < 9.9  # peaks are 20° apart: take everything of each
        assert float(out[0, sel].sum()) == pytest.approx(a, rel=1e-4)


def test_peak_areas_proportional_to_stick_intensities(nacl):
    sim = XRDSimulator(profile=ProfileConfig(**FIXED))
    pattern = sim.patterns([nacl], seed=3)[0].numpy().astype(np.float64)
    x = sim.two_theta_deg().numpy()
    sticks = sim.peaks([nacl])[0]
    areas = np.array([local_peak(x, pattern, c, 0.5)[1].sum() for c in sticks.two_theta_deg])
    strong = sticks.intensity > 5  # isolated NaCl lines; weak ones sit on others' far tails
    np.testing.assert_allclose(areas[strong] / areas[strong].max(), sticks.intensity[strong] / 100.0, rtol=0.02)


@pytest.mark.parametrize("u, v, w", [(0.01, -0.005, 0.004), (0.02, 0.0, 0.002)])
def test_fwhm_follows_caglioti(u, v, w):
    cfg = ProfileConfig(**{**FIXED, "caglioti_u_deg2": (u, u), "caglioti_v_deg2": (v, v), "caglioti_w_deg2": (w, w)})
    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])  # well-separated fcc lines up to 2θ = 150°
    sim = XRDSimulator(two_theta_range=(30, 150), step=0.002, profile=cfg)
    pattern = sim.patterns([cu])[0].numpy()
    x = sim.two_theta_deg().numpy()
    for center in sim.peaks([cu])[0].two_theta_deg:
        if center > 148:
            continue
        tan = math.tan(math.radians(center / 2))
        expected = math.sqrt(u * tan * tan + v * tan + w)
        measured = fwhm_of(*local_peak(x, pattern, center, 4 * expected))
        assert measured == pytest.approx(expected, rel=0.02), center


def test_scherrer_broadening_adds_in_quadrature():
    size_nm = 20.0
    cfg = ProfileConfig(**{**FIXED, "crystallite_size_nm": (size_nm, size_nm)})
    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])
    sim = XRDSimulator(step=0.002, profile=cfg)
    pattern = sim.patterns([cu])[0].numpy()
    x = sim.two_theta_deg().numpy()
    center = sim.peaks([cu])[0].two_theta_deg[0]
    theta = math.radians(center / 2)
    tan = math.tan(theta)
    instrument2 = 0.01 * tan * tan - 0.005 * tan + 0.004
    size = math.degrees(0.9 * sim.wavelength_angstrom / (size_nm * 10 * math.cos(theta)))
    assert fwhm_of(*local_peak(x, pattern, center, 1.0)) == pytest.approx(math.sqrt(instrument2 + size**2), rel=0.02)


def test_kalpha2_lands_where_bragg_puts_it():
    cfg = ProfileConfig(**{**FIXED, "kalpha2": True, "caglioti_u_deg2": (0.0, 0.0), "caglioti_v_deg2": (0.0, 0.0),
                           "caglioti_w_deg2": (0.0004, 0.0004)})
    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])
    sim = XRDSimulator(two_theta_range=(30, 120), step=0.002, profile=cfg)
    lam1, lam2 = sim.radiation.kalpha1_angstrom, sim.radiation.kalpha2_angstrom
    pattern = sim.patterns([cu])[0].numpy()
    x = sim.two_theta_deg().numpy()
    d = 3.615 / math.sqrt(3 * 3 + 1 + 1)  # (311), where the doublet is well split
    tt1 = math.degrees(2 * math.asin(lam1 / (2 * d)))
    tt2 = math.degrees(2 * math.asin(lam2 / (2 * d)))
    for expected, height in [(tt1, 1.0), (tt2, 0.5)]:
        xs, ys = local_peak(x, pattern, expected, 0.05)
        assert abs(xs[np.argmax(ys)] - expected) <= 0.002
    ratio = local_peak(x, pattern, tt2, 0.03)[1].max() / local_peak(x, pattern, tt1, 0.03)[1].max()
    assert ratio == pytest.approx(0.5, abs=0.03)


def test_zero_shift_and_displacement_move_peaks_as_the_formula_says():
    shift, disp, radius = 0.05, 0.2, 240.0
    cfg = ProfileConfig(**{**FIXED, "zero_shift_deg": (shift, shift), "sample_displacement_mm": (disp, disp),
                           "goniometer_radius_mm": radius})
    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])
    sim = XRDSimulator(step=0.001, profile=cfg)
    pattern = sim.patterns([cu])[0].numpy()
    x = sim.two_theta_deg().numpy()
    for c in sim.peaks([cu])[0].two_theta_deg:
        expected = c + shift + math.degrees(-2 * disp * math.cos(math.radians(c / 2)) / radius)
        xs, ys = local_peak(x, pattern, expected, 0.1)
        assert abs(xs[np.argmax(ys)] - expected) <= 0.0015


def test_march_dollase_plates_enhance_00l():
    """Platy texture along c* (r < 1) strengthens (00l) against (hk0) in a tetragonal crystal."""
    s = Structure(Lattice.tetragonal(3.0, 7.0), ["Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    base = dict(FIXED)
    sim_plain = XRDSimulator(profile=ProfileConfig(**base))
    x = sim_plain.two_theta_deg().numpy()
    tt_001 = math.degrees(2 * math.asin(sim_plain.wavelength_angstrom / (2 * 7.0)))
    tt_100 = math.degrees(2 * math.asin(sim_plain.wavelength_angstrom / (2 * 3.0)))
    ratios = []
    for r in (1.0, 0.6):
        sim = XRDSimulator(profile=ProfileConfig(**{**base, "march_dollase_r": (r, r)}))
        found = False
        for seed in range(40):  # the texture direction is drawn: find a pattern textured along (001)
            from xrdnet.simulate.profiles import sample_parameters

            if int(sample_parameters(sim.profile, seed, torch.tensor([0])).texture_direction[0]) == 0:
                found = True
                break
        assert found
        p = sim.patterns([s], seed=seed)[0].numpy()
        ratios.append(local_peak(x, p, tt_001, 0.3)[1].sum() / local_peak(x, p, tt_100, 0.3)[1].sum())
    assert ratios[1] > 1.5 * ratios[0]


def test_same_seed_same_tensor_and_chunking_independent(nacl):
    cfg = ProfileConfig(march_dollase_r=(0.7, 1.3), background_level=(0.01, 0.1), peak_counts=(1e3, 1e5),
                        zero_shift_deg=(-0.05, 0.05), sample_displacement_mm=(-0.1, 0.1))
    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])
    sim = XRDSimulator(profile=cfg)
    a = sim.patterns([nacl, cu], seed=7, patterns_per_structure=3)
    b = sim.patterns([nacl, cu], seed=7, patterns_per_structure=3)
    c = sim.patterns([nacl, cu], seed=8, patterns_per_structure=3)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    # pattern 4 (second of Cu) rendered alone, with its global id, is the same pattern
    alone = XRDSimulator(profile=cfg, max_entries=1 << 14).patterns([cu], seed=7, patterns_per_structure=3,
                                                                    pattern_ids=[3, 4, 5])
    torch.testing.assert_close(alone, a[3:], rtol=1e-5, atol=1e-6)
    # the three patterns of one structure differ from one another
    assert not torch.allclose(a[0], a[1])


def test_no_nan_with_extreme_effects(reference_records):
    cfg = ProfileConfig(eta=(0.0, 1.0), caglioti_u_deg2=(0.0, 0.1), caglioti_v_deg2=(-0.05, 0.0),
                        caglioti_w_deg2=(0.0, 0.05), crystallite_size_nm=(2.0, 1e4), march_dollase_r=(0.3, 3.0),
                        zero_shift_deg=(-0.5, 0.5), sample_displacement_mm=(-0.5, 0.5), background_level=(0.0, 2.0),
                        peak_counts=(10.0, 1e6))
    structures = [r["structure"] for r in reference_records[:20]]
    out = XRDSimulator(profile=cfg).patterns(structures, seed=1, patterns_per_structure=2)
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(out.max(dim=1).values.numpy(), 1.0, rtol=1e-6)
    assert (out >= 0).all()


def test_profile_config_rejects_bad_ranges():
    with pytest.raises(ValueError, match="eta"):
        ProfileConfig(eta=(0.5, 1.5))
    with pytest.raises(ValueError, match="low <= high"):
        ProfileConfig(caglioti_w_deg2=(0.01, 0.001))


def test_peaks_at_and_beyond_the_grid_edges_are_cropped_not_wrapped():
    # Two patterns on a 101-point grid (0..10° by 0.1°): a peak centred on each edge keeps half its
    # area on the grid; peaks far outside (even beyond the render margin) leave nothing behind, and
    # nothing leaks from one pattern's row into the other's.
    center = torch.tensor([[0.0, -40.0, 300.0], [10.0, -0.5, 10.6]], dtype=torch.float64)
    fwhm = torch.full((2, 3), 0.2)
    area = torch.tensor([[1.0, 5.0, 7.0], [1.0, 3.0, 3.0]])
    out = render_peaks(center, fwhm, area, torch.tensor([0.0, 0.0]), 0.0, 0.1, 101, 10.0, 1 << 20)
    assert out.shape == (2, 101)
    sigma = 0.2 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    on_grid = 0.5 * (1.0 + math.erf(0.05 / (sigma * math.sqrt(2.0))))  # Gaussian mass above -step/2
    assert out[0].sum().item() == pytest.approx(on_grid, abs=1e-3)
    assert out[0, 50:].sum().item() == pytest.approx(0.0, abs=1e-6)
    # Row 1: the edge peak's half + Gaussian tails of the two peaks 5-6 FWHM outside (negligible).
    assert out[1].sum().item() == pytest.approx(on_grid, abs=1e-3)
    assert out[1, :50].sum().item() == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# Real-sample effects: strain, intensity errors, detection limit, impurity lines


def _peak_heights(sim, pattern, centers, half=0.05):
    x = sim.two_theta_deg().numpy()
    return np.array([local_peak(x, pattern, c, half)[1].max() for c in centers])


def test_lattice_strain_moves_every_peak_to_the_strained_bragg_angle():
    s = 0.02
    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])
    sim = XRDSimulator(step=0.001, profile=ProfileConfig(**FIXED, lattice_strain=(s, s)))
    pattern = sim.patterns([cu])[0].numpy()
    x = sim.two_theta_deg().numpy()
    lam = sim.wavelength_angstrom
    peaks = sim.peaks([cu])[0]
    assert len(peaks.d_angstrom) >= 3
    for d in peaks.d_angstrom:
        expected = math.degrees(2 * math.asin(lam / (2 * d * (1 + s))))  # Bragg's law with d' = d (1 + s)
        xs, ys = local_peak(x, pattern, expected, 0.05)
        assert abs(xs[np.argmax(ys)] - expected) <= 0.0015


def test_effects_off_give_the_unchanged_pattern_bit_for_bit(nacl):
    base = XRDSimulator(profile=ProfileConfig(**FIXED)).patterns([nacl], seed=3, patterns_per_structure=3)
    off = XRDSimulator(profile=ProfileConfig(**FIXED, lattice_strain=(0.0, 0.0), intensity_sigma=(0.0, 0.0),
                                             detection_limit=(0.0, 0.0), impurity_peaks=0))
    assert torch.equal(base, off.patterns([nacl], seed=3, patterns_per_structure=3))


def test_intensity_errors_scatter_log_normally_around_the_ideal_heights(nacl):
    sigma, k = 0.3, 400
    clean = XRDSimulator(profile=ProfileConfig(**FIXED))
    noisy = XRDSimulator(profile=ProfileConfig(**FIXED, intensity_sigma=(sigma, sigma)))
    centers = clean.peaks([nacl])[0].two_theta_deg[:6]
    ref = _peak_heights(clean, clean.patterns([nacl])[0].numpy(), centers)
    pats = noisy.patterns([nacl], seed=1, patterns_per_structure=k).numpy()
    # Heights relative to the (200) line remove the per-pattern normalisation to max = 1.
    ratios = np.array([_peak_heights(noisy, p, centers) for p in pats[:, :]])
    log_ratio = np.log(ratios[:, [0, 2, 3, 4, 5]] / ratios[:, [1]]) - np.log(ref[[0, 2, 3, 4, 5]] / ref[1])
    # Difference of two independent N(-σ²/2, σ²) logs: mean 0, standard deviation σ√2.
    assert abs(log_ratio.mean()) < 0.05
    assert log_ratio.std() == pytest.approx(sigma * math.sqrt(2), rel=0.1)


def test_intensity_errors_of_a_pattern_do_not_depend_on_its_batch(nacl):
    # A structure's peaks are padded to the most any structure of its batch has; per-peak draws
    # must not move with that width (they did before normal_stable).
    big = cubic("Pm-3m", 11.3, ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # many more lines than NaCl
    sim = XRDSimulator(profile=ProfileConfig(**FIXED, intensity_sigma=(0.3, 0.3)))
    alone = sim.patterns([nacl], seed=2, pattern_ids=[5])
    padded = sim.sticks
    from xrdnet.simulate.profiles import render_patterns

    from xrdnet.simulate.simulator import as_batch

    batch = as_batch([nacl, big])
    sticks = padded(batch, wavelength_angstrom=sim._stick_wavelength())
    assert int(sticks.peak_mask[0].sum()) < sticks.peak_mask.shape[1]  # NaCl really is padded here
    together = render_patterns(sticks, batch.lattice, sim.two_theta_deg(), sim.radiation, sim.profile, 2,
                               torch.tensor([5, 6]), 1)
    assert torch.allclose(alone[0], together[0], atol=1e-6)


def test_detection_limit_removes_exactly_the_peaks_below_it(nacl):
    clean = XRDSimulator(profile=ProfileConfig(**FIXED))
    peaks = clean.peaks([nacl])[0]
    limit = 0.2  # of the strongest stick (intensity scale max = 100)
    cut = XRDSimulator(profile=ProfileConfig(**FIXED, detection_limit=(limit, limit)))
    pattern = cut.patterns([nacl])[0].numpy()
    x = cut.two_theta_deg().numpy()
    weak = peaks.intensity < 100 * limit
    assert weak.any() and (~weak).any()
    for c, is_weak in zip(peaks.two_theta_deg, weak):
        height = local_peak(x, pattern, c, 0.03)[1].max()
        assert (height < 1e-3) if is_weak else (height > 0.05)


def test_impurity_lines_add_at_most_n_peaks_of_bounded_height():
    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])
    n, level = 3, 0.05
    clean = XRDSimulator(profile=ProfileConfig(**FIXED))
    sim = XRDSimulator(profile=ProfileConfig(**FIXED, impurity_peaks=n, impurity_level=(level, level)))
    base = clean.patterns([cu])[0].numpy()
    pats = sim.patterns([cu], seed=0, patterns_per_structure=64).numpy()
    extra = np.clip(pats - base[None, :], 0.0, None)  # same peaks, same normalisation: only lines added
    counts = []
    for row in extra:
        above = row > 0.2 * row.max() if row.max() > 1e-4 else np.zeros_like(row, bool)
        counts.append(int(np.sum(np.diff(above.astype(int)) == 1)))
        assert row.max() <= 1.05 * level  # a line never beats `level` of the strongest stick (heights ∝ area)
    assert max(counts) <= n and min(counts) == 0 and len(set(counts)) >= 3


def _md_weight(cos2, r):
    """March-Dollase factor of one reflection, written out independently of the simulator."""
    return (r * r * cos2 + (1.0 - cos2) / r) ** -1.5


def _seed_with_texture_direction(profile, index):
    from xrdnet.simulate.profiles import sample_parameters

    for seed in range(200):
        if int(sample_parameters(profile, seed, torch.tensor([0])).texture_direction[0]) == index:
            return seed
    raise AssertionError(f"no seed draws texture direction {index}")


@pytest.mark.parametrize("r", [0.6, 1.4])
def test_march_dollase_matches_the_formula_averaged_over_equivalent_reflections(r):
    """Cu (cubic) textured along [111]: each family's area changes by 1/N Σ (r² cos²α + sin²α/r)^(-3/2)
    over its N equivalent reflections (e.g. (111) has 2 members at α = 0 and 6 at cos²α = 1/9).
    A wrong exponent (-1/2), no averaging or α measured from the wrong axis fails."""
    import itertools

    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])
    plain_sim = XRDSimulator(profile=ProfileConfig(**FIXED))
    textured_cfg = ProfileConfig(**{**FIXED, "march_dollase_r": (r, r)})
    seed = _seed_with_texture_direction(textured_cfg, 6)  # (1, 1, 1)
    x = plain_sim.two_theta_deg().numpy()
    plain = plain_sim.patterns([cu], seed=seed)[0].numpy().astype(np.float64)
    textured = XRDSimulator(profile=textured_cfg).patterns([cu], seed=seed)[0].numpy().astype(np.float64)
    direction = np.array([1.0, 1.0, 1.0]) / math.sqrt(3.0)
    expected, measured = {}, {}
    for family in [(1, 1, 1), (2, 0, 0), (2, 2, 0)]:
        members = {tuple(s * v for s, v in zip(signs, perm))
                   for perm in itertools.permutations(family) for signs in itertools.product((1, -1), repeat=3)}
        cos2 = [float(np.dot(m, direction)) ** 2 / float(np.dot(m, m)) for m in members]
        expected[family] = np.mean([_md_weight(c, r) for c in cos2])
        center = math.degrees(2 * math.asin(plain_sim.wavelength_angstrom * math.sqrt(np.dot(family, family))
                                            / (2 * 3.615)))
        measured[family] = local_peak(x, textured, center, 0.5)[1].sum() / local_peak(x, plain, center, 0.5)[1].sum()
    ref = (2, 0, 0)  # patterns are normalised to max 1: compare ratios to one family
    for family in expected:
        assert measured[family] / measured[ref] == pytest.approx(expected[family] / expected[ref], rel=0.01), family
    # the texture is strong enough here that the -1/2 exponent would be far off
    assert abs(expected[(1, 1, 1)] / expected[ref] - 1.0) > 0.05


def test_march_dollase_tetragonal_00l_against_h00_is_r_to_the_minus_4_5():
    """Along (001): (00l) has α = 0 (factor r^-3), (h00) α = 90° (factor r^{3/2}); ratio r^-4.5."""
    r = 0.7
    s = Structure(Lattice.tetragonal(3.0, 7.0), ["Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cfg = ProfileConfig(**{**FIXED, "march_dollase_r": (r, r)})
    seed = _seed_with_texture_direction(cfg, 0)
    plain_sim = XRDSimulator(profile=ProfileConfig(**FIXED))
    x = plain_sim.two_theta_deg().numpy()
    lam = plain_sim.wavelength_angstrom
    areas = []
    for sim in (plain_sim, XRDSimulator(profile=cfg)):
        p = sim.patterns([s], seed=seed)[0].numpy().astype(np.float64)
        a001 = local_peak(x, p, math.degrees(2 * math.asin(lam / 14.0)), 0.3)[1].sum()
        a100 = local_peak(x, p, math.degrees(2 * math.asin(lam / 6.0)), 0.3)[1].sum()
        areas.append(a001 / a100)
    assert areas[1] / areas[0] == pytest.approx(r ** -4.5, rel=0.01)


def test_counting_noise_has_poisson_variance():
    """Var(counts) = mean(counts) at every point (Poisson), over many noise draws of one pattern.

    Each noisy pattern is put back on the count scale by its least-squares scale against the clean
    pattern (patterns are normalised to max 1). Noise ∝ counts, or ∝ counts^¼, fails."""
    cu = cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]])
    counts_max = 1e5
    base = {**FIXED, "eta": (1.0, 1.0)}  # Lorentzian tails: many points at tens to thousands of counts
    clean = XRDSimulator(profile=ProfileConfig(**base)).patterns([cu], seed=0)[0].numpy().astype(np.float64)
    noisy = XRDSimulator(profile=ProfileConfig(**base, peak_counts=(counts_max, counts_max))).patterns(
        [cu], seed=0, patterns_per_structure=400).numpy().astype(np.float64)
    expected_counts = clean * counts_max
    scale = (noisy @ clean) / (clean @ clean)  # [400], ≈ 1 / (max of each noisy count pattern / counts_max)
    counts = noisy / scale[:, None] * counts_max
    sel = (expected_counts > 30) & (expected_counts < 3000)
    assert sel.sum() > 300
    mean, var = counts[:, sel].mean(0), counts[:, sel].var(0, ddof=1)
    np.testing.assert_allclose(mean, expected_counts[sel], rtol=0.05)
    slope = float(np.sum(var * mean) / np.sum(mean * mean))  # var = slope · mean through the origin
    assert slope == pytest.approx(1.0, abs=0.08)
    # z-scores are standard normal
    z = (counts[:, sel] - expected_counts[sel]) / np.sqrt(expected_counts[sel])
    assert abs(z.mean()) < 0.05 and z.std() == pytest.approx(1.0, abs=0.06)


def test_chebyshev_background_is_the_chebyshev_series_min_max_scaled():
    from numpy.polynomial import chebyshev

    from xrdnet.simulate.profiles import chebyshev_background

    rng = np.random.default_rng(0)
    coeff = rng.uniform(-1, 1, (3, 6))
    ours = chebyshev_background(501, torch.tensor(coeff, dtype=torch.float32)).numpy()
    x = np.linspace(-1, 1, 501)
    for row, c in zip(ours, coeff):
        ref = chebyshev.chebval(x, c)
        ref = (ref - ref.min()) / (ref.max() - ref.min())
        np.testing.assert_allclose(row, ref, atol=2e-5)


@pytest.mark.parametrize("level", [0.05, 0.3])
def test_background_is_a_degree_d_polynomial_at_the_stated_level(nacl, level):
    """pattern_with · k = pattern_without + level · B(x), B a degree-4 polynomial from 0 to 1 (k the
    unknown ratio of the two normalisations): solved by least squares, the residual is round-off."""
    from numpy.polynomial import chebyshev

    degree = 4
    sim0 = XRDSimulator(profile=ProfileConfig(**FIXED))
    sim1 = XRDSimulator(profile=ProfileConfig(**FIXED, background_level=(level, level), background_degree=degree))
    without = sim0.patterns([nacl], seed=5)[0].numpy().astype(np.float64)
    with_bg = sim1.patterns([nacl], seed=5)[0].numpy().astype(np.float64)
    x = np.linspace(-1, 1, len(without))
    basis = chebyshev.chebvander(x, degree)  # [G, D+1]
    A = np.column_stack([with_bg, -basis])  # unknowns: k, then the background's coefficients
    solution, *_ = np.linalg.lstsq(A, without, rcond=None)
    k, c = solution[0], solution[1:]
    assert np.max(np.abs(A @ solution - without)) < 1e-5
    background = chebyshev.chebval(x, c)
    assert background.min() == pytest.approx(0.0, abs=1e-5)
    assert background.max() == pytest.approx(level, rel=1e-3)  # level × the strongest peak (= 1 here)
    assert k > 1.0


# (field, values accepted at the edge of the allowed region, values just beyond it)
PROFILE_LIMITS = [
    ("eta", [(0.0, 1.0)], [(-0.01, 0.5), (0.5, 1.01)]),
    ("crystallite_size_nm", [(0.5, 10.0)], [(0.0, 10.0)]),
    ("march_dollase_r", [(0.5, 1.0)], [(0.0, 1.0)]),
    ("kalpha2_ratio", [(0.0, 0.5)], [(-0.1, 0.5)]),
    ("background_level", [(0.0, 0.1)], [(-0.01, 0.1)]),
    ("peak_counts", [(0.0, 0.0), (1.0, 10.0)], [(0.0, 10.0), (-1.0, -1.0)]),
    ("window_fwhm", [2.0], [1.99]),
    ("background_degree", [0, 12], [-1, 13]),
    ("goniometer_radius_mm", [0.5], [0.0]),
    ("lattice_strain", [(-0.49, 0.49)], [(-0.5, 0.0), (0.0, 0.5)]),
    ("intensity_sigma", [(0.0, 0.1)], [(-0.1, 0.1)]),
    ("detection_limit", [(0.0, 0.99)], [(-0.01, 0.1), (0.0, 1.0)]),
    ("impurity_peaks", [0, 100], [-1, 101]),
    ("impurity_level", [(0.0, 0.1)], [(-0.1, 0.0)]),
    ("anisotropic_strain", [(-0.19, 0.19)], [(-0.2, 0.0), (0.0, 0.2)]),
    ("cell_angle_change_deg", [(-9.9, 9.9)], [(-10.0, 0.0), (0.0, 10.0)]),
    ("b_iso_change_A2", [(-4.9, 4.9)], [(-5.0, 0.0), (0.0, 5.0)]),
]


@pytest.mark.parametrize("name, accepted, rejected", PROFILE_LIMITS, ids=[p[0] for p in PROFILE_LIMITS])
def test_profile_config_limits_hold_exactly_at_their_edges(name, accepted, rejected):
    """Each range check of ProfileConfig accepts its edge and rejects just beyond it, naming the field and value."""
    for value in accepted:
        assert getattr(ProfileConfig(**{name: value}), name) == value
    for value in rejected:
        with pytest.raises(ValueError, match=rf"^ProfileConfig\.{name} must be .*, got {re.escape(str(value))}$"):
            ProfileConfig(**{name: value})
    with pytest.raises(ValueError, match=r"\(low, high\) range"):
        ProfileConfig(eta=(0.1, 0.2, 0.3))

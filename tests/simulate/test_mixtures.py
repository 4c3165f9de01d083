"""Specimens of several phases through the simulator's one renderer (xrdnet.simulate.mixtures)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xrdnet.simulate import ProfileConfig, XRDSimulator
from xrdnet.simulate.mixtures import MAX_PHASES, draw_fractions, render_specimens
from xrdnet.simulate.profile_presets import REAL
from xrdnet.simulate.profiles import render_patterns
from xrdnet.simulate.simulator import as_batch

from ..conftest import cubic

FIXED = dict(eta=(0.5, 0.5), caglioti_u_deg2=(0.01, 0.01), caglioti_v_deg2=(-0.005, -0.005),
             caglioti_w_deg2=(0.004, 0.004), crystallite_size_nm=(80.0, 80.0))
QUIET = dict(background_level=(0.0, 0.0), peak_counts=(0.0, 0.0), detection_limit=(0.0, 0.0), impurity_peaks=0)


@pytest.fixture(scope="module")
def phases():
    structures = [cubic("Fm-3m", 5.64, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
                  cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]]),
                  cubic("Pm-3m", 4.11, ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])]
    batch = as_batch(structures)
    return batch


def _render(batch, profile, ids, members, fractions, size_spread=0.5):
    sim = XRDSimulator(two_theta_range=(10.0, 80.0), step=0.02, profile=profile)
    sticks = sim.sticks(batch, wavelength_angstrom=sim._stick_wavelength())
    return sim, sticks, render_specimens(sticks, batch.lattice, sim.two_theta_deg(), sim.radiation, profile, 7,
                                         torch.as_tensor(ids), np.asarray(members), np.asarray(fractions, float),
                                         size_spread=size_spread)


def test_a_specimen_of_one_phase_is_the_simulators_pattern(phases):
    profile = ProfileConfig(**FIXED)  # Kα doublet on, every range collapsed, so draws cannot differ
    members = [[0, -1], [1, -1], [2, -1]]
    sim, sticks, got = _render(phases, profile, [0, 1, 2], members, [[1, 0]] * 3, size_spread=0.0)
    expected = render_patterns(sticks, phases.lattice, sim.two_theta_deg(), sim.radiation, profile, 7,
                               torch.tensor([10, 11, 12]), 1)
    assert torch.allclose(got, expected, atol=1e-6)


def _least_squares(target, *parts):
    basis = np.stack([p.numpy().astype(np.float64) for p in parts], axis=1)
    coeff, *_ = np.linalg.lstsq(basis, target.numpy().astype(np.float64), rcond=None)
    return coeff, float(np.abs(basis @ coeff - target.numpy()).max())


def test_phases_share_the_specimens_instrument_and_keep_their_own_draws(phases):
    # Everything of the real preset drawn at random, except what is added after the lines are mixed.
    profile = dataclasses.replace(REAL, **QUIET)
    f = 0.3
    members = [[0, 1], [0, -1], [-1, 1], [-1, 1]]
    fractions = [[f, 1 - f], [1, 0], [0, 1], [0, 1]]
    _, _, out = _render(phases, profile, [5, 5, 5, 6], members, fractions)
    mixture, only_a, only_b, other_b = out
    (alpha, beta), residual = _least_squares(mixture, only_a, only_b)
    assert residual < 1e-5  # one instrument: the mixture is exactly a sum of its phases rendered alone
    assert alpha > 0 and beta > 0
    _, residual_other = _least_squares(mixture, only_a, other_b)
    assert residual_other > 1e-2  # another specimen (id 6) has another instrument: no such sum


def test_fractions_set_the_share_of_each_phase(phases):
    profile = ProfileConfig(**FIXED, **QUIET)
    ratios = []
    for f in (0.25, 0.6):
        _, _, out = _render(phases, profile, [3, 3, 3], [[0, 2], [0, -1], [-1, 2]], [[f, 1 - f], [1, 0], [0, 1]])
        (alpha, beta), residual = _least_squares(out[0], out[1], out[2])
        assert residual < 1e-5
        ratios.append(alpha / beta)
    assert ratios[0] / ratios[1] == pytest.approx((0.25 / 0.75) / (0.6 / 0.4), rel=1e-4)


def test_a_specimen_does_not_depend_on_its_batch(phases):
    profile = REAL  # noise, background, impurity lines, everything
    members = [[0, 1, -1], [2, -1, -1], [1, 2, 0], [0, -1, -1]]
    fractions = [[0.5, 0.5, 0], [1, 0, 0], [0.2, 0.3, 0.5], [1, 0, 0]]
    ids = [11, 12, 13, 2**40 + 3]
    _, _, together = _render(phases, profile, ids, members, fractions)
    for i in range(4):
        _, _, alone = _render(phases, profile, ids[i:i + 1], members[i:i + 1], fractions[i:i + 1])
        assert torch.allclose(alone[0], together[i], atol=1e-6)
    _, _, again = _render(phases, profile, ids, members, fractions)
    assert torch.equal(together, again)


def test_the_detection_limit_is_the_specimens(phases):
    # A phase at 4 % of the strongest line vanishes under a 10 % detection limit of the specimen.
    members, fractions = [[0, 1], [0, -1]], [[0.96, 0.04], [1.0, 0.0]]
    clean = ProfileConfig(**FIXED, **QUIET)
    _, _, seen = _render(phases, clean, [4, 4], members, fractions)
    assert (seen[0] - seen[1]).abs().max() > 0.01
    limited = dataclasses.replace(clean, detection_limit=(0.1, 0.1))
    _, _, cut = _render(phases, limited, [4, 4], members, fractions)
    assert torch.allclose(cut[0], cut[1], atol=1e-6)


def test_fractions_are_dirichlet_above_the_floor_and_reproducible():
    ids = torch.arange(2000, dtype=torch.int64)
    k = torch.tensor([2, 3] * 1000)
    f = draw_fractions(3, ids, k, min_fraction=0.2)
    assert f.shape == (2000, MAX_PHASES)
    assert torch.allclose(f.sum(dim=1), torch.ones(2000), atol=1e-6)
    used = torch.arange(MAX_PHASES)[None, :] < k[:, None]
    assert bool((f[used] >= 0.2 - 1e-6).all()) and bool((f[~used] == 0).all())
    assert float(f[k == 2, 0].mean()) == pytest.approx(0.5, abs=0.02)  # exchangeable phases
    assert float(f[k == 2, 0].std()) > 0.1  # and not all equal
    assert torch.equal(f, draw_fractions(3, ids, k, min_fraction=0.2))
    with pytest.raises(ValueError, match="n_phases"):
        draw_fractions(3, ids[:1], torch.tensor([4]), min_fraction=0.3)


def test_bad_members_are_refused(phases):
    profile = ProfileConfig(**FIXED)
    with pytest.raises(ValueError, match="at least one phase"):
        _render(phases, profile, [0], [[-1, -1]], [[0, 0]])
    with pytest.raises(ValueError, match="rows of the 3 structures"):
        _render(phases, profile, [0], [[3, -1]], [[1, 0]])
    with pytest.raises(ValueError, match="at most"):
        _render(phases, profile, [0], [[0] * (MAX_PHASES + 1)], [[0.2] * (MAX_PHASES + 1)])

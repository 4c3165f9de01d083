"""Mixture-detector batches from a data set's cached sticks, through the simulator's renderer."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.data import PatternDataset
from xrdnet.data.specimen_batches import SpecimenBatches
from xrdnet.data.splits import compound_key
from xrdnet.simulate import ProfileConfig

CLEAN = ProfileConfig(eta=(0.5, 0.5), caglioti_u_deg2=(0.0, 0.0), caglioti_v_deg2=(0.0, 0.0),
                      caglioti_w_deg2=(0.002, 0.002), crystallite_size_nm=(1e6, 1e6), kalpha2=False)


@pytest.fixture(scope="module")
def structures(tiny_dataset):
    with PatternDataset(tiny_dataset) as ds:
        keys = np.array([compound_key(f) for f in ds.formula])
        rows = np.arange(ds.n_structures)
    return rows, keys


def test_a_step_is_the_same_batch_every_time(tiny_dataset, structures):
    rows, keys = structures
    batches = SpecimenBatches(tiny_dataset, rows, keys, batch_size=16, seed=4, pool=4)
    x, y = batches(3)
    again, y_again = SpecimenBatches(tiny_dataset, rows, keys, batch_size=16, seed=4, pool=4)(3)
    assert np.array_equal(x, again) and np.array_equal(y, y_again)
    other, _ = batches(4)
    assert not np.allclose(x, other)
    with PatternDataset(tiny_dataset) as ds:
        assert x.shape == (16, -(-ds.n_points // 4))
    assert np.allclose(x.max(axis=1), 1.0)


def test_mixtures_hold_different_compounds_and_singles_one_phase(tiny_dataset, structures):
    rows, keys = structures
    batches = SpecimenBatches(tiny_dataset, rows, keys, batch_size=40, mixture_share=0.5, seed=1)
    members, fractions, label = batches.draw(0)
    assert label.sum() == 20
    n_phases = (members >= 0).sum(axis=1)
    assert np.array_equal(n_phases > 1, label > 0)
    for m, f in zip(members, fractions.numpy()):
        used = m[m >= 0]
        assert len(set(keys[rows[used]])) == len(used)  # no compound twice in one specimen
        assert f[: len(used)].sum() == pytest.approx(1.0, abs=1e-6)
        assert (f[: len(used)] >= 0.15 - 1e-6).all()


def test_a_single_phase_specimen_shows_its_structures_lines(tiny_dataset, structures):
    rows, keys = structures
    batches = SpecimenBatches(tiny_dataset, rows, keys, batch_size=20, mixture_share=0.0, seed=2, profile=CLEAN)
    members, _, label = batches.draw(0)
    assert not label.any()
    patterns, _ = batches.patterns(0)
    grid = batches.two_theta_deg.numpy()
    for m, pattern in zip(members[:, 0], patterns):
        sticks, _ = batches.cache.sticks(rows[[m]])
        live = sticks.peak_mask[0].numpy()
        positions = sticks.peak_two_theta_deg[0].numpy()[live]
        strongest_at = grid[int(np.argmax(pattern))]
        assert np.min(np.abs(positions - strongest_at)) < 0.05


def test_too_few_compounds_are_refused(tiny_dataset, structures):
    rows, keys = structures
    with pytest.raises(ValueError, match="at least 3 different compounds"):
        SpecimenBatches(tiny_dataset, rows[:2], keys[:2])

"""Sticks cached beside a data set render the patterns the simulator renders from the structures."""

import numpy as np
import pytest
import torch

from xrdnet.config import config_from_dict
from xrdnet.data.reader import PatternDataset
from xrdnet.data.stick_cache import StickCache, build_stick_cache, cache_path
from xrdnet.simulate import ProfileConfig, SimulatorConfig, XRDSimulator
from xrdnet.simulate.profiles import render_patterns


def test_cache_path_sits_beside_the_data():
    assert cache_path("data/real.h5").as_posix() == "data/real.sticks.h5"


def test_patterns_from_cached_sticks_equal_direct_renders(tiny_dataset, tmp_path):
    cache = StickCache.load(build_stick_cache(tiny_dataset, tmp_path / "tiny.sticks.h5", progress=False))
    with PatternDataset(tiny_dataset) as ds:
        sim_config = config_from_dict(SimulatorConfig, ds.config["simulator"], "tiny")
        batch = ds.records(np.arange(ds.n_structures)).to_batch()
        # the cache holds the sticks at Kα1 (the profile adds Kα2), as the renderer computes them
        sticks = XRDSimulator.from_config(sim_config).sticks(batch, cache.stick_wavelength_angstrom)
    assert len(cache) == len(batch)
    assert cache.peak_count.tolist() == sticks.peak_mask.sum(1).tolist()
    # every profile effect on, texture included (it weights the unmerged reflections one by one)
    profile = ProfileConfig(march_dollase_r=(0.6, 1.4), zero_shift_deg=(-0.1, 0.1), background_level=(0.0, 0.2),
                            peak_counts=(500.0, 5000.0), lattice_strain=(-0.02, 0.02), intensity_sigma=(0.0, 0.3),
                            detection_limit=(0.0, 0.02), impurity_peaks=2, impurity_level=(0.0, 0.05))
    sim = XRDSimulator(sim_config.wavelength, sim_config.two_theta_range, sim_config.step, profile=profile)
    ids = torch.arange(len(cache)) * 7 + 11
    direct = sim.patterns(batch, seed=5, pattern_ids=ids)
    sticks, lattice = cache.sticks(np.arange(len(cache)))
    cached = render_patterns(sticks, lattice, sim.two_theta_deg(), sim.radiation, profile, 5, ids, 1)
    assert torch.allclose(direct, cached, atol=1e-5)
    assert not torch.allclose(direct, render_patterns(sticks, lattice, sim.two_theta_deg(), sim.radiation, profile,
                                                      6, ids, 1), atol=1e-3)


def test_a_cache_of_other_data_is_rebuilt(tiny_dataset, tmp_path, capsys):
    import shutil

    import h5py

    data = tmp_path / "copy.h5"
    shutil.copy(tiny_dataset, data)
    first = StickCache.for_dataset(data, progress=False)
    with h5py.File(cache_path(data), "r+") as h5:
        h5.attrs["data_key"] = "v1:3:0:deadbeef"
    again = StickCache.for_dataset(data, progress=False)
    assert "rebuilding" in capsys.readouterr().out
    assert again.data_key == first.data_key
    np.testing.assert_array_equal(again.peak_two_theta_deg, first.peak_two_theta_deg)


def test_an_unreadable_cache_names_the_file(tmp_path):
    bad = tmp_path / "bad.sticks.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="bad.sticks.h5"):
        StickCache.load(bad)


def test_conventional_cells_are_added_to_a_cache_once_and_drive_the_anisotropic_strain(tiny_dataset, tmp_path):
    import shutil

    import h5py

    from xrdnet.data.fresh import FreshPatternRows
    from xrdnet.data.stick_cache import add_conventional_cells

    data = tmp_path / "copy.h5"
    shutil.copy(tiny_dataset, data)
    plain = StickCache.for_dataset(data, progress=False)
    assert plain.conventional_transform is None
    with pytest.raises(ValueError, match="add_conventional_cells"):
        plain.cells(np.arange(2))
    add_conventional_cells(data, progress=False)
    with h5py.File(cache_path(data), "r") as h5:
        assert sorted(h5["conventional"]) == ["crystal_system", "transform", "valid"]
    cache = StickCache.load(cache_path(data))
    np.testing.assert_array_equal(cache.peak_two_theta_deg, plain.peak_two_theta_deg)  # sticks untouched
    with PatternDataset(data) as ds:
        np.testing.assert_array_equal(cache.conventional_crystal_system, ds.crystal_system)
        rows = ds.indices("train", "structure")
        profile = ds.simulator_config().profile
    assert cache.conventional_valid.mean() > 0.9
    strained = ProfileConfig(**{**profile.__dict__, "anisotropic_strain": (-0.04, 0.04),
                                "cell_angle_change_deg": (-2.0, 2.0)})
    ids = np.arange(len(rows)) + (1 << 32)
    fresh = FreshPatternRows(data, rows, strained, seed=3)
    again = FreshPatternRows(data, rows, strained, seed=3)
    unstrained = FreshPatternRows(data, rows, profile, seed=3)
    structure = fresh.structure_row
    a, b = fresh.render(structure, ids), again.render(structure, ids)
    assert torch.equal(a, b)  # the same seed and draw ids give the same patterns
    c = unstrained.render(structure, ids)
    moved = (a - c).abs().amax(1) > 1e-3
    cubic = torch.from_numpy(fresh.crystal_system == 6)
    assert bool(cubic.any()) and bool((~cubic).any())
    assert bool(moved[~cubic].all()) and not bool(moved[cubic].any())  # cubic cells have no free shape
    # a plain render has no conventional cells to perturb: it says so instead of ignoring the setting
    sticks, lattice = cache.sticks(structure[:2])
    with pytest.raises(ValueError, match="conventional"):
        render_patterns(sticks, lattice, fresh.two_theta_deg, fresh.radiation, strained, 3,
                        torch.from_numpy(ids[:2]), 1)

"""Structure sources: one registry the builder reads, so a new source is one module and one entry."""

from __future__ import annotations

import importlib

import h5py
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xrdnet.data import SimulateConfig, build_dataset
from xrdnet.data.records import StructureRecords
from xrdnet.simulate import ProfileConfig, SimulatorConfig
from xrdnet.structures import LabelledStructure
from xrdnet.structures.sources import (SOURCES, SourceEntry, StructureSource, UnitLog, check_source_settings,
                                       n_units, open_source)

SIM = SimulatorConfig(two_theta_range=(10.0, 70.0), step=0.05, profile=ProfileConfig(peak_counts=(1000.0, 1000.0)))


class RockSaltSource:
    """A source made up for the test: NaCl at a few lattice constants; unit 1 is 'unreadable'."""

    uses_worker_processes = False
    EDGES_A = (5.4, 5.5, 5.6, 5.7, 5.8)

    @classmethod
    def from_config(cls, config) -> RockSaltSource:
        return cls()

    def n_available(self) -> int:
        return len(self.EDGES_A)

    def records(self, start, stop, log: UnitLog):
        for unit in range(start, stop):
            if unit == 1:
                log.skipped[unit] = (f"rocksalt[{unit}]", "made unreadable for the test")
                continue
            structure = Structure.from_spacegroup("Fm-3m", Lattice.cubic(self.EDGES_A[unit]), ["Na", "Cl"],
                                                  [[0, 0, 0], [0.5, 0.5, 0.5]])
            yield unit, StructureRecords.from_labelled([LabelledStructure(structure, 225, "rocksalt", unit)])


def test_every_registered_source_is_a_structure_source_class():
    for name, entry in SOURCES.items():
        module_name, class_name = entry.target.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        assert callable(getattr(cls, "from_config", None)), name
        for method in ("n_available", "records"):
            assert callable(getattr(cls, method, None)), (name, method)
        assert isinstance(cls.uses_worker_processes, bool), name


def test_settings_a_source_needs_are_checked_by_the_registry():
    with pytest.raises(ValueError, match="source must be one of"):
        SimulateConfig(source="nope")
    with pytest.raises(ValueError, match="source 'cif' needs cif_dir"):
        SimulateConfig(source="cif")
    with pytest.raises(ValueError, match="source 'jsonl' needs jsonl_files"):
        SimulateConfig(source="jsonl")
    with pytest.raises(ValueError, match="n_structures must be > 0"):
        SimulateConfig(source="synthetic", n_structures=0)
    check_source_settings(SimulateConfig(source="cif", cif_dir="somewhere", n_structures=0))


def test_a_run_covers_what_the_source_holds():
    source = RockSaltSource()
    assert n_units(source, 0) == 5 and n_units(source, 3) == 3 and n_units(source, 50) == 5

    class Endless:
        def n_available(self):
            return None

    assert n_units(Endless(), 7) == 7


def test_a_new_source_is_one_class_and_one_registry_entry(tmp_path, monkeypatch):
    monkeypatch.setitem(SOURCES, "rocksalt",
                       SourceEntry(f"{__name__}:RockSaltSource", unit_name="rock-salt cells"))
    config = SimulateConfig(source="rocksalt", n_structures=0, patterns_per_structure=1, workers=1, device="cpu",
                            chunk_structures=2, simulator=SIM)
    assert isinstance(open_source(config), StructureSource)
    out = tmp_path / "rocksalt.h5"
    build_dataset(config, out, progress=False)
    with h5py.File(out, "r") as h5:
        assert h5["patterns"].shape[0] == 4  # 5 units, one skipped, K = 1
        assert h5.attrs["source"] == "rocksalt"
    skipped = (tmp_path / "rocksalt.skipped.tsv").read_text()
    assert "made unreadable for the test" in skipped and "rocksalt[1]" in skipped
    # The builder rendered what the source gave, in unit order: the 200 line moves down as a grows.
    with h5py.File(out, "r") as h5:
        grid, patterns = h5["two_theta_deg"][()], h5["patterns"][()].astype(np.float32)
    window = (grid > 28.0) & (grid < 34.0)  # NaCl 200 at 2θ ≈ 31.7° for a = 5.64 Å
    peaks = grid[window][np.argmax(patterns[:, window], axis=1)]
    assert np.all(np.diff(peaks) < 0)

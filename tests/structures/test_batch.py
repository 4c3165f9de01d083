"""StructureBatch: padding, disordered sites, round trips to pymatgen, slicing and devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from xrdnet.structures.batch import StructureBatch


def test_padding_and_disordered_slots(nacl):
    mixed = Structure(Lattice.cubic(4.0), [{"Fe": 0.6, "Co": 0.4}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    batch = StructureBatch.from_structures([nacl, mixed], space_groups=[225, 221], sources=["a", "b"])
    assert batch.lattice.shape == (2, 3, 3) and batch.lattice.dtype == torch.float64
    assert batch.frac_coords.shape == (2, 8, 3)
    assert batch.site_mask.sum(1).tolist() == [8, 3]  # one slot per (site, species)
    assert batch.occupancy[1, :3].tolist() == pytest.approx([0.6, 0.4, 1.0])
    assert batch.site_index[1, :3].tolist() == [0, 0, 1]
    assert (batch.occupancy[~batch.site_mask] == 0).all()
    assert batch.space_group.tolist() == [225, 221]
    assert batch.formula[0] == "NaCl" and batch.source == ["a", "b"]


def test_round_trip_to_pymatgen(nacl):
    mixed = Structure(Lattice.from_parameters(3, 4, 5, 80, 95, 100), [{"Fe": 0.6, "Co": 0.4}, {"O": 0.8}],
                      [[0.1, 0.2, 0.3], [0.5, 0.6, 0.7]])
    back = StructureBatch.from_structures([nacl, mixed]).to_structures()
    for original, restored in zip([nacl, mixed], back):
        assert len(original) == len(restored)
        np.testing.assert_allclose(original.lattice.matrix, restored.lattice.matrix)
        for a, b in zip(original, restored):
            assert a.species.as_dict() == pytest.approx(b.species.as_dict())
            np.testing.assert_allclose(a.frac_coords, b.frac_coords)


def test_b_iso_from_argument_or_site_property(nacl):
    by_element = StructureBatch.from_structures([nacl], b_iso={"Na": 1.0, "Cl": 0.5})
    z = by_element.atomic_number[0][by_element.site_mask[0]]
    b = by_element.b_iso[0][by_element.site_mask[0]]
    assert set(b[z == 11].tolist()) == {1.0} and set(b[z == 17].tolist()) == {0.5}
    with_prop = nacl.copy()
    with_prop.add_site_property("b_iso", [0.7] * len(nacl))
    assert StructureBatch.from_structures([with_prop]).b_iso[0, :8].tolist() == [0.7] * 8
    restored = StructureBatch.from_structures([with_prop]).to_structures()[0]
    assert restored.site_properties["b_iso"] == [0.7] * 8


def test_slicing_concatenation_and_device(nacl):
    small = Structure(Lattice.cubic(3.0), ["Cu"], [[0, 0, 0]])
    batch = StructureBatch.from_structures([nacl, small, nacl], sources=["x", "y", "z"])
    sub = batch[[1]]
    assert len(sub) == 1 and sub.n_slots == 1 and sub.source == ["y"]
    joined = StructureBatch.concatenate([sub, batch[0:1]])
    assert len(joined) == 2 and joined.n_slots == 8 and joined.site_mask.sum(1).tolist() == [1, 8]
    moved = batch.to("cpu")
    assert moved.device.type == "cpu" and torch.equal(moved.frac_coords, batch.frac_coords)


def test_empty_input_is_an_error():
    with pytest.raises(ValueError):
        StructureBatch.from_structures([])


@pytest.mark.gpu
def test_to_cuda_and_back(nacl):
    batch = StructureBatch.from_structures([nacl]).to("cuda")
    assert batch.lattice.is_cuda and batch.site_mask.is_cuda
    assert batch.to("cpu").to_structures()[0] == nacl

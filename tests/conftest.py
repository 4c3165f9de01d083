"""Shared fixtures: small textbook structures and the stored set of random reference crystals."""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).parent / "data"


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _quiet_pymatgen():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pymatgen")
        warnings.filterwarnings("ignore", message=".*fractional coordinates.*")
        yield


def cubic(spacegroup: str, a: float, species, coords):
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup(spacegroup, Lattice.cubic(a), species, coords)


@pytest.fixture(scope="session")
def nacl():
    return cubic("Fm-3m", 5.640, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture(scope="session")
def reference_records():
    """The seeded random pyxtal crystals of ``scripts/make_reference_structures.py``."""
    from pymatgen.core import Structure

    with gzip.open(DATA / "reference_structures.json.gz", "rt") as fh:
        records = json.load(fh)
    for r in records:
        r["structure"] = Structure.from_dict(r["structure"])
    return records

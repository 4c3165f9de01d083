"""Shared fixtures: small textbook structures and the stored set of random reference crystals."""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).parent / "data"
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    """The module of ``scripts/<name>.py`` (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_tiny_cnn(data_path: Path, folder: Path) -> Path:
    """A one-epoch CNN run of a few thousand weights on ``data_path`` (e.g. ``tiny_dataset``) in ``folder``."""
    from xrdnet.data.datamodule import DataConfig
    from xrdnet.models.cnn import CNNConfig
    from xrdnet.train import TrainConfig, TrainerConfig, train

    train(TrainConfig(model="cnn", data=DataConfig(batch_size=16),
                      cnn=CNNConfig(channels=(8, 8, 16), hidden=32, stem_stride=2),
                      trainer=TrainerConfig(max_epochs=1, progress_bar=False, accelerator="cpu", devices=1)),
          data_path, folder)
    return folder


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


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A small xrdnet data set (30 pyxtal structures x K=4 on a coarse 1201-point grid, with noise)
    shared by the data-module, model and compare tests."""
    from xrdnet.data import SimulateConfig, build_dataset
    from xrdnet.simulate import ProfileConfig, SimulatorConfig
    from xrdnet.structures import SyntheticConfig

    config = SimulateConfig(
        seed=1, n_structures=30, patterns_per_structure=4, workers=1, device="cpu", chunk_structures=8,
        synthetic=SyntheticConfig(max_atoms_per_cell=12, n_species=(1, 2)),
        simulator=SimulatorConfig(two_theta_range=(10.0, 70.0), step=0.05,
                                  profile=ProfileConfig(peak_counts=(2000.0, 2000.0))),
    )
    path = tmp_path_factory.mktemp("tiny") / "tiny.h5"
    build_dataset(config, path, progress=False)
    return path

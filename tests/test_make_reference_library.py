"""scripts/make_reference_library.py: the training structures of a data set become a searchable library."""

from __future__ import annotations

import shutil

import numpy as np

from tests.conftest import load_script


def test_library_holds_the_training_structures_and_finds_them_in_their_patterns(tiny_dataset, tmp_path):
    from xrdnet.checkpoint.match_pool import MatchPool
    from xrdnet.data.reader import PatternDataset

    script = load_script("make_reference_library")
    data = tmp_path / "tiny.h5"
    shutil.copy(tiny_dataset, data)  # the stick cache is written beside it
    library = script.build(data, split="train", split_kind="structure")
    with PatternDataset(data) as ds:
        train = np.flatnonzero(ds.structure_split("structure") == 0)
        rows = ds.indices("train", "structure")
        patterns = ds.read_patterns(rows)
        owner = ds.structure_index[rows]
        grid, lam = ds.two_theta_deg, ds.wavelength_angstrom
        assert list(library.space_group) == list(ds.space_group[train])
        assert list(library.ids) == [ds.source[i] for i in train]
    assert 0 < len(library) < 30 and "train structures" in library.source and str(tmp_path) not in library.source
    matches = MatchPool(library, 0.5).matches(patterns, grid, lam, k=1)
    found = train[matches.index[:, 0]] == owner
    # noisy profiles over 10-70° of random pyxtal crystals: nearly every one finds its own structure, at d × 1
    assert found.mean() >= 0.8
    assert np.all(np.abs(matches.d_scale[found, 0] - 1) < 0.005)
    path = library.save(tmp_path / "lib.npz")
    assert script.main(["--data", str(data), "--out", str(tmp_path / "again.npz")]) == 0
    assert (tmp_path / "again.npz").stat().st_size > 0 and path.stat().st_size > 0


def test_ablation_bands_count_the_best_match_by_its_similarity():
    from types import SimpleNamespace

    from xrdnet.search_match import Matches

    script = load_script("ablate_search_match")
    library = SimpleNamespace(crystal_system=np.array([6, 1]), space_group=np.array([225, 14]))
    matches = Matches(np.array([[0], [1], [0]]), np.array([[0.95], [0.55], [0.3]], np.float32), np.ones((3, 1)))
    sets = {"s": (None, np.array([6, 6, 6]), np.array([225, 221, 225]))}
    bands = script.similarity_bands(library, {"s": matches}, sets)["s"]
    by_start = {b["from"]: b for b in bands}
    assert by_start[0.9]["n"] == 1 and by_start[0.9]["cs_acc"] == 1.0 and by_start[0.9]["sg_acc"] == 1.0
    assert by_start[0.5]["n"] == 1 and by_start[0.5]["cs_acc"] == 0.0
    assert by_start[0.0]["n"] == 1 and by_start[0.0]["cs_acc"] == 1.0
    assert by_start[0.7]["n"] == 0 and by_start[0.7]["cs_acc"] is None

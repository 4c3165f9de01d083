"""``xrdnet simulate``: layout, determinism, resume after SIGKILL, shards + merge, sources, splits."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from xrdnet.config import save_config
from xrdnet.data import PatternDataset, SimulateConfig, build_dataset
from xrdnet.data.merge import merge_shards
from xrdnet.simulate import ProfileConfig, SimulatorConfig, XRDSimulator
from xrdnet.structures import SyntheticConfig, generate_synthetic

# Small and quick: a coarse grid, few atoms, one worker (the pool is tested in tests/structures).
SIM = SimulatorConfig(two_theta_range=(10.0, 70.0), step=0.05,
                      profile=ProfileConfig(peak_counts=(1000.0, 1000.0), background_level=(0.0, 0.1)))
SYN = SyntheticConfig(max_atoms_per_cell=12, n_species=(1, 2))


def small_config(**kw) -> SimulateConfig:
    base = dict(seed=3, n_structures=10, patterns_per_structure=2, workers=1, device="cpu", chunk_structures=3,
                synthetic=SYN, simulator=SIM)
    base.update(kw)
    return SimulateConfig(**base)


def contents(path: Path) -> dict:
    """Every data set of a file as numpy, plus the attributes that must not depend on how it was made."""
    out = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        for key in ("config", "seed", "wavelength", "two_theta_step_deg", "unit_start", "unit_stop"):
            out["@" + key] = h5.attrs[key]
        gen = json.loads(h5.attrs["generation"])
        out["@generation"] = {k: v for k, v in gen.items() if k != "seconds"}
    return out


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].dtype == b[key].dtype, key
            assert np.array_equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run of ``small_config()``."""
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    build_dataset(small_config(), path, progress=False)
    return path


def test_layout_labels_and_patterns(reference):
    items = list(generate_synthetic(SYN, 10, seed=3))
    with PatternDataset(reference) as ds:
        assert ds.n_structures == len(items) and len(ds) == 2 * len(items)
        assert ds.patterns.dtype == np.float16 and ds.patterns.shape[1] == 1201
        assert np.allclose(ds.two_theta_deg, np.linspace(10, 70, 1201), atol=1e-4)
        assert list(ds.space_group) == [it.space_group for it in items]
        assert list(ds.crystal_system) == [it.crystal_system for it in items]
        assert np.array_equal(ds.structure_index, np.repeat(np.arange(len(items)), 2))
        assert ds.attrs["wavelength"] == "CuKa" and ds.attrs["seed"] == 3
        assert ds.config["patterns_per_structure"] == 2
        # The stored structures are the generated ones, bit for bit.
        for stored, item in zip(ds.structures(range(len(items))), items):
            assert np.array_equal(stored.lattice.matrix, item.structure.lattice.matrix)
            assert np.array_equal(stored.frac_coords, item.structure.frac_coords)
            assert [s.specie.symbol for s in stored] == [s.specie.symbol for s in item.structure]
        # Patterns are the simulator's, for global ids source_index*K + k, stored in float16.
        sim = XRDSimulator.from_config(SIM)
        ids = (np.array([it.index for it in items])[:, None] * 2 + np.arange(2)).reshape(-1)
        expected = sim.patterns([it.structure for it in items], seed=3, patterns_per_structure=2, pattern_ids=ids)
        assert np.array_equal(ds.read_patterns(np.arange(len(ds)), np.float16), expected.half().numpy())
        assert np.array_equal(ds.pattern_id, ids)
        rows = np.array([5, 0, 5, 3])
        assert np.array_equal(ds.read_patterns(rows), ds.patterns[()][rows].astype(np.float32))
        assert np.all(np.isfinite(ds.patterns[()].astype(np.float32)))
        assert np.allclose(ds.patterns[()].astype(np.float32).max(1), 1.0, atol=1e-3)


def test_splits_keep_structures_together_and_cover_everything(reference):
    with PatternDataset(reference) as ds:
        for kind in ("structure", "structure_type"):
            parts = [ds.indices(s, kind) for s in ("train", "val", "test")]
            assert sorted(np.concatenate(parts).tolist()) == list(range(len(ds)))
            owner = [set(ds.structure_index[p].tolist()) for p in parts]
            assert not (owner[0] & owner[1]) and not (owner[0] & owner[2]) and not (owner[1] & owner[2])


def test_same_config_and_seed_give_the_same_file_whatever_the_chunking(reference, tmp_path):
    other = tmp_path / "other.h5"
    build_dataset(small_config(chunk_structures=7), other, progress=False)
    a, b = contents(reference), contents(other)
    a.pop("@config"), b.pop("@config")  # differ only in chunk_structures
    assert_same(a, b)
    different = tmp_path / "seed4.h5"
    build_dataset(small_config(seed=4), different, progress=False)
    assert not np.array_equal(contents(different)["patterns"][:2], a["patterns"][:2])


def _run_cli(args, cwd, **kw):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "xrdnet.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.parametrize("kill_after_chunks", [0, 2])
def test_sigkill_then_resume_gives_the_uninterrupted_file(reference, tmp_path, kill_after_chunks):
    config = tmp_path / "small.yaml"
    save_config(small_config(), config)
    args = ["simulate", "--config", str(config), "--out", "k.h5", "--quiet"]
    parts = tmp_path / "k.h5.parts"
    proc = _run_cli(args, tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        done = len(list(parts.glob("chunk-*.h5"))) if parts.exists() else 0
        if done >= kill_after_chunks and (kill_after_chunks or parts.exists()):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "k.h5").exists()

    again = _run_cli(args, tmp_path)  # without --resume: refuses, names the folder
    output = again.communicate(timeout=120)[0]
    assert again.returncode != 0 and "--resume" in output and "k.h5.parts" in output

    resumed = _run_cli(args + ["--resume"], tmp_path)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert not parts.exists()
    assert_same(contents(reference), contents(tmp_path / "k.h5"))


def test_resume_with_another_config_is_refused(tmp_path):
    out = tmp_path / "x.h5"
    (tmp_path / "x.h5.parts").mkdir()
    (tmp_path / "x.h5.parts" / "run.json").write_text(json.dumps({"config": {"seed": 99}, "shard": [0, 1]}))
    with pytest.raises(ValueError, match="different config"):
        build_dataset(small_config(), out, resume=True, progress=False)
    build_dataset(small_config(n_structures=2, chunk_structures=2), tmp_path / "y.h5", progress=False)
    with pytest.raises(FileExistsError, match="y.h5 already exists"):
        build_dataset(small_config(n_structures=2, chunk_structures=2), tmp_path / "y.h5", progress=False)


def test_shards_merge_into_the_unsharded_data_set_without_copying(reference, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    shards = []
    for i in (2, 0, 1):
        path = folder / f"part{i}.h5"
        build_dataset(small_config(), path, shard=f"{i}/3", progress=False)
        shards.append(path)
    with PatternDataset(shards[1]) as first:
        assert 0 < first.n_structures < 10
    merged = merge_shards(folder / "all.h5", shards)
    with h5py.File(merged, "r") as h5:
        assert h5["patterns"].is_virtual
    assert os.path.getsize(merged) < os.path.getsize(reference) / 2
    a, b = contents(reference), contents(merged)
    for key in ("@unit_start", "@unit_stop", "@config", "@seed"):
        assert a[key] == b[key]
    for key in [k for k in a if not k.startswith("@")]:
        assert np.array_equal(a[key], b[key]), key
    assert a["@generation"] == b["@generation"]
    # Moving the folder keeps it readable: sources are relative to the merged file.
    moved = shutil.move(str(folder), str(tmp_path / "moved"))
    with PatternDataset(Path(moved) / "all.h5") as ds:
        assert np.array_equal(ds.read_patterns([0, len(ds) - 1]), a["patterns"][[0, -1]].astype(np.float32))
    with pytest.raises(ValueError, match="missing shard"):
        merge_shards(tmp_path / "bad.h5", [Path(moved) / "part0.h5", Path(moved) / "part2.h5"])


def test_cif_source_skips_bad_files_and_type_split_groups_prototypes(tmp_path):
    cifs = tmp_path / "cifs"
    cifs.mkdir()
    rock_salts = {"NaCl": 5.64, "KCl": 6.29, "KBr": 6.60, "MgO": 4.21, "LiF": 4.03}
    for formula, a in rock_salts.items():
        cation, anion = (formula[:2], formula[2:]) if formula[1].islower() else (formula[:1], formula[1:])
        s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])
        CifWriter(s).write_file(cifs / f"{formula}.cif")
    rutile = Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.59, 2.96), ["Ti", "O"],
                                       [[0, 0, 0], [0.305, 0.305, 0]])
    CifWriter(rutile).write_file(cifs / "TiO2.cif")
    (cifs / "broken.cif").write_text("data_broken\n_cell_length_a oops\nloop_\n_atom_site_label\n")
    out = tmp_path / "cif.h5"
    report = build_dataset(small_config(source="cif", cif_dir=str(cifs), n_structures=0), out, progress=False)
    assert report.n_structures == 6 and report.n_skipped == 1
    tsv = (tmp_path / "cif.skipped.tsv").read_text()
    assert "broken.cif" in tsv
    with PatternDataset(out) as ds:
        assert sorted(ds.space_group.tolist()) == [136] + [225] * 5
        types = h5py.File(out, "r")["structures/structure_type"].asstr()[()]
        salt = [i for i, t in enumerate(types) if t.startswith("225|")]
        assert len({types[i] for i in salt}) == 1
        assert len({int(ds.split_by_type[i]) for i in salt}) == 1  # a prototype never straddles splits
        assert ds.skipped()[0][0].endswith("broken.cif")


def test_rerendering_stored_structures(reference, tmp_path):
    same = tmp_path / "same.h5"
    build_dataset(small_config(source="hdf5", structures_file=str(reference), n_structures=0), same, progress=False)
    a, b = contents(reference), contents(same)
    for key in ("patterns", "structures/space_group", "structures/split", "structures/split_by_type", "sites/frac_coords"):
        assert np.array_equal(a[key], b[key]), key
    noisy = tmp_path / "noisy.h5"
    build_dataset(small_config(source="hdf5", structures_file=str(reference), n_structures=0, seed=11), noisy,
                  progress=False)
    c = contents(noisy)
    assert np.array_equal(a["structures/lattice"], c["structures/lattice"])
    assert not np.array_equal(a["patterns"], c["patterns"])


def test_info_explains_files_that_are_not_data_sets(reference, tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = [1, 2, 3]
    proc = _run_cli(["info", str(reference), str(text), str(other)], tmp_path)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0
    assert "notes.h5: not a readable HDF5 file" in output
    assert "other.h5: not an xrdnet data set" in output
    assert "cubic" in output and "split by structure_type" in output  # the good file is still reported
    proc = _run_cli(["info", str(reference), "--json"], tmp_path)
    summary = json.loads(proc.communicate(timeout=120)[0])
    assert summary["n_patterns"] == 2 * summary["n_structures"]
    assert sum(summary["crystal_systems"].values()) == summary["n_structures"] >= 8


def test_exactly_n_structures_through_chunks_resume_and_shards(tmp_path, monkeypatch):
    # Issue 14: F432 (209) cannot be built within 12 atoms, so its indices used to yield nothing and
    # --n-structures 5 gave fewer. Each index now redraws its group and delivers one structure.
    weights = tmp_path / "w.yaml"
    weights.write_text("209: 1\n221: 1\n")
    syn = SyntheticConfig(space_groups=str(weights), max_atoms_per_cell=12, n_species=(1, 2), max_attempts=2)
    config = small_config(n_structures=5, chunk_structures=2, seed=2, synthetic=syn)
    full = tmp_path / "full.h5"
    report = build_dataset(config, full, progress=False)
    assert report.n_structures == 5 and report.generation["exhausted"] >= 1
    with PatternDataset(full) as ds:
        assert ds.n_structures == 5 and set(ds.space_group.tolist()) == {221}
    # An interrupted run (here: killed while assembling, one chunk lost) completes with --resume.
    import xrdnet.data.build as build

    def die(*args, **kw):
        raise KeyboardInterrupt

    out = tmp_path / "resumed.h5"
    monkeypatch.setattr(build, "_assemble", die)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(config, out, progress=False)
    monkeypatch.undo()
    chunks = sorted((tmp_path / "resumed.h5.parts").glob("chunk-*.h5"))
    assert len(chunks) == 3
    chunks[1].unlink()
    assert build_dataset(config, out, resume=True, progress=False).resumed_chunks == 2
    assert_same(contents(full), contents(out))
    # Shards hold 2 + 3 structures.
    sizes = [build_dataset(config, tmp_path / f"s{i}.h5", shard=f"{i}/2", progress=False).n_structures
             for i in range(2)]
    assert sizes == [2, 3]


def test_structures_from_reuses_the_stored_simulator_config(reference, tmp_path, capsys):
    # Issue 14: re-rendering used the default clean profile (and 8501-point grid) instead of the file's.
    from xrdnet.cli import main

    same = tmp_path / "same.h5"
    assert main(["simulate", "--structures-from", str(reference), "--seed", "3", "--out", str(same), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"simulator config stored in {reference}" in out and "peak_counts=[1000.0, 1000.0]" in out
    a, b = contents(reference), contents(same)
    assert np.array_equal(a["patterns"], b["patterns"])  # same config and seed: the same patterns
    seven = tmp_path / "seven.h5"
    assert main(["simulate", "--structures-from", str(reference), "--seed", "7", "--patterns-per-structure", "3",
                 "--out", str(seven), "--quiet"]) == 0
    with PatternDataset(reference) as ref, PatternDataset(seven) as ds:
        assert ds.config["simulator"] == ref.config["simulator"] and ds.config["seed"] == 7
        assert ds.n_structures == ref.n_structures and len(ds) == 3 * ref.n_structures  # flags still override
        assert np.array_equal(ds.two_theta_deg, ref.two_theta_deg)
    # --config wins over the stored config, and says so.
    clean = tmp_path / "clean.yaml"
    save_config(small_config(simulator=SimulatorConfig(two_theta_range=(10.0, 70.0), step=0.1)), clean)
    other = tmp_path / "other.h5"
    assert main(["simulate", "--config", str(clean), "--structures-from", str(reference), "--out", str(other),
                 "--quiet"]) == 0
    assert f"simulator config of {clean}" in capsys.readouterr().out
    with PatternDataset(other) as ds:
        assert ds.n_points == 601

"""JSON-lines of CIF strings: streamed, labelled by spglib (not the declared symbol), bad records skipped."""

from __future__ import annotations

import bz2
import gzip
import json

import numpy as np
import pytest
import spglib
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from xrdnet.structures import SkipReport
from xrdnet.structures.cif_folder import parse_cif_text
from xrdnet.structures.jsonl import count_records, iter_jsonl


def _spglib_number(structure: Structure, symprec: float = 0.1) -> int:
    cell = (structure.lattice.matrix, structure.frac_coords, [s.specie.Z for s in structure])
    return int(spglib.get_symmetry_dataset(cell, symprec=symprec).number)


def _structures():
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    rutile = Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.59, 2.96), ["Ti", "O"],
                                       [[0, 0, 0], [0.305, 0.305, 0]])
    quartz = Structure.from_spacegroup(154, Lattice.hexagonal(4.913, 5.405), ["Si", "O"],
                                       [[0.4697, 0, 0], [0.4135, 0.2669, 0.2144]])
    return {"mp-1": nacl, "mp-2": rutile, "mp-3": quartz}


def _write(path, lines, opener=open):
    with opener(path, "wt") as handle:
        for line in lines:
            handle.write(line + "\n")


def _good_lines(structures, symmetrized=False):
    lines = []
    for key, s in structures.items():
        # P1 CIFs (as Materials Project writes them) and symmetrised ones with a declared symbol.
        cif = str(CifWriter(s, symprec=0.1 if symmetrized else None))
        lines.append(json.dumps({"material_id": key, "formula": s.composition.reduced_formula, "cif": cif}))
    return lines


def test_records_are_labelled_by_spglib_and_keep_id_and_name(tmp_path):
    structures = _structures()
    lines = _good_lines(structures)
    # A declared symbol that is wrong must not matter: the label comes from the atoms.
    wrong = json.loads(lines[0])
    wrong["cif"] = wrong["cif"].replace("_symmetry_space_group_name_H-M   'P 1'", "_symmetry_space_group_name_H-M   'P 6/m m m'")
    wrong["material_id"], wrong["mineral"] = "am-9", "Halite"
    lines.append(json.dumps(wrong))
    path = tmp_path / "db.jsonl.gz"
    _write(path, lines, gzip.open)

    assert count_records(path) == 4
    out = list(iter_jsonl([path], symprec=0.1))
    assert [u for u, _ in out] == [0, 1, 2, 3]
    records = [r for _, r in out]
    expected = [_spglib_number(s) for s in structures.values()] + [225]
    assert [int(r.space_group[0]) for r in records] == expected == [225, 136, 154, 225]
    assert [r.source[0] for r in records] == ["db:mp-1", "db:mp-2", "db:mp-3", "db:am-9"]
    assert records[3].name == ["Halite"] and records[0].name == [""]
    assert [r.formula[0] for r in records] == [s.composition.reduced_formula for s in structures.values()] + ["NaCl"]


def test_bad_records_are_skipped_with_file_line_and_id_and_workers_keep_order(tmp_path):
    structures = _structures()
    good = _good_lines(structures, symmetrized=True)
    nacl = json.loads(good[0])
    lines = [
        good[0],
        "{not json",
        json.dumps([1, 2, 3]),
        json.dumps({"material_id": "mp-no-cif"}),
        json.dumps({"amcsd_id": 77, "cif": "data_x\n_cell_length_a 5\n"}),
        json.dumps({"material_id": "mp-xx", "cif": nacl["cif"].replace("Na", "Xx")}),
        json.dumps({"material_id": "mp-es", "cif": nacl["cif"].replace("Na", "Es")}),
        "",  # blank lines are not records
        good[1],
        good[2],
    ]
    path = tmp_path / "db.jsonl.bz2"
    _write(path, lines, bz2.open)
    for workers in (1, 2):
        report = SkipReport()
        skips = []
        out = list(iter_jsonl([path], 0.1, report, workers=workers, chunksize=2,
                              on_skip=lambda u, loc, why: skips.append((u, loc, why))))
        assert [u for u, _ in out] == [0, 7, 8]
        assert [int(r.space_group[0]) for _, r in out] == [225, 136, 154]
        assert report.n_ok == 3 and len(report.skipped) == 6
        reasons = {u: why for u, _, why in skips}
        assert set(reasons) == {1, 2, 3, 4, 5, 6}
        assert reasons[1].startswith("not a JSON record: db.jsonl.bz2:2")
        assert reasons[2].startswith("not a JSON record") and "list" in reasons[2]
        assert "mp-no-cif" in reasons[3] and "no 'cif'" in reasons[3]
        assert "(77)" in reasons[4]
        assert reasons[5].startswith("no X-ray scattering parameters") and "Xx" in reasons[5] and "mp-xx" in reasons[5]
        assert reasons[6].startswith("no X-ray scattering parameters") and "Es" in reasons[6]


def test_start_stop_select_units_across_files(tmp_path):
    lines = _good_lines(_structures())
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _write(a, lines[:2])
    _write(b, lines[2:] + lines[:1])
    out = list(iter_jsonl([a, b], 0.1, start=1, stop=3))
    assert [u for u, _ in out] == [1, 2]
    assert [r.source[0] for _, r in out] == ["a:mp-2", "b:mp-3"]


def test_truncated_gzip_reports_the_break_and_keeps_what_came_before(tmp_path):
    lines = _good_lines(_structures()) * 30
    path = tmp_path / "cut.jsonl.gz"
    _write(path, lines, gzip.open)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    report = SkipReport()
    out = list(iter_jsonl([path], 0.1, report))
    assert 0 < len(out) < len(lines)
    assert any("breaks off" in why for _, why in report.skipped)


def test_dummy_species_and_impossible_occupancy_are_skip_reasons_not_crashes():
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    text = str(CifWriter(nacl))
    with pytest.raises(ValueError, match="^no X-ray scattering parameters: x.cif contains X"):
        parse_cif_text(text.replace("Na", "X"), "x.cif")
    crowded = text.replace("Cl  Cl1  1", "Cl  Cl1  1.5")
    if crowded != text:  # pymatgen may reject it first; either way it must be a ValueError, never a crash
        with pytest.raises(ValueError):
            parse_cif_text(crowded, "crowded.cif")


def test_simulate_from_jsonl_keeps_names_and_compound_split(tmp_path):
    from xrdnet.data.build import SimulateConfig, build_dataset
    from xrdnet.data.reader import PatternDataset
    from xrdnet.simulate import SimulatorConfig

    structures = _structures()
    lines = _good_lines(structures)
    extra = json.loads(lines[0])
    extra["material_id"], extra["mineral"] = "am-1", "Halite"
    lines.append(json.dumps(extra))
    path = tmp_path / "db.jsonl"
    _write(path, lines + ["garbage"])
    config = SimulateConfig(n_structures=0, patterns_per_structure=2, source="jsonl", jsonl_files=(str(path),),
                            workers=1, chunk_structures=2, simulator=SimulatorConfig(step=0.05))
    build_dataset(config, tmp_path / "d.h5", progress=False)
    with PatternDataset(tmp_path / "d.h5") as ds:
        assert ds.n_structures == 4 and len(ds) == 8
        assert list(ds.space_group) == [225, 136, 154, 225]
        summary = ds.summary()
        assert summary["n_skipped_files"] == 1
        assert summary["unique_compound_space_group"]["cubic"] == 1  # two NaCl entries, one pair
        split = ds.structure_split("compound")
        assert split[0] == split[3]  # both NaCl entries on one side
        import h5py

        with h5py.File(tmp_path / "d.h5") as h5:
            assert [v.decode() for v in h5["structures/name"][()]] == ["", "", "", "Halite"]
    assert np.isfinite(np.asarray(split, float)).all()


def test_bundled_real_structures_ship_in_the_package_and_label_like_spglib():
    from xrdnet.structures.jsonl import BUNDLED_DIR, resolve_structure_files

    files = resolve_structure_files(["bundled"])
    assert [f.name for f in files] == ["mp_structures.jsonl.gz", "amcsd_minerals.jsonl.gz"]
    assert (BUNDLED_DIR / "README.md").is_file()
    assert count_records(files[0]) == 2000 and count_records(files[1]) == 1000
    # The first few of each source parse, and their labels are spglib's.
    for path in files:
        out = list(iter_jsonl([path], 0.1, stop=5))
        assert len(out) == 5
        for _, records in out:
            structure = records.to_structures()[0]
            if all(site.is_ordered for site in structure):
                assert int(records.space_group[0]) == _spglib_number(structure)
            assert records.source[0].split(":")[0] == path.name.split(".")[0]


def test_skip_report_names_file_line_and_id(tmp_path):
    path = tmp_path / "db.jsonl"
    _write(path, [json.dumps({"material_id": "mp-77", "cif": "data_x\n"}), "{broken"])
    report = SkipReport()
    assert list(iter_jsonl([path], 0.1, report)) == []
    assert [where for where, _ in report.skipped] == ["db.jsonl:1 (mp-77)", "db.jsonl:2"]
    assert report.summary().startswith("0 structures read, 2 records skipped")

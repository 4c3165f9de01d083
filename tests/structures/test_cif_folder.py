"""CIF folders: good files are read and labelled like spglib does, bad ones are skipped with a reason."""

from __future__ import annotations

from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xrdnet.structures import SkipReport, iter_cif_folder


def _write_good(folder):
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    rutile = Structure.from_spacegroup(
        "P4_2/mnm", Lattice.tetragonal(4.59, 2.96), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]]
    )
    (folder / "sub" / "deeper").mkdir(parents=True)
    CifWriter(nacl).write_file(folder / "b_nacl.cif")
    CifWriter(rutile).write_file(folder / "sub" / "deeper" / "A_RUTILE.CIF")  # upper-case extension
    return {"b_nacl.cif": nacl, "sub/deeper/A_RUTILE.CIF": rutile}


def test_good_and_bad_files_in_one_folder(tmp_path):
    good = _write_good(tmp_path)
    (tmp_path / "empty.cif").write_text("")
    (tmp_path / "garbage.cif").write_text("this is not a crystallographic information file\n\x00\x01")
    nacl_text = (tmp_path / "b_nacl.cif").read_text()
    (tmp_path / "einsteinium.cif").write_text(nacl_text.replace("Na", "Es"))
    (tmp_path / "no_atoms.cif").write_text(
        "data_x\n_cell_length_a 5\n_cell_length_b 5\n_cell_length_c 5\n"
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
    )
    (tmp_path / "notes.txt").write_text("not a cif, must be ignored")

    report = SkipReport()
    items = list(iter_cif_folder(tmp_path, symprec=0.1, report=report))

    assert [i.source for i in items] == ["b_nacl.cif", "sub/deeper/A_RUTILE.CIF"]
    assert [i.index for i in items] == [0, 5]  # positions in the sorted file list, failures included
    for item in items:
        expected = SpacegroupAnalyzer(good[item.source], symprec=0.1).get_space_group_number()
        assert item.space_group == expected
        assert item.structure.composition.reduced_formula == good[item.source].composition.reduced_formula
    assert [i.space_group for i in items] == [225, 136]
    assert [i.crystal_system for i in items] == [6, 3]

    skipped = {path.split("/")[-1]: reason for path, reason in report.skipped}
    assert set(skipped) == {"empty.cif", "garbage.cif", "einsteinium.cif", "no_atoms.cif"}
    assert skipped["empty.cif"].startswith("no structure") and "empty" in skipped["empty.cif"]
    assert "Es" in skipped["einsteinium.cif"] and skipped["einsteinium.cif"].startswith("no X-ray scattering")
    assert skipped["garbage.cif"].startswith(("unparsable CIF", "no structure"))
    assert report.n_ok == 2
    assert report.summary().startswith("2 structures read, 4 files skipped")

    written = report.write(tmp_path / "out" / "skipped.tsv").read_text().splitlines()
    assert written[0].startswith("# 2 structures read")
    assert written[1] == "path\treason"
    assert len(written) == 2 + 4 and all(line.count("\t") == 1 for line in written[1:])


def test_position_ranges_select_files(tmp_path):
    _write_good(tmp_path)
    (tmp_path / "c_empty.cif").write_text("")
    report = SkipReport()
    tail = list(iter_cif_folder(tmp_path, report=report, start=1))
    assert [(i.index, i.source) for i in tail] == [(2, "sub/deeper/A_RUTILE.CIF")]
    assert [p.split("/")[-1] for p, _ in report.skipped] == ["c_empty.cif"]
    assert [i.index for i in iter_cif_folder(tmp_path, start=0, stop=1)] == [0]


def test_missing_folder_is_a_clear_error(tmp_path):
    import pytest

    with pytest.raises(NotADirectoryError, match="nowhere"):
        list(iter_cif_folder(tmp_path / "nowhere"))

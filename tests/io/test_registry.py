"""``detect`` walks the registered formats and names none itself: a new format is one registration."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from xrdnet.io import FORMATS, PatternFileError, read_pattern
from xrdnet.io.core import Scan
from xrdnet.io.format import Format, register
from xrdnet.io.registry import detect


@pytest.fixture
def fresh_format():
    """Register formats for one test and leave ``FORMATS`` as it was."""
    before = dict(FORMATS)
    yield register
    FORMATS.clear()
    FORMATS.update(before)


def _read_toy(path, raw, **_):
    x = np.arange(10.0, 30.0, 0.5)
    return Scan(x=x, y=np.ones_like(x) + (x == 20.0), format="toy", x_unit="2theta", wavelength=1.5406)


def test_a_newly_registered_text_format_is_detected_and_read_without_touching_detect(tmp_path, fresh_format):
    path = tmp_path / "scan.toy"
    path.write_bytes(b"TOYFORMAT v1\n1 2\n")
    assert detect(path, path.read_bytes())[0].name == "table"
    fresh_format(Format("toy", _read_toy, "first line 'TOYFORMAT'", "text",
                        lambda content: content.text_head.startswith("TOYFORMAT"), priority=0))
    fmt, extra, told_by = detect(path, path.read_bytes())
    assert (fmt.name, extra, told_by) == ("toy", {}, "content")
    assert read_pattern(path).format == "toy"


def test_a_new_format_with_by_extension_is_chosen_on_its_suffix_alone(tmp_path, fresh_format):
    path = tmp_path / "scan.toy"
    path.write_bytes(b"no keyword here\n1 2\n")
    fresh_format(Format("toy", _read_toy, "suffix .toy", "text", extensions=(".toy",), by_extension=True))
    fmt, _, told_by = detect(path, path.read_bytes())
    assert (fmt.name, told_by) == ("toy", "extension")
    assert detect(tmp_path / "scan.toy.gz", path.read_bytes())[0].name == "toy"


def test_zip_formats_get_the_archive_and_the_refusal_names_every_zip_format(tmp_path, fresh_format):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("toy/data.bin", b"1 2")
    path = tmp_path / "scan.zip"
    with pytest.raises(PatternFileError, match="neither BRML nor RASX"):
        detect(path, buffer.getvalue())
    fresh_format(Format("toyzip", _read_toy, "zip holding toy/", "zip",
                        lambda content: "toy/data.bin" in content.zip_names, title="TOYZIP"))
    fmt, extra, _ = detect(path, buffer.getvalue())
    assert fmt.name == "toyzip" and isinstance(extra["archive"], zipfile.ZipFile)


def test_xml_refusal_names_the_registered_xml_formats(tmp_path):
    with pytest.raises(PatternFileError, match=r"not a PANalytical XRDML file \(root element <html>\)"):
        detect(tmp_path / "a.xml", b"<html><body>1 2</body></html>")


def test_text_priority_decides_between_two_claiming_formats(tmp_path):
    # both the RAS keyword and a GSAS BANK line: RAS (priority 10) is tried before GSAS (40)
    raw = b"*RAS_DATA_START\nBANK 1 10 10 CONST 2000 5 0 0 STD\n"
    assert FORMATS["rigaku-ras"].priority < FORMATS["gsas"].priority
    assert detect(Path("x.gsa"), raw)[0].name == "rigaku-ras"


def test_a_cif_is_refused_before_its_suffix_is_trusted(tmp_path):
    raw = b"data_ZnO\n_cell_length_a 3.25\n_cell_length_b 3.25\nloop_\n_atom_site_label\nZn\n"
    with pytest.raises(PatternFileError, match="CIF file"):
        detect(tmp_path / "a.ras", raw)

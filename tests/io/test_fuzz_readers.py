"""Fuzz the pattern readers: a few hundred malformed inputs derived from valid files of every format.

Every input either reads into a sane pattern (a harmless mutation, e.g. a flipped byte inside a count)
or ends in a ``PatternFileError`` whose message is one line starting with the file's path; no other
exception ever escapes. Inputs that are malformed by construction (empty, header-only, NaN/inf/1e308,
constant or duplicated x, absurd angles, wrong magic, truncated binaries and archives, bombs) must be
refused. ``read_many`` over the lot returns every good file. The test prints how many inputs it tried.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.io import spec_writers as w
from xrdnet.io import MeasuredPattern, PatternFileError, read_many, read_pattern

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
RNG_SEED = 20261201

GENUINE_BINARY = {  # name -> file; truncating these anywhere must fail (data length is in the header)
    "raw_v1.raw": DATA / "bruker_raw_v1/pyxrd_brk_raw1.raw",
    "raw_v2.raw": DATA / "bruker_raw_v2/pyxrd_brk_raw2_zincite.raw",
    "raw_v4.raw": DATA / "bruker_raw_v4/datalab_TiO2.raw",
    "scan.brml": DATA / "brml/datalab_TiOF.brml",
    "scan.rasx": DATA / "rigaku_rasx/datalab_JO_KL_16_ZF_3_60deg_0.02step_12degpermin_001.rasx",
}
GENUINE_XML = {
    "s15.xrdml": DATA / "xrdml/nomad_XRD-918-16_10.xrdml",
    "s21_bom.xrdml": DATA / "xrdml/nomad_m54313_om2th_10.xrdml",
    "s23.xrdml": DATA / "xrdml/dara_TiO2_0p4009-ZnO_0p6010--2min.xrdml",
}


def _small_scan():
    x = np.round(np.arange(20.0, 40.0, 0.05), 4)  # 400 points
    y = np.round(100 + 2000 * np.exp(-0.5 * ((x - 31.8) / 0.08) ** 2) + 900 * np.exp(-0.5 * ((x - 34.4) / 0.08) ** 2))
    return x, y


def _valid_inputs() -> dict[str, bytes]:
    x, y = _small_scan()
    out: dict[str, bytes] = {}
    text_writers = {"a.xy": w.xy, "a.xye": w.xye, "a.csv": w.csv, "a.ras": w.ras, "a.asc": w.asc, "a.uxd": w.uxd,
                    "b.uxd": lambda x, y: w.uxd(x, y, counts_only=True), "a.gsa": w.gsas_std, "b.gsa": w.gsas_esd,
                    "a.fxye": w.gsas_fxye, "a.dat": w.fullprof_instrm0, "b.dat": w.fullprof_xydata, "a.chi": w.chi_two_theta,
                    "q.chi": w.chi_q_nm, "q.xy": w.xy_q, "d.xy": w.xy_d}
    for name, writer in text_writers.items():
        out[name] = writer(x, y).encode("utf-8")
    out["v3.raw"] = w.bruker_raw_v3(x, y)
    out["stoe.raw"] = w.stoe_raw(x, y)
    out["a.xy.gz"] = gzip.compress(out["a.xy"], mtime=0)
    out["a.xy.bz2"] = bz2.compress(out["a.xy"])
    out["a.xy.xz"] = lzma.compress(out["a.xy"])
    for name, path in {**GENUINE_BINARY, **GENUINE_XML}.items():
        out[name] = path.read_bytes()
    return out


def _numeric_lines(text: str) -> list[int]:
    idx = []
    for i, line in enumerate(text.splitlines()):
        tokens = line.replace(",", " ").split()
        try:
            [float(t) for t in tokens[:2]]
            if len(tokens) >= 2:
                idx.append(i)
        except ValueError:
            pass
    return idx


def _text_mutations(name: str, raw: bytes) -> list[tuple[str, bytes, bool]]:
    """(label, bytes, must_fail) for a numeric-table-like text file."""
    text = raw.decode("utf-8")
    lines = text.splitlines()
    rows = _numeric_lines(text)
    out: list[tuple[str, bytes, bool]] = []
    if not rows:
        return out
    first = rows[0]
    out.append(("header-only", "\n".join(lines[:first]).encode(), True))

    def replace_value(row: int, value: str) -> bytes:
        new = list(lines)
        tokens = new[row].replace(",", " ").split()
        col = 1 if len(tokens) >= 2 and name.split(".")[-1] in ("xy", "xye", "csv", "chi", "ras", "fxye", "uxd") and "counts" not in new[row] else 0
        if name in ("b.dat",):
            col = 1
        old = tokens[col]
        new[row] = new[row].replace(old, value, 1)
        return "\n".join(new).encode()

    # counts-only formats (ASC, FullProf INSTRM 0, GSAS STD/ESD, UXD counts) put values in fixed places
    middle = rows[len(rows) // 2]
    for value in ("nan", "inf", "-inf", "1e308", "-1e308"):
        out.append((f"value {value}", replace_value(middle, value), True))
    out.append(("constant 1e308", _constant(name, lines, rows, "1e308"), True))
    out.append(("constant 5", _constant(name, lines, rows, "5"), True))
    two_column = name in ("a.xy", "a.xye", "a.csv", "a.chi", "a.ras", "a.fxye", "a.uxd", "b.dat", "q.xy", "q.chi", "d.xy")
    if two_column:
        new = list(lines)
        new[rows[10]] = new[rows[9]]  # a duplicated row: x repeats
        out.append(("duplicated x", "\n".join(new).encode(), True))
        out.append(("constant x", _same_x(lines, rows), True))
        out.append(("absurd angle", _absurd_x(lines, rows, name), True))
    out.append(("non-utf8 header", b"\xff\xfe\xfa\xfb garbage \x81\x82\n" + raw, False))
    out.append(("latin-1 comment", ("# sample: Å°µ\n" + text).encode("latin-1", "replace"), False))
    out.append(("binary junk", raw[: len(raw) // 3] + bytes(range(256)) * 4 + raw[len(raw) // 3:], False))
    return out


def _constant(name, lines, rows, value) -> bytes:
    new = list(lines)
    for r in rows:
        tokens = new[r].replace(",", " ").split()
        if name in ("a.asc", "a.dat", "a.gsa", "b.gsa", "b.uxd") or len(tokens) > 3:
            sep = ",   " if name == "a.asc" else "  "
            new[r] = sep.join(value for _ in tokens)
        else:
            tokens[1] = value
            sep = "," if "," in new[r] else " "
            new[r] = sep.join(tokens)
    if name == "b.gsa":  # ESD pairs: keep the σ columns non-negative, still constant
        pass
    return "\n".join(new).encode()


def _same_x(lines, rows) -> bytes:
    new = list(lines)
    x0 = new[rows[0]].replace(",", " ").split()[0]
    for r in rows:
        tokens = new[r].replace(",", " ").split()
        tokens[0] = x0
        sep = "," if "," in new[r] else " "
        new[r] = sep.join(tokens)
    return "\n".join(new).encode()


def _absurd_x(lines, rows, name) -> bytes:
    new = list(lines)
    r = rows[len(rows) // 2]
    tokens = new[r].replace(",", " ").split()
    tokens[0] = "-1e30" if name.startswith(("q", "d")) else "720.0"
    sep = "," if "," in new[r] else " "
    new[r] = sep.join(tokens)
    return "\n".join(new).encode()


def _generic_mutations(name: str, raw: bytes, rng: np.random.Generator) -> list[tuple[str, bytes, bool]]:
    out: list[tuple[str, bytes, bool]] = [("empty", b"", True), ("whitespace", b" \n\t\n", True)]
    binary = name in GENUINE_BINARY or name in ("v3.raw", "stoe.raw") or name.endswith((".gz", ".bz2", ".xz"))
    xml = name.endswith(".xrdml")
    n = len(raw)
    cuts = sorted({1, 4, 7, 16, 64, 300, n // 10, n // 4, n // 2, 3 * n // 4, n - 9, n - 1} - {0})
    for cut in cuts:
        if 0 < cut < n:
            # a truncated binary/archive/XML can never be whole; a truncated text table may still be a shorter scan
            must = binary or cut < 64 or (xml and raw[:cut].rstrip() != raw.rstrip())
            out.append((f"truncated at {cut}", raw[:cut], must))
    for k in range(6):
        data = bytearray(raw)
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(0, n))
            data[i] ^= int(rng.integers(1, 256))
        out.append((f"byte flips #{k}", bytes(data), False))
    if binary or xml:
        out.append(("wrong magic", b"XQZW" + raw[4:], name.endswith((".raw", ".gz", ".bz2", ".xz", ".brml", ".rasx"))))
    if name.endswith(".raw"):
        data = bytearray(raw)  # a step count of 2^32 - 1 or so: the header lies about the data length
        offset = {"raw_v1.raw": 4, "raw_v2.raw": 258, "v3.raw": 716, "stoe.raw": 2082}.get(name)
        if offset is not None:
            data[offset:offset + 2] = b"\xff\x7f"
            out.append(("huge step count", bytes(data), True))
    return out


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    size = 70 * 2**20  # beyond the 64 MiB cap
    zeros = bytes(size)
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    gz = c.compress(zeros) + c.flush()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Experiment0/RawData0.xml", zeros)
    rasx = io.BytesIO()
    with zipfile.ZipFile(rasx, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Data0/Profile0.txt", zeros)
    return {"bomb.xy.gz": gz, "bomb.xy.bz2": bz2.compress(zeros, 1), "bomb.xy.xz": lzma.compress(zeros, preset=0),
            "bomb.brml": archive.getvalue(), "bomb.rasx": rasx.getvalue(),
            "nested.xy.gz": gzip.compress(gzip.compress(b"1 2\n" * 50)),
            "zip_other.zip": _zip_of({"readme.txt": b"hello"}),
            "brml_bad_xml.brml": _zip_of({"Experiment0/RawData0.xml": b"<RawData><Datum>1,2"}),
            "rasx_no_xml.rasx": _zip_of({"Data0/Profile0.txt": b"10 5 1\n" * 30}),
            "xml_entity.xrdml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><xrdMeasurements>&a;</xrdMeasurements>',
            "deep.xrdml": b"<xrdMeasurements>" + b"<a>" * 100000 + b"</a>" * 100000 + b"</xrdMeasurements>"}


def _zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return out.getvalue()


def _sane(p: MeasuredPattern) -> None:
    assert isinstance(p, MeasuredPattern) and len(p) >= 20
    assert np.all(np.isfinite(p.intensity)) and p.intensity.min() >= 0 and p.intensity.max() > 0
    if p.two_theta_deg is not None:
        assert np.all(np.isfinite(p.two_theta_deg)) and np.all(np.diff(p.two_theta_deg) > 0)
        assert 0 < p.two_theta_deg[0] and p.two_theta_deg[-1] < 180
    if p.q_inv_angstrom is not None:
        assert np.all(np.isfinite(p.q_inv_angstrom)) and np.all(np.diff(p.q_inv_angstrom) > 0)


def test_fuzz_every_reader(tmp_path, bombs, capsys):
    rng = np.random.default_rng(RNG_SEED)
    cases: list[tuple[str, bytes, bool]] = []
    for name, raw in _valid_inputs().items():
        text_like = not (name in GENUINE_BINARY or name in GENUINE_XML or name.endswith((".raw", ".gz", ".bz2", ".xz")))
        cases += [(f"{name}|{label}", data, must) for label, data, must in _generic_mutations(name, raw, rng)]
        if text_like:
            cases += [(f"{name}|{label}", data, must) for label, data, must in _text_mutations(name, raw)]
    cases += [(f"{name}|bomb", data, True) for name, data in bombs.items()]

    tried = refused = read = 0
    failures: list[str] = []
    good_paths, bad_paths = [], []
    for i, (label, data, must_fail) in enumerate(cases):
        base = label.split("|")[0]
        path = tmp_path / f"{i:04d}_{base}"
        path.write_bytes(data)
        tried += 1
        try:
            pattern = read_pattern(path)
        except PatternFileError as exc:
            refused += 1
            bad_paths.append(path)
            message = str(exc)
            if "\n" in message or not message.startswith(str(path)):
                failures.append(f"{label}: message not one line naming the file: {message!r}")
            continue
        except Exception as exc:  # noqa: BLE001 - this is what the test hunts for
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        read += 1
        good_paths.append(path)
        if must_fail:
            failures.append(f"{label}: malformed input was accepted ({pattern.format}, {len(pattern)} points)")
        try:
            _sane(pattern)
        except AssertionError:
            failures.append(f"{label}: accepted but not sane")
    with capsys.disabled():
        print(f"\n[fuzz] {tried} malformed inputs tried: {refused} refused with a one-line PatternFileError, "
              f"{read} harmless mutations read; {len(failures)} failures")
    assert not failures, "\n".join(failures[:30])
    assert tried >= 300

    # a batch over good and bad files returns every good one
    mixed = [p for pair in zip(bad_paths[:40], good_paths[:40]) for p in pair]
    patterns, errors = read_many(mixed)
    assert [p.path for p in patterns] == [p for p in mixed if p in set(good_paths)]
    assert len(errors) == len([p for p in mixed if p in set(bad_paths)])
    assert all("\n" not in message and message.startswith(path) for path, message in errors)

"""Structures from JSON-lines files of CIF strings (Materials Project, AMCSD, a user's database export).

One JSON object per line, plain or gzip/bz2/xz-compressed, with the CIF text in ``cif`` and, where the
export has them, an id (``material_id``, ``amcsd_id``, ``id`` ...), a mineral or compound name
(``mineral``, ``name``) and a formula. Every record is parsed with pymatgen and labelled by spglib at
one recorded ``symprec`` (the declared space-group symbol is never used: AMCSD writes old notation,
Materials Project writes everything in P1). The files are streamed, never loaded whole, and the
records are parsed and labelled in worker processes, in order.

A record that cannot be used (not JSON, no CIF, unparsable CIF, unknown element, impossible
occupancy, spglib failure or time-out) is skipped with a reason that names the file, the line and the
record's id, exactly as the CIF-folder source does for files; the run goes on.

Units (what ``xrdnet simulate`` chunks, shards and resumes by) are record positions over the files in
the order given, so a record keeps its position whichever others fail.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import multiprocessing
import os
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from xrdnet.structures.cif_folder import (
    NO_STRUCTURE,
    SPGLIB_FAILED,
    UNPARSABLE,
    SkipReport,
    _short,
    parse_cif_text,
)
from xrdnet.structures.labelled import LabelledStructure, spglib_label

ID_FIELDS = ("material_id", "amcsd_id", "id", "source_id", "database_code", "cod_id", "icsd_id")
NAME_FIELDS = ("mineral", "name", "mineral_name")
NOT_JSON = "not a JSON record"
# spglib on a pathological cell (near-coincident atoms, huge disordered cells) can take minutes;
# a record is skipped after this much CPU time rather than stalling the whole run.
LABEL_TIME_LIMIT_S = 60.0

# The real structures that ship inside the package (scripts/make_bundled_structures.py), so the
# quickstart and the tests run without ../shared/: a config names them as the file "bundled".
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data" / "bundled"
BUNDLED_FILES = ("mp_structures.jsonl.gz", "amcsd_minerals.jsonl.gz")


def resolve_structure_files(names: Sequence[str | Path]) -> list[Path]:
    """Paths of JSON-lines files; the name ``bundled`` stands for the structures shipped in the package."""
    out: list[Path] = []
    for name in names:
        if str(name) == "bundled":
            out.extend(BUNDLED_DIR / f for f in BUNDLED_FILES)
        else:
            out.append(Path(name))
    return out


_OPENERS = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


def open_text(path: str | Path):
    """Open ``path`` for reading text, decompressing gzip, bz2 or xz by their magic bytes (not the name)."""
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(6)
    for magic, opener in _OPENERS.items():
        if head.startswith(magic):
            return opener(path, "rt", encoding="utf-8", errors="replace")
    return path.open("rt", encoding="utf-8", errors="replace")


def file_label(path: str | Path) -> str:
    """Short name of a JSON-lines file for record sources: ``mp_structures.jsonl.gz`` -> ``mp_structures``."""
    name = Path(path).name
    for suffix in (".gz", ".bz2", ".xz", ".jsonl", ".json", ".ndjson"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def count_records(path: str | Path) -> int:
    """Number of records (good or bad) of a JSON-lines file: its non-blank lines.

    A file that breaks off (truncated or corrupt gzip/bz2/xz) counts the lines before the break
    plus one record for the break itself, exactly as ``iter_raw_records`` yields them, so the good
    records before it are still used and the break is reported as a skipped record.
    """
    count = 0
    try:
        with open_text(path) as handle:
            for line in handle:
                if line.strip():
                    count += 1
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise ValueError(f"{path}: cannot read as JSON lines: {exc}") from None
        count += 1
    return count


@dataclass(frozen=True)
class RawRecord:
    """One line of a JSON-lines file: its unit (global position), where it is, and its text."""

    unit: int
    file: str
    line: int
    text: str


def iter_raw_records(paths: Sequence[str | Path], start: int = 0, stop: int | None = None) -> Iterator[RawRecord]:
    """Non-blank lines of ``paths`` (in order) whose global position is in ``start .. stop-1``.

    A file that breaks off mid-stream (truncated gzip) ends its records there; the error is the
    ``text`` of one last record so that it is reported, not raised.
    """
    unit = 0
    for path in paths:
        line_no = 0
        try:
            with open_text(path) as handle:
                for line in handle:
                    line_no += 1
                    if not line.strip():
                        continue
                    if stop is not None and unit >= stop:
                        return
                    if unit >= start:
                        yield RawRecord(unit, str(path), line_no, line)
                    unit += 1
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
                raise
            if (stop is None or unit < stop) and unit >= start:
                yield RawRecord(unit, str(path), line_no + 1, f"\0{type(exc).__name__}: {exc}")
            unit += 1


def _first(record: dict, names: Sequence[str]) -> str | None:
    """The first non-empty of ``record[names]`` as text that any file takes (no NUL, no lone surrogate)."""
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return str(value).replace("\0", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return None


def record_location(raw: RawRecord) -> str:
    """``file:line (id)`` of a record, as skip reports name it (the id when the line is JSON with one)."""
    where = f"{Path(raw.file).name}:{raw.line}"
    try:
        record = json.loads(raw.text)
    except ValueError:
        return where
    record_id = _first(record, ID_FIELDS) if isinstance(record, dict) else None
    return f"{where} ({record_id})" if record_id else where


def label_record(raw: RawRecord, symprec: float) -> tuple[int, object, str | None]:
    """Parse and label one record: ``(unit, StructureRecords or None, skip reason or None)``.

    Runs in a worker process; returns flat records (numpy arrays), which cross the process boundary
    far faster than pymatgen objects.
    """
    from xrdnet.data.records import StructureRecords
    from xrdnet.structures.time_limit import AttemptTimeout, _time_limit

    where = f"{Path(raw.file).name}:{raw.line}"
    if raw.text.startswith("\0"):
        return raw.unit, None, f"{UNPARSABLE}: {where}: file breaks off here ({raw.text[1:]})"
    try:
        record = json.loads(raw.text)
    except ValueError as exc:
        return raw.unit, None, f"{NOT_JSON}: {where}: {_short(exc)}"
    if not isinstance(record, dict):
        return raw.unit, None, f"{NOT_JSON}: {where}: a JSON {type(record).__name__}, not an object"
    record_id = _first(record, ID_FIELDS) or f"line{raw.line}"
    where = f"{where} ({record_id})"
    cif = record.get("cif")
    if not isinstance(cif, str) or not cif.strip():
        return raw.unit, None, f"{NO_STRUCTURE}: {where} has no 'cif' text"
    try:
        structure = parse_cif_text(cif, where)
    except ValueError as exc:
        return raw.unit, None, str(exc)
    try:
        with _time_limit(LABEL_TIME_LIMIT_S):
            label = spglib_label(structure, symprec)
    except AttemptTimeout:
        return raw.unit, None, f"{SPGLIB_FAILED}: {where}: more than {LABEL_TIME_LIMIT_S:.0f} s of CPU time"
    except Exception as exc:  # noqa: BLE001 - spglib/pymatgen fail in several ways
        return raw.unit, None, f"{SPGLIB_FAILED}: {where} at symprec={symprec}: {type(exc).__name__}: {_short(exc)}"
    source = f"{file_label(raw.file)}:{record_id}"
    item = LabelledStructure.from_label(structure, label, source, raw.unit, symprec)
    name = _first(record, NAME_FIELDS) or ""
    try:
        records = StructureRecords.from_labelled([item], names=[name])
    except Exception as exc:  # noqa: BLE001 - a cell the batch builder cannot hold
        return raw.unit, None, f"{NO_STRUCTURE}: {where}: {type(exc).__name__}: {_short(exc)}"
    return raw.unit, records, None


def _label_chunk(args: tuple[list[RawRecord], float]) -> list[tuple[int, object, str | None]]:
    chunk, symprec = args
    return [label_record(raw, symprec) for raw in chunk]


def _drain(pending: deque, chunk_of: deque, handle) -> Iterator[tuple[int, object]]:
    """Hand the oldest chunk's results, paired with their raw records, to ``handle``; yield the kept ones."""
    for result, raw in zip(pending.popleft().get(), chunk_of.popleft()):
        out = handle((result, raw))
        if out is not None:
            yield out


def iter_jsonl(
    paths: Sequence[str | Path],
    symprec: float = 0.1,
    report: SkipReport | None = None,
    start: int = 0,
    stop: int | None = None,
    workers: int = 1,
    chunksize: int = 8,
    on_skip=None,
) -> Iterator[tuple[int, object]]:
    """Yield ``(unit, StructureRecords)`` of every usable record in ``start .. stop-1``, in unit order.

    ``workers`` > 1 parses and labels in that many processes (results stay in order). A skipped
    record goes into ``report`` (its location ``file:line (id)`` and the reason) and, when given, to
    ``on_skip(unit, location, reason)``.
    """
    report = report if report is not None else SkipReport()
    report.unit = "records"
    raws = iter_raw_records(paths, start, stop)

    def handle(result):
        (unit, records, reason), raw = result
        if records is None:
            location = record_location(raw)
            report.add(location, reason)
            if on_skip is not None:
                on_skip(unit, location, reason)
            return None
        report.n_ok += 1
        return unit, records

    if workers <= 1:
        for raw in raws:
            out = handle((label_record(raw, symprec), raw))
            if out is not None:
                yield out
        return

    def chunks():
        batch: list[RawRecord] = []
        for raw in raws:
            batch.append(raw)
            if len(batch) == chunksize:
                yield batch
                batch = []
        if batch:
            yield batch

    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(workers) as pool:
        pending: deque = deque()
        chunk_of: deque = deque()
        for chunk in chunks():
            pending.append(pool.apply_async(_label_chunk, ((chunk, symprec),)))
            chunk_of.append(chunk)
            if len(pending) >= 4 * workers:
                yield from _drain(pending, chunk_of, handle)
        while pending:
            yield from _drain(pending, chunk_of, handle)

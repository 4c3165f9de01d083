"""Bytes of a pattern file: read once, size-capped, and unpacked when compressed.

gzip (``1f 8b``), bzip2 (``BZh``) and xz (``fd 37 7a 58 5a 00``) are told by their magic bytes, not
by the extension, and unpacked incrementally up to ``MAX_DECOMPRESSED_BYTES``: a small bomb is
refused without ever holding its full expansion. One level only (a compressed file holding another
compressed file is refused). Zip members (BRML, RASX) go through ``read_zip_member`` with the same cap.
"""

from __future__ import annotations

import bz2
import lzma
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

from xrdnet.io.core import MAX_DECOMPRESSED_BYTES, MAX_FILE_BYTES, PatternFileError

COMPRESSED_EXTENSIONS = (".gz", ".bz2", ".xz")
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))


def compression_of(raw: bytes) -> str | None:
    return next((name for magic, name in _MAGIC if raw.startswith(magic)), None)


def read_file_bytes(path: Path) -> bytes:
    if not path.exists():
        raise PatternFileError(path, "file not found")
    if path.is_dir():
        raise PatternFileError(path, "is a directory, not a pattern file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PatternFileError(path, f"{size / 2**20:.0f} MiB is too large for a powder pattern file")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PatternFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise PatternFileError(path, "too large for a powder pattern file")
    return raw


def _decompressor(kind: str):
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor()


def decompress(path: Path, raw: bytes, kind: str, cap: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Unpack ``raw`` (one stream of ``kind``) to at most ``cap`` bytes; PatternFileError otherwise."""
    out = bytearray()
    try:
        if kind == "gzip":
            # concatenated gzip members are legal; unconsumed_tail keeps the rest under max_length
            data = raw
            while data:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                chunk = d.decompress(data, cap + 1 - len(out))
                out += chunk
                while d.unconsumed_tail and len(out) <= cap:
                    out += d.decompress(d.unconsumed_tail, cap + 1 - len(out))
                if len(out) > cap:
                    break
                if not d.eof:
                    raise PatternFileError(path, "gzip data is truncated")
                data = d.unused_data
        else:
            d = _decompressor(kind)
            out += d.decompress(raw, cap + 1)
            while not d.eof and not d.needs_input and len(out) <= cap:
                out += d.decompress(b"", cap + 1 - len(out))
            if len(out) <= cap and not d.eof:
                raise PatternFileError(path, f"{kind} data is truncated")
    except PatternFileError:
        raise
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        raise PatternFileError(path, f"corrupt {kind} data ({exc})") from None
    if len(out) > cap:
        raise PatternFileError(path, f"{kind} data expands beyond {cap // 2**20} MiB (a compression bomb?); refused")
    return bytes(out)


def read_bytes(path: Path) -> tuple[bytes, str | None]:
    """The file's content, unpacked when compressed; returns ``(bytes, compression or None)``."""
    raw = read_file_bytes(path)
    kind = compression_of(raw)
    if kind is None:
        return raw, None
    inner = decompress(path, raw, kind)
    if compression_of(inner) is not None:
        raise PatternFileError(path, f"{kind} file holding another compressed file; unpack it first")
    return inner, kind


def open_zip(path: Path, raw: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise PatternFileError(path, f"corrupt zip archive ({exc})") from None


def read_zip_member(path: Path, archive: zipfile.ZipFile, name: str, cap: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """One member of a zip, at most ``cap`` bytes whatever its header claims; PatternFileError otherwise."""
    try:
        info = archive.getinfo(name)
        if info.file_size > cap:
            raise PatternFileError(path, f"zip member {name} is {info.file_size // 2**20} MiB; refused")
        with archive.open(info) as handle:
            data = handle.read(cap + 1)
    except PatternFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError,
            NotImplementedError, RuntimeError, zlib.error, lzma.LZMAError) as exc:
        raise PatternFileError(path, f"cannot unpack zip member {name} ({type(exc).__name__}: {exc})") from None
    if len(data) > cap:
        raise PatternFileError(path, f"zip member {name} expands beyond {cap // 2**20} MiB; refused")
    return data

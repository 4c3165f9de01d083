"""Bounds-checked little-endian reads shared by the binary formats: a short file is a one-line error."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from xrdnet.io.core import MAX_POINTS, PatternFileError


class Buffer:
    def __init__(self, path: Path, raw: bytes, what: str) -> None:
        self.path, self.raw, self.what = path, raw, what

    def need(self, offset: int, size: int, field: str) -> None:
        if offset < 0 or size < 0 or offset + size > len(self.raw):
            raise PatternFileError(self.path, f"{self.what} is truncated: {field} needs bytes {offset}..{offset + size} "
                                              f"of a {len(self.raw)}-byte file")

    def unpack(self, fmt: str, offset: int, field: str):
        size = struct.calcsize("<" + fmt)
        self.need(offset, size, field)
        values = struct.unpack_from("<" + fmt, self.raw, offset)
        return values[0] if len(values) == 1 else values

    def u16(self, offset: int, field: str) -> int:
        return int(self.unpack("H", offset, field))

    def u32(self, offset: int, field: str) -> int:
        return int(self.unpack("I", offset, field))

    def f32(self, offset: int, field: str) -> float:
        """A float32 as its shortest decimal (0.02, not 0.019999999552965164)."""
        return float(str(np.float32(self.unpack("f", offset, field))))

    def f64(self, offset: int, field: str) -> float:
        return float(self.unpack("d", offset, field))

    def text(self, offset: int, size: int, field: str) -> str:
        self.need(offset, size, field)
        return self.raw[offset:offset + size].split(b"\x00", 1)[0].decode("latin-1").strip()

    def array(self, offset: int, count: int, dtype: str, field: str) -> np.ndarray:
        if count < 0 or count > MAX_POINTS:
            raise PatternFileError(self.path, f"{self.what}: {field} claims {count} points")
        item = np.dtype(dtype).itemsize
        self.need(offset, count * item, field)
        return np.frombuffer(self.raw, dtype=dtype, count=count, offset=offset).astype(np.float64)

"""Measured powder patterns: one reader module per file format, chosen by content, and the model grid.

``read_pattern(path, wavelength=None, x_unit=None)`` reads any supported file (see ``registry.FORMATS``
and the README's "Supported file formats"): compressed files (gzip, bzip2, xz) are unpacked first,
told by their magic bytes, with a size cap; the reader is picked by magic bytes, XML root element or zip
member names, text keywords, and only then by extension. Every reader returns a ``MeasuredPattern``
with the metadata its file states (wavelength(s), Kα2 and ratio, anode, axis, step, counting time,
sample name). Whatever is wrong with a file ends in one ``PatternFileError`` whose message is one line
naming the file; ``read_many`` reads a batch and returns the good patterns and the errors.

Axis contract: ``x_unit`` in {None, "2theta", "q", "d"} overrides detection. ``MeasuredPattern.x_unit``
says what the file's x axis was, ``x_unit_source`` how that was decided ("header" | "values" |
"argument" | "default"), ``q_inv_angstrom`` holds increasing Q (1/Å) for Q and d files and for 2θ files
with a known wavelength. A Q/d file without a stated wavelength has ``two_theta_deg`` None unless the
``wavelength`` argument is given; ``to_model_grid`` works from Q either way.

Wavelength: the file's statement wins (XRDML ``usedWavelength``, RAW/BRML/RAS Kα1, a header
``wavelength: 1.5406``, ``_WL1``, ``energy: 30 keV``, ``radiation: CuKa``, an anode line by name such
as ``Cu K-alpha``, ``CuKa1``, ``Mo Kα``: Kα1 of that anode), then the ``wavelength`` argument, else None
(``wavelength_source`` "default"): never silently assumed; the caller decides and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from xrdnet.io.compression import read_bytes
from xrdnet.io.core import (
    AXIS_REVERSED,
    NO_INTENSITY,
    NO_OVERLAP,
    NO_WAVELENGTH_STATED,
    UNREACHABLE,
    MAX_DECOMPRESSED_BYTES,
    MAX_FILE_BYTES,
    MIN_POINTS,
    NEGATIVE_TOLERANCE,
    X_UNITS,
    MeasuredPattern,
    PatternFileError,
    ReaderNote,
    Scan,
    finish,
    note_code,
    resolve_wavelength_argument,
)
from xrdnet.io.grid import estimate_background, to_model_grid
from xrdnet.io.registry import FORMATS, detect
from xrdnet.simulate.wavelengths import Radiation, resolve_radiation

__all__ = [
    "FORMATS", "MAX_DECOMPRESSED_BYTES", "MAX_FILE_BYTES", "MIN_POINTS", "NEGATIVE_TOLERANCE", "X_UNITS",
    "MeasuredPattern", "PatternFileError", "Scan", "estimate_background", "read_many", "read_pattern",
    "to_model_grid", "ReaderNote", "note_code", "AXIS_REVERSED", "NO_INTENSITY", "NO_OVERLAP",
    "NO_WAVELENGTH_STATED", "UNREACHABLE",
]


def _check_x_unit(x_unit: str | None) -> str | None:
    if x_unit is None:
        return None
    if not isinstance(x_unit, str) or x_unit.strip().lower() not in X_UNITS:
        raise ValueError(f"x_unit must be one of {X_UNITS} or None, got {x_unit!r}")
    return x_unit.strip().lower()


def read_pattern(path: str | Path, wavelength: str | float | Radiation | None = None, x_unit: str | None = None,
                 *, instrument_file: str | Path | None = None) -> MeasuredPattern:
    """Read one measured pattern file (any supported format; see the module docstring).

    ``wavelength`` (a pymatgen radiation name such as "CuKa"/"MoKa1", or Å) is used only when the file
    does not state its own; a disagreeing argument is reported in ``warnings``. ``x_unit`` forces the x
    axis ("2theta", "q", "d"). ``instrument_file`` is a GSAS instrument-parameter file (wavelength).
    A bad ``wavelength`` or ``x_unit`` argument raises ValueError (the caller's mistake); anything wrong
    with the file raises ``PatternFileError`` with one line naming the file and the problem.
    """
    path = Path(path)
    arg_wavelength, arg_meta = resolve_wavelength_argument(wavelength)
    unit = _check_x_unit(x_unit)
    fmt_name = "unknown"
    try:
        raw, compression = read_bytes(path)
        fmt, extra, told_by = detect(path, raw)
        fmt_name = fmt.name
        scan = fmt.read(path, raw, instrument_file=instrument_file, **extra)
        pattern = finish(path, scan, arg_wavelength, arg_meta, unit)
    except PatternFileError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise PatternFileError(path, f"{fmt_name} file too deep or too large to read ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - a malformed file must never surface as a traceback
        message = str(exc).splitlines()[0][:120] if str(exc) else ""
        raise PatternFileError(path, f"malformed {fmt_name} file ({type(exc).__name__}: {message})") from None
    pattern.metadata.setdefault("detected_by", told_by)
    if compression:
        pattern.metadata["compression"] = compression
    return pattern


def read_many(paths: Iterable[str | Path], wavelength: str | float | Radiation | None = None,
              x_unit: str | None = None) -> tuple[list[MeasuredPattern], list[tuple[str, str]]]:
    """Read every file of ``paths``; returns ``(patterns, errors)`` and never raises for a bad file.

    ``patterns`` keeps the order of the readable files; ``errors`` holds ``(path, one-line message)``
    for each file that could not be read. Only an invalid ``wavelength`` or ``x_unit`` argument raises
    (ValueError), once, before any file is read.
    """
    radiation = None if wavelength is None else (
        wavelength if isinstance(wavelength, Radiation) else resolve_radiation(wavelength))
    unit = _check_x_unit(x_unit)
    patterns: list[MeasuredPattern] = []
    errors: list[tuple[str, str]] = []
    for path in paths:
        try:
            patterns.append(read_pattern(path, radiation, unit))
        except PatternFileError as exc:
            errors.append((str(path), str(exc)))
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
            errors.append((str(path), str(PatternFileError(path, f"unexpected {type(exc).__name__}: {exc}"))))
    return patterns, errors

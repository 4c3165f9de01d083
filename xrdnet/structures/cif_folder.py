"""Structures from a folder of CIF files (a user's ICSD/COD/Materials Project export), labelled by spglib.

Real exports always contain some files that cannot be used: broken syntax, empty files, elements
without X-ray scattering parameters, structures spglib cannot analyse. Such a file is skipped and
written into a ``SkipReport`` with its reason, and the run goes on: one bad file in 10^5 should
cost a line in a report, not the whole data set.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pymatgen.core import Structure

from xrdnet.structures.labelled import LabelledStructure, spglib_label, xray_scattering_elements

# Reasons are "<category>: <detail>"; summary() counts by category.
UNPARSABLE = "unparsable CIF"
NO_STRUCTURE = "no structure"
NO_SCATTERING = "no X-ray scattering parameters"
SPGLIB_FAILED = "spglib failed"
BAD_OCCUPANCY = "impossible occupancy"
IMPLAUSIBLE_CELL = "implausible cell"
# pymatgen already merges sites within its own tolerance; a summed occupancy above this is an error in
# the CIF (two atoms on one site), not rounding.
MAX_SITE_OCCUPANCY = 1.05
# Cell edges outside this range are typos or corrupt files, not crystals (the 42,376 shared MP and AMCSD
# structures span 1.78..162 Å); a 1000 Å edge would also ask the simulator for ~10^10 reflections.
MIN_CELL_LENGTH_ANGSTROM = 1.0
MAX_CELL_LENGTH_ANGSTROM = 250.0


@dataclass
class SkipReport:
    """Files a source skipped, as ``(path, reason)`` pairs, and how many structures it read.

    A reason is ``"<category>: <detail>"``, e.g. ``"unparsable CIF: <pymatgen's message>"``, so the
    report can be grouped by category and each line still says what was wrong with which file.
    """

    skipped: list[tuple[str, str]] = field(default_factory=list)
    n_ok: int = 0
    unit: str = "files"  # what a skipped item is: CIF files, or records of a JSON-lines file

    def add(self, path: str | Path, reason: str) -> None:
        """Record that ``path`` was skipped for ``reason``."""
        self.skipped.append((str(path), reason))

    def categories(self) -> Counter:
        """Number of skipped files per reason category (the text before the first colon)."""
        return Counter(reason.split(":", 1)[0] for _, reason in self.skipped)

    def summary(self) -> str:
        """One line such as ``"120 structures read, 3 files skipped (2 unparsable CIF, 1 spglib failed)"``."""
        text = f"{self.n_ok} structures read, {len(self.skipped)} {self.unit} skipped"
        if self.skipped:
            parts = ", ".join(f"{count} {name}" for name, count in sorted(self.categories().items()))
            text += f" ({parts})"
        return text

    def write(self, path: str | Path) -> Path:
        """Write the report as a tab-separated file (``path``, ``reason`` columns) and return its path.

        Whitespace inside reasons is collapsed to single spaces, so every skipped file is one line
        that ``grep`` and spreadsheets read alike; the summary goes on a leading ``#`` line.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8", errors="replace") as handle:
            handle.write(f"# {self.summary()}\n")
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["path", "reason"])
            for file, reason in self.skipped:
                reason = re.sub(r"\s+", " ", reason).strip()
                writer.writerow([file.replace("\0", "\ufffd"), reason.replace("\0", "\ufffd")])
        return path


def find_cif_files(folder: str | Path) -> list[Path]:
    """All ``*.cif`` files (any case of the extension) below ``folder``, sorted by relative path.

    Sorting makes the order (and so the structure indices) the same on every file system.
    Hidden folders are included; symbolic links to folders are not followed, to avoid cycles.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"CIF folder {folder} does not exist or is not a folder")
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if name.lower().endswith(".cif"):
                found.append(Path(root) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _short(message: object, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", str(message)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_cif(path: str | Path) -> Structure:
    """The first structure of CIF file ``path`` (cell as written, not reduced), or ``ValueError``.

    The error message starts with a skip category (``unparsable CIF``, ``no structure``,
    ``no X-ray scattering parameters``) and names the problem; pymatgen's warnings are swallowed
    here and only used to explain a file that yields no structure.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ValueError(f"{NO_STRUCTURE}: {path.name} is an empty file")
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ValueError(f"{UNPARSABLE}: cannot read {path.name}: {exc}") from None
    return parse_cif_text(text, path.name)


def species_symbol(species) -> str:
    """Element symbol of a pymatgen species; a ``DummySpecies`` ("X", "Xx", vacancies) gives its own text.

    ``DummySpecies`` subclasses ``Species`` in pymatgen, so it must be tested first: its ``element``
    attribute does not exist.
    """
    from pymatgen.core import Element
    from pymatgen.core.periodic_table import DummySpecies

    if isinstance(species, DummySpecies):
        return str(getattr(species, "symbol", species))
    if isinstance(species, Element):
        return species.symbol
    element = getattr(species, "element", None)
    return element.symbol if element is not None else str(species)


def parse_cif_text(text: str, name: str) -> Structure:
    """The first structure of CIF ``text`` (named ``name`` in messages), or ``ValueError`` with a skip category."""
    from pymatgen.io.cif import CifParser

    if not text.strip():
        raise ValueError(f"{NO_STRUCTURE}: {name} is empty")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser.from_str(text)
        except Exception as exc:  # noqa: BLE001 - pymatgen raises many kinds on bad input
            raise ValueError(f"{UNPARSABLE}: {name}: {type(exc).__name__}: {_short(exc)}") from None
        # pymatgen's private block table tells "not a CIF at all" from "CIF without atoms".
        blocks = getattr(getattr(parser, "_cif", None), "data", None)
        if blocks is not None and not blocks:
            raise ValueError(f"{UNPARSABLE}: {name} has no data_ block (not a CIF file?)")
        try:
            structures = parser.parse_structures(primitive=False, on_error="warn")
        except Exception as exc:  # noqa: BLE001
            if "no structures" not in str(exc).lower():
                raise ValueError(f"{UNPARSABLE}: {name}: {type(exc).__name__}: {_short(exc)}") from None
            structures = []
    if not structures:
        hints = [_short(w.message) for w in caught if str(w.message).startswith("No structure parsed")]
        detail = f" ({hints[-1]})" if hints else ""
        raise ValueError(f"{NO_STRUCTURE}: pymatgen finds no structure in {name}{detail}")
    structure = structures[0]
    if len(structure) == 0:
        raise ValueError(f"{NO_STRUCTURE}: {name} has a cell but no atoms")
    known = xray_scattering_elements()
    bad = {species_symbol(sp) for site in structure for sp in site.species} - known
    if bad:
        raise ValueError(f"{NO_SCATTERING}: {name} contains {', '.join(sorted(bad))}")
    check_plausible(structure, name)
    occupancy = max(site.species.num_atoms for site in structure)
    if occupancy > MAX_SITE_OCCUPANCY:
        raise ValueError(f"{BAD_OCCUPANCY}: {name} has a site with total occupancy {occupancy:.3f} > 1")
    return structure


def check_plausible(structure: Structure, name: str) -> None:
    """``ValueError`` (``implausible cell`` / ``impossible occupancy``) for a structure no crystal can have.

    Finite cell edges within ``MIN_CELL_LENGTH_ANGSTROM .. MAX_CELL_LENGTH_ANGSTROM``, a cell that
    is not flat, finite fractional coordinates, and finite occupancies in (0, 1].
    """
    import numpy as np

    lengths = np.asarray(structure.lattice.abc, dtype=float)
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(lengths))):
        raise ValueError(f"{IMPLAUSIBLE_CELL}: {name} has a cell that is not finite")
    if lengths.min() < MIN_CELL_LENGTH_ANGSTROM or lengths.max() > MAX_CELL_LENGTH_ANGSTROM:
        raise ValueError(f"{IMPLAUSIBLE_CELL}: {name} has cell edges {', '.join(f'{v:.4g}' for v in lengths)} Å, "
                         f"outside {MIN_CELL_LENGTH_ANGSTROM:g}..{MAX_CELL_LENGTH_ANGSTROM:g} Å")
    volume = abs(float(np.linalg.det(matrix)))
    if not volume > 0.01 * float(np.prod(lengths)):
        raise ValueError(f"{IMPLAUSIBLE_CELL}: {name} has a flat cell (volume {volume:.4g} Å³, angles "
                         f"{', '.join(f'{v:.4g}' for v in structure.lattice.angles)}°)")
    if not np.all(np.isfinite(structure.frac_coords)):
        raise ValueError(f"{IMPLAUSIBLE_CELL}: {name} has atoms at coordinates that are not finite")
    occupancies = [occupancy for site in structure for occupancy in site.species.values()]
    if not all(np.isfinite(o) and 0 < o <= MAX_SITE_OCCUPANCY for o in occupancies):
        raise ValueError(f"{BAD_OCCUPANCY}: {name} has an occupancy outside (0, 1] or not finite")


def iter_cif_folder(
    folder: str | Path,
    symprec: float = 0.1,
    report: SkipReport | None = None,
    start: int = 0,
    stop: int | None = None,
    files: list[Path] | None = None,
) -> Iterator[LabelledStructure]:
    """Yield every usable CIF below ``folder`` as a ``LabelledStructure``, lazily, in sorted path order.

    Each file's first structure is labelled with spglib (through pymatgen's ``SpacegroupAnalyzer``)
    at ``symprec`` Å; ``source`` is the path relative to ``folder`` and ``index`` is the file's
    position in the sorted list (stable whichever files fail, so data sets can be chunked, sharded
    and resumed by position). ``start``/``stop`` restrict to positions ``start .. stop-1``;
    ``files`` passes the list of ``find_cif_files`` when the caller already has it. A file that
    cannot be used is skipped and recorded in ``report`` (path and a reason naming the problem);
    pass a ``SkipReport`` to see them, they are never raised.
    """
    folder = Path(folder)
    report = report if report is not None else SkipReport()
    files = find_cif_files(folder) if files is None else files
    for index in range(start, len(files) if stop is None else min(stop, len(files))):
        path = files[index]
        relative = path.relative_to(folder).as_posix()
        try:
            structure = read_cif(path)
        except ValueError as exc:
            report.add(path, str(exc))
            continue
        except OSError as exc:
            report.add(path, f"{UNPARSABLE}: cannot read {path.name}: {exc}")
            continue
        try:
            label = spglib_label(structure, symprec)
        except Exception as exc:  # noqa: BLE001 - spglib/pymatgen fail in several ways
            report.add(path, f"{SPGLIB_FAILED}: {path.name} at symprec={symprec}: {type(exc).__name__}: {_short(exc)}")
            continue
        report.n_ok += 1
        yield LabelledStructure.from_label(structure, label, relative, index, symprec)

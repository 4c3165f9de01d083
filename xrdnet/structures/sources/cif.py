"""A folder of CIF files (``source: cif``): unit = file, in sorted order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from xrdnet.data.records import StructureRecords
from xrdnet.structures.cif_folder import SkipReport, find_cif_files, iter_cif_folder
from xrdnet.structures.sources import UnitLog


class CifFolderSource:
    uses_worker_processes = False

    def __init__(self, folder: str | Path, symprec: float) -> None:
        self.folder, self.symprec = folder, symprec
        self.files = find_cif_files(folder)
        if not self.files:
            raise ValueError(f"CIF folder {folder} holds no *.cif files")

    @classmethod
    def from_config(cls, config) -> CifFolderSource:
        return cls(config.cif_dir, config.symprec)

    def n_available(self) -> int:
        return len(self.files)

    def records(self, start: int, stop: int, log: UnitLog) -> Iterator[tuple[int, StructureRecords]]:
        report = SkipReport()
        position = {str(p): i for i, p in enumerate(self.files)}
        seen = 0
        for item in iter_cif_folder(self.folder, self.symprec, report, start, stop, files=self.files):
            for path, reason in report.skipped[seen:]:  # files skipped before this one
                log.skipped[position[path]] = (path, reason)
            seen = len(report.skipped)
            yield item.index, StructureRecords.from_labelled([item])
        for path, reason in report.skipped[seen:]:
            log.skipped[position[path]] = (path, reason)

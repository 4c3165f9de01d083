"""The structures of an existing xrdnet data set as a structure source (``source: hdf5``, ``--structures-from``):
unit = stored row. It lives in ``data/`` because it reads the data-set format; it is registered in
``xrdnet.structures.sources.SOURCES`` like every other source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from xrdnet.data import hdf5 as h5io
from xrdnet.data.records import StructureRecords
from xrdnet.structures.sources import UnitLog


class StoredSource:
    uses_worker_processes = False

    def __init__(self, path: str | Path) -> None:
        with h5io.open_dataset_file(Path(path), "structures file") as h5:
            self._stored = h5io.read_records(h5)

    @classmethod
    def from_config(cls, config) -> StoredSource:
        return cls(config.structures_file)

    def n_available(self) -> int:
        return len(self._stored)

    def records(self, start: int, stop: int, log: UnitLog) -> Iterator[tuple[int, StructureRecords]]:
        for row in range(start, stop):
            yield row, self._stored.select([row])

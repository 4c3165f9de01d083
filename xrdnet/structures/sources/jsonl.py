"""JSON-lines files of CIFs (``source: jsonl``): unit = record, counted over the files in the order given."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from xrdnet.structures.jsonl import count_records, iter_jsonl, resolve_structure_files
from xrdnet.structures.sources import UnitLog


class JsonlSource:
    uses_worker_processes = True

    def __init__(self, files: Sequence[str | Path], symprec: float, workers: int) -> None:
        self.files = resolve_structure_files(files)
        for path in self.files:
            if not path.is_file():
                raise FileNotFoundError(f"JSON-lines file {path} not found")
        self._n = sum(count_records(p) for p in self.files)
        if self._n == 0:
            raise ValueError(f"{', '.join(map(str, self.files))}: no records")
        self.symprec, self.workers = symprec, workers

    @classmethod
    def from_config(cls, config) -> JsonlSource:
        return cls(config.jsonl_files, config.symprec, config.workers)

    def n_available(self) -> int:
        return self._n

    def records(self, start: int, stop: int, log: UnitLog) -> Iterator[tuple[int, object]]:
        def on_skip(unit, location, reason):
            log.skipped[unit] = (location, reason)

        yield from iter_jsonl(self.files, self.symprec, None, start, stop, workers=self.workers, on_skip=on_skip)

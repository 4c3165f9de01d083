"""Random crystals from pyxtal (``source: synthetic``): unit = generation index, no end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from xrdnet.data.records import StructureRecords
from xrdnet.structures.sources import UnitLog
from xrdnet.structures.synthetic import generate
from xrdnet.structures.synthetic_config import SyntheticConfig


class SyntheticSource:
    uses_worker_processes = True

    def __init__(self, config: SyntheticConfig, seed: int, workers: int) -> None:
        self.config, self.seed, self.workers = config, seed, workers

    @classmethod
    def from_config(cls, config) -> SyntheticSource:
        return cls(config.synthetic, config.seed, config.workers)

    def n_available(self) -> None:
        return None

    def records(self, start: int, stop: int, log: UnitLog) -> Iterator[tuple[int, StructureRecords]]:
        def on_index(index, space_group, failures, given_up):
            log.attempts[index] = Counter(outcome for outcome, *_ in failures)
            if given_up:
                log.exhausted[index] = len(given_up)

        for item in generate(self.config, stop - start, self.seed, start=start, workers=self.workers,
                             on_index=on_index):
            yield item.index, StructureRecords.from_labelled([item])

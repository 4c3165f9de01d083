"""Data sets: structures and rendered patterns in HDF5, splits, merging shards, reading back.

``build_dataset`` (``xrdnet simulate``) writes a file, ``merge_shards`` (``xrdnet merge``) joins
shards into one virtual data set, ``PatternDataset`` reads any of them.
"""

from xrdnet.data.build import SimulateConfig, build_dataset
from xrdnet.data.reader import PatternDataset
from xrdnet.data.records import StructureRecords

__all__ = ["PatternDataset", "SimulateConfig", "StructureRecords", "build_dataset"]

"""Train/val/test assignment per structure (never per pattern), by a seeded hash.

A hash of a stable key (rather than a shuffled permutation) gives every structure the same split
whatever else is in the data set: shards, resumed runs, re-rendered files and data sets grown later
all agree, and a structure never changes sides. Two keys are used:

* ``"structure"``: the structure's own identity (``source#index``): all K patterns of a structure
  stay together;
* ``"structure_type"``: space group + Wyckoff sequence + anonymous formula, so a prototype (every
  rock-salt compound, say) sits entirely on one side: the stricter, honest generalisation split;
* ``"compound"``: the reduced formula, so every polymorph and every pressure/temperature entry of
  one compound (and the same compound from two databases) sits on one side: "unseen compounds".
  It is computed when a file is read, from ``/structures/formula`` with the file's split seed and
  fractions, so files written before it existed have it too.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

SPLIT_NAMES = ("train", "val", "test")
SPLIT_KINDS = ("structure", "structure_type", "compound")


def hash_unit_interval(keys: Sequence[str], seed: int) -> np.ndarray:
    """``[len(keys)]`` float64 in [0, 1): BLAKE2b of ``"{seed}|{key}"``, the same on every machine."""
    out = np.empty(len(keys), dtype=np.float64)
    for i, key in enumerate(keys):
        digest = hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest()
        out[i] = (int.from_bytes(digest, "little") >> 11) / float(1 << 53)
    return out


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate (train, val, test) fractions: three non-negative numbers summing to 1."""
    if len(fractions) != 3:
        raise ValueError(f"split fractions must be (train, val, test), got {tuple(fractions)}")
    train, val, test = (float(f) for f in fractions)
    if min(train, val, test) < 0 or abs(train + val + test - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {tuple(fractions)}")
    return train, val, test


def assign_splits(keys: Sequence[str], seed: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """``[len(keys)]`` int8 split (0 train, 1 val, 2 test) of each key; equal keys share a split."""
    train, val, _ = check_fractions(fractions)
    u = hash_unit_interval(keys, seed)
    return np.where(u < train, 0, np.where(u < train + val, 1, 2)).astype(np.int8)


def structure_keys(source: Sequence[str], source_index: Sequence[int]) -> list[str]:
    """Identity keys ``"source#index"`` of structures."""
    return [f"{s}#{int(i)}" for s, i in zip(source, source_index)]


def compound_key(formula: str) -> str:
    """Split key of a compound: its reduced formula with the element order normalised.

    ``"Fe2O3"`` and ``"O3Fe2"`` are one compound; fractional (disordered) formulas stay as written.
    """
    import re

    parts = re.findall(r"([A-Z][a-z]?)([0-9.]*)", formula)
    return "".join(f"{el}{n}" for el, n in sorted(parts)) if parts else formula


def compound_space_group_key(formula: str, space_group: int) -> str:
    """De-duplication key: one compound in one space group (``"Cl1Na1|225"``-like), whatever its source."""
    return f"{compound_key(formula)}|{int(space_group)}"

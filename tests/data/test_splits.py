"""Train/val/test splits: fractions as asked, deterministic, and no key on two sides (no leakage)."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.data import PatternDataset
from xrdnet.data import hdf5 as h5io
from xrdnet.data.splits import SPLIT_KINDS, assign_splits, check_fractions, compound_key, hash_unit_interval

# hash_unit_interval(["mp-149", "NaCl|225"], 0) and (["mp-149"], 7) as first released: never to change.
PINNED_SEED0 = np.array([0.5569295185799465, 0.70049225743269])
PINNED_SEED7 = np.array([0.14876735519859963])


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.5, 0.3, 0.2), (0.9, 0.0, 0.1)])
def test_split_fractions_within_binomial_tolerance(fractions):
    n = 20000
    keys = [f"mp-{i}" for i in range(n)]
    split = assign_splits(keys, seed=3, fractions=fractions)
    share = np.bincount(split, minlength=3) / n
    sigma = np.sqrt(np.asarray(fractions) * (1 - np.asarray(fractions)) / n)
    assert np.all(np.abs(share - fractions) <= 4 * sigma + 1e-12), (share, fractions)
    if fractions[1] == 0.0:
        assert not (split == 1).any()


def test_hash_is_uniform_seeded_and_stable():
    keys = [f"k{i}" for i in range(5000)]
    u = hash_unit_interval(keys, seed=0)
    assert u.min() >= 0 and u.max() < 1
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    assert counts.min() > 400 and counts.max() < 600  # each decile ≈ 500 (binomial σ ≈ 21)
    assert np.array_equal(u, hash_unit_interval(keys, seed=0))
    other = hash_unit_interval(keys, seed=1)
    assert np.mean(other != u) > 0.99
    # a key's split does not depend on which other keys are in the set (shards, grown data sets)
    assert np.array_equal(assign_splits(keys[::7], 0), assign_splits(keys, 0)[::7])
    # equal keys share a split
    assert len(set(assign_splits(["NaCl"] * 50, 0).tolist())) == 1


def test_fractions_are_validated():
    assert check_fractions([0.7, 0.2, 0.1]) == (0.7, 0.2, 0.1)
    for bad in [(0.8, 0.1), (0.8, 0.3, 0.1), (1.1, -0.1, 0.0)]:
        with pytest.raises(ValueError):
            check_fractions(bad)


def test_compound_key_normalises_element_order():
    assert compound_key("Fe2O3") == compound_key("O3Fe2") == "Fe2O3"
    assert compound_key("NaCl") != compound_key("NaCl2")


def test_no_leakage_between_splits_of_a_data_set(tiny_dataset):
    """Under every split kind, every key of that kind (and every structure) sits in one split only,
    and the three splits partition the patterns."""
    with PatternDataset(tiny_dataset) as ds:
        n_patterns = len(ds.structure_index)
        types = np.asarray(h5io._strings(ds._h5["structures/structure_type"]))
        keys = {"structure": np.arange(len(ds.space_group)).astype(str), "structure_type": types,
                "compound": np.asarray([compound_key(f) for f in ds.formula])}
        for kind in SPLIT_KINDS:
            rows = {s: ds.indices(s, kind) for s in ("train", "val", "test")}
            together = np.concatenate(list(rows.values()))
            assert len(together) == n_patterns and len(np.unique(together)) == n_patterns, kind
            sides = {}
            for s, r in rows.items():
                for key in np.unique(keys[kind][ds.structure_index[r]]).tolist():
                    sides.setdefault(key, set()).add(s)
                for structure in np.unique(ds.structure_index[r]).tolist():
                    sides.setdefault(("structure", structure), set()).add(s)
            leaked = {k: v for k, v in sides.items() if len(v) > 1}
            assert not leaked, (kind, leaked)
            assert len(rows["train"]) > len(rows["test"]), kind
        # the structure-type split puts every structure of a type together even when the type repeats
        split_by_type = ds.structure_split("structure_type")
        for t in np.unique(types):
            assert len(set(split_by_type[types == t].tolist())) == 1


def test_hash_values_are_pinned_so_old_data_sets_keep_their_splits():
    """Split membership is a function of (seed, key) fixed forever: files written earlier, shards
    and grown data sets must agree. Changing the digest, its byte order or the scaling fails here."""
    np.testing.assert_array_equal(hash_unit_interval(["mp-149", "NaCl|225"], 0), PINNED_SEED0)
    np.testing.assert_array_equal(hash_unit_interval(["mp-149"], 7), PINNED_SEED7)
    assert hash_unit_interval(["a"], 0).dtype == np.float64


def test_the_seed_reaches_the_split():
    keys = [f"k{i}" for i in range(2000)]
    assert np.mean(assign_splits(keys, 0) != assign_splits(keys, 1)) > 0.2
    # a key whose hash is exactly on a boundary goes to the later split (u < train is train)
    u = hash_unit_interval(keys, 0)
    train = float(np.sort(u)[1000])
    split = assign_splits(keys, 0, (train, 1.0 - train, 0.0))
    assert split[np.argsort(u)[1000]] == 1 and split[np.argsort(u)[999]] == 0


def test_fraction_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"\(train, val, test\)"):
        check_fractions((0.9, 0.1))
    with pytest.raises(ValueError, match="sum to 1"):
        check_fractions((-0.1, 0.6, 0.5))
    assert check_fractions((0.5, 0.5, 1e-7)) == (0.5, 0.5, 1e-7)  # within the 1e-6 rounding allowance
    with pytest.raises(ValueError):
        check_fractions((0.5, 0.5, 1e-6 + 1e-9))
    assert compound_key("???") == "???"  # not a formula: kept as written

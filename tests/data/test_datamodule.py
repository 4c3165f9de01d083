"""DataModule: block-shuffled batches, RAM mode, on-the-fly rendering, DDP dealing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xrdnet.data import PatternDataset
from xrdnet.data.datamodule import BlockShuffleBatchSampler, DataConfig, PatternDataModule
from xrdnet.simulate import XRDSimulator


def test_block_shuffle_covers_everything_once_and_reads_few_blocks():
    rows = np.arange(1000) * 2  # every other file row
    sampler = BlockShuffleBatchSampler(rows, block_rows=50, batch_size=32, shuffle=True, seed=0, window_blocks=2)
    epoch0 = [b for b in sampler]
    assert sorted(i for b in epoch0 for i in b) == list(range(1000))
    assert len(epoch0) == len(sampler)
    for batch in epoch0:  # a batch touches at most two windows' blocks (it may straddle a boundary)
        assert len(set((rows[batch] // 50).tolist())) <= 2 * 2
    sampler.set_epoch(1)
    assert [b for b in sampler] != epoch0
    ordered = BlockShuffleBatchSampler(rows, 50, 32, shuffle=False)
    assert [i for b in ordered for i in b] == list(range(1000))


def test_ddp_ranks_get_disjoint_equal_batches():
    rows = np.arange(999)
    ranks = [list(BlockShuffleBatchSampler(rows, 64, 10, True, 3, 4, rank=r, world_size=3)) for r in range(3)]
    assert len({len(r) for r in ranks}) == 1
    seen = [set(i for b in r for i in b) for r in ranks]
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2]) and not (seen[0] & seen[2])


def test_loaders_give_the_files_patterns_and_labels(tiny_dataset):
    dm = PatternDataModule(tiny_dataset, DataConfig(batch_size=16))
    memory = PatternDataModule(tiny_dataset, DataConfig(batch_size=16, in_memory=True))
    with PatternDataset(tiny_dataset) as ds:
        batch = next(iter(dm.val_dataloader()))
        rows = dm.split_rows["val"][:16]
        assert torch.equal(batch["pattern"], torch.from_numpy(ds.read_patterns(rows)))
        assert torch.equal(batch["crystal_system"], torch.from_numpy(ds.pattern_crystal_system()[rows]))
        assert torch.equal(batch["space_group"], torch.from_numpy(ds.pattern_space_group()[rows] - 1))
        assert torch.equal(next(iter(memory.val_dataloader()))["pattern"], batch["pattern"])
    train_rows = [i for b in dm.train_dataloader().batch_sampler for i in b]
    assert len(train_rows) >= len(dm.split_rows["train"]) - 16  # drop_last loses at most one batch
    structures_train = set(dm._data("train").structure_row.tolist())
    assert not structures_train & set(dm._data("test").structure_row.tolist())


def test_on_the_fly_renders_new_patterns_every_epoch(tiny_dataset):
    dm = PatternDataModule(tiny_dataset, DataConfig(batch_size=8, on_the_fly=True))
    batch = next(iter(dm.train_dataloader()))
    assert "pattern" not in batch
    first = dm.on_after_batch_transfer(dict(batch), 0)["pattern"]
    assert first.shape == (8, dm.n_points) and torch.isfinite(first).all()
    assert torch.allclose(first.amax(1), torch.ones(8))
    renderer = dm.renderer()
    second = renderer.render(batch["structure_row"], batch["pattern_id"], epoch=1)
    assert not torch.equal(first, second)
    # The same structures through the simulator directly, with the epoch-0 seed: the same tensor.
    sim = XRDSimulator.from_config(renderer.sim_config)
    structures = renderer.records.select(batch["structure_row"].numpy()).to_batch()
    seed = (renderer.base_seed * 1_000_003 + 7919) % (1 << 62)
    assert torch.equal(first, sim.patterns(structures, seed=seed, pattern_ids=batch["pattern_id"]))
    with PatternDataset(tiny_dataset) as ds:  # and not the stored ones
        assert not np.allclose(first.numpy(), ds.read_patterns(dm.split_rows["train"][:8]), atol=1e-2)


def test_bad_split_kind_is_refused(tiny_dataset):
    with pytest.raises(ValueError, match="split_kind"):
        DataConfig(split_kind="random")


# ---------------------------------------------------------------------------------------------
# Sampling weights and source filters (real-structure training)


def test_compound_weights_count_each_compound_and_group_once():
    from xrdnet.data.datamodule import sample_weights

    formula = ["MgAl2O4"] * 6 + ["NaCl", "ClNa", "SiO2", "SiO2"]  # a series, one compound twice, two polymorphs
    group = np.array([227] * 6 + [225, 225, 154, 152])
    system = np.array([6] * 6 + [6, 6, 4, 4])
    w = sample_weights("compound", formula, group, system)
    assert w.sum() == pytest.approx(1.0)
    # Pairs: spinel 227, NaCl 225, SiO2 154, SiO2 152: four pairs, each a quarter in total.
    assert w[:6].sum() == pytest.approx(0.25) and w[6:8].sum() == pytest.approx(0.25)
    assert w[8] == pytest.approx(0.25) and w[9] == pytest.approx(0.25)
    plain = sample_weights("none", formula, group, system)
    assert np.allclose(plain, 0.1)
    balanced = sample_weights("compound_system", formula, group, system)
    assert balanced[system == 6].sum() == pytest.approx(0.5) and balanced[system == 4].sum() == pytest.approx(0.5)
    sqrt = sample_weights("compound_sqrt_system", formula, group, system)
    # Two cubic pairs and two trigonal ones: equal shares, so √-balancing changes nothing here.
    assert np.allclose(sqrt, w)
    skewed = sample_weights("compound_sqrt_system", formula[:9], group[:9], system[:9])
    # Three pairs: cubic share 2/3, trigonal 1/3 -> reweighted by share^-1/2: 2/3·√(3/2) : 1/3·√3.
    ratio = skewed[system[:9] == 6].sum() / skewed[system[:9] == 4].sum()
    assert ratio == pytest.approx((2 / 3) ** 0.5 / (1 / 3) ** 0.5)


def test_weighted_epochs_follow_the_weights_and_change_per_epoch():
    rows = np.arange(4)
    weights = np.array([0.7, 0.1, 0.1, 0.1])
    sampler = BlockShuffleBatchSampler(rows, 1, 100, True, seed=0, weights=weights)
    counts = np.zeros(4)
    epochs = []
    for epoch in range(50):
        sampler.set_epoch(epoch)
        drawn = [i for b in sampler for i in b]
        assert len(drawn) == 4
        epochs.append(tuple(drawn))
        counts += np.bincount(drawn, minlength=4)
    assert counts[0] / counts.sum() == pytest.approx(0.7, abs=0.1)
    assert len(set(epochs)) > 10  # a new draw every epoch
    sampler.set_epoch(3)
    assert tuple(i for b in sampler for i in b) == epochs[3]  # and the same draw for the same epoch


def test_include_sources_filters_every_split(tiny_dataset):
    with PatternDataset(tiny_dataset) as ds:
        name = ds.source[0].split(":", 1)[0].split("/", 1)[0]
        everything = sum(len(ds.indices(s)) for s in ("train", "val", "test"))
        kept = sum(len(ds.indices(s, sources=(name,))) for s in ("train", "val", "test"))
        assert kept == everything  # the tiny set has one source
        with pytest.raises(ValueError, match="no structure comes from"):
            ds.indices("train", sources=("nonexistent_db",))
    with pytest.raises(ValueError, match="sample_weights"):
        DataConfig(sample_weights="bogus")


def test_profile_overrides_change_named_fields_of_the_data_sets_profile_and_refuse_unknown_ones(tiny_dataset):
    from xrdnet.data.datamodule import training_simulator_config

    config = DataConfig(fresh=True, profile_overrides={"anisotropic_strain": [-0.03, 0.03], "b_iso_change_A2": [0, 1]})
    with PatternDataset(tiny_dataset) as ds:
        own = ds.simulator_config().profile
        profile = training_simulator_config(ds, config).profile
        assert profile.anisotropic_strain == (-0.03, 0.03) and profile.b_iso_change_A2 == (0, 1)
        assert profile.peak_counts == own.peak_counts  # the rest is the data set's own
        with pytest.raises(ValueError, match="unknown profile setting.*anisotropic_stran"):
            training_simulator_config(ds, DataConfig(profile_overrides={"anisotropic_stran": [0, 0.1]}))
        with pytest.raises(ValueError, match="anisotropic_strain must be within"):
            training_simulator_config(ds, DataConfig(profile_overrides={"anisotropic_strain": [0, 0.5]}))
    with pytest.raises(ValueError, match="on_the_fly_profile"):
        DataConfig(on_the_fly_profile="configs/experimental.yaml", profile_overrides={"eta": [0.1, 0.2]})

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

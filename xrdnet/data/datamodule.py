"""Lightning ``DataModule`` over an xrdnet HDF5 data set: disk-friendly shuffling, RAM or on-the-fly.

Three ways to feed a network, chosen in ``DataConfig``:

* **from disk** (default): batches are drawn from a few HDF5 chunks at a time. Each epoch shuffles
  the order of row *blocks* (one block = one HDF5 chunk of ``/patterns``), then shuffles rows inside
  a window of ``window_blocks`` blocks, so a batch reads a handful of chunks sequentially instead of
  ``batch_size`` random rows (which thrashes a disk and h5py's chunk cache alike);
* **in memory** (``in_memory: true``): the split's patterns are read once (200k float16 patterns on
  8501 points are 3.4 GB) and batches are fully shuffled;
* **on the fly** (``on_the_fly: true``): batches carry only structure rows and pattern ids, and
  fresh profiles are rendered on the training device in ``on_after_batch_transfer`` with a seed
  that changes every epoch, so the network never sees the same pattern twice (a GPU's way);
* **fresh** (``fresh: true``): every training presentation is rendered anew from the structures'
  cached sticks in DataLoader workers, optionally cropped to laboratory scan ranges
  (``coverage``); see ``xrdnet.data.fresh`` (a CPU's way: sticks once, profiles every time).

Multi-GPU: the batch sampler itself deals every ``world_size``-th batch to a rank (equal counts
per rank), so the Trainer runs with ``use_distributed_sampler=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from xrdnet.data import hdf5 as h5io
from xrdnet.data.reader import PatternDataset
from xrdnet.data.splits import SPLIT_KINDS
from xrdnet.simulate.coverage import CoverageConfig


SAMPLE_WEIGHTS = ("none", "compound", "compound_sqrt_system", "compound_system")


def sample_weights(kind: str, formula: list[str], space_group: np.ndarray, crystal_system: np.ndarray) -> np.ndarray:
    """``[N]`` float64 sampling probabilities (sum 1) of N patterns under weighting ``kind`` (``DataConfig``)."""
    from xrdnet.data.splits import compound_space_group_key

    n = len(formula)
    if kind == "none" or n == 0:
        return np.full(n, 1.0 / max(n, 1))
    keys = [compound_space_group_key(f, g) for f, g in zip(formula, space_group.tolist())]
    _, inverse, counts = np.unique(np.asarray(keys), return_inverse=True, return_counts=True)
    weight = 1.0 / counts[inverse]  # each (compound, space group) pair sums to 1
    if kind != "compound":
        mass = np.bincount(crystal_system, weights=weight, minlength=7)  # pairs per system
        share = mass / mass.sum()
        power = 0.5 if kind == "compound_sqrt_system" else 1.0
        factor = np.where(share > 0, share, 1.0) ** -power
        weight = weight * factor[crystal_system]
    return weight / weight.sum()


COVERAGE_NEEDS_FRESH = "coverage crops the network's fresh patterns: set data.fresh: true"


@dataclass(frozen=True)
class DataConfig:
    """How training reads a data set (the ``data:`` section of a train config).

    ``split_kind`` is ``structure`` or ``structure_type`` (the stricter split). ``max_train``
    caps the training patterns (0 = all; a seeded subset), handy for quick CPU runs.
    ``on_the_fly_profile`` names a YAML file whose ``simulator.profile`` replaces the data set's
    own profile ranges when rendering on the fly (e.g. ``configs/experimental.yaml``).

    ``include_sources`` keeps only structures whose source database (the part of ``source`` before
    ``:``, e.g. ``mp_structures``) is listed, in every split (empty = all): a Materials-Project-only
    model from a file that also holds AMCSD. ``sample_weights`` draws each training epoch (with
    replacement, as many patterns as the split has) with probabilities:

    * ``none``: every pattern once per epoch (plain shuffling);
    * ``compound``: every distinct (compound, space group) pair weighs the same in total, however
      many entries it has (AMCSD's 130 Spinel entries, the same compound from MP and AMCSD);
    * ``compound_sqrt_system``: as ``compound``, then crystal systems re-weighted by
      1/√(their share), half-way between the data's own prior and a uniform one;
    * ``compound_system``: as ``compound``, then every crystal system weighs the same.

    ``source_weights`` (``{mp_structures: 1, amcsd_minerals: 2}``) multiplies each source database's
    share of the draws after that (a source not named keeps weight 1): the data mix.
    ``fresh`` renders every training presentation anew (module docstring; a forest, fitted once, gets one
    pattern per training row rendered with the training profile instead of the stored one), ``epoch_size``
    draws per epoch (0 = as many as the split has patterns), ``coverage`` the scan ranges of the training
    patterns (the network's fresh patterns, so it needs ``fresh``; a forest crops its stored or fresh ones).
    ``profile_overrides`` (``{anisotropic_strain: [-0.03, 0.03]}``) changes named fields of the data
    set's own profile ranges for the patterns training renders (fresh or on the fly), e.g. the
    structure-level augmentations of ``xrdnet.simulate.profiles``.
    """

    batch_size: int = 128
    split_kind: str = "structure"
    in_memory: bool = False
    on_the_fly: bool = False
    on_the_fly_profile: str | None = None
    num_workers: int = 0
    window_blocks: int = 8
    max_train: int = 0
    seed: int = 0
    include_sources: tuple[str, ...] = ()
    sample_weights: str = "none"
    source_weights: dict | None = None
    fresh: bool = False
    epoch_size: int = 0
    coverage: CoverageConfig = CoverageConfig()
    profile_overrides: dict | None = None

    def __post_init__(self) -> None:
        if self.profile_overrides and self.on_the_fly_profile:
            raise ValueError("profile_overrides changes the data set's own profile ranges; with on_the_fly_profile "
                             "name the ranges in that file instead")
        if self.epoch_size < 0:
            raise ValueError(f"epoch_size must be >= 0, got {self.epoch_size}")
        if self.fresh and self.on_the_fly:
            raise ValueError("fresh and on_the_fly are two ways of rendering training patterns: choose one")
        for name, w in (self.source_weights or {}).items():
            if not (isinstance(w, (int, float)) and w >= 0):
                raise ValueError(f"source_weights.{name} must be a non-negative number, got {w!r}")
        if self.sample_weights not in SAMPLE_WEIGHTS:
            raise ValueError(f"sample_weights must be one of {SAMPLE_WEIGHTS}, got {self.sample_weights!r}")
        if self.split_kind not in SPLIT_KINDS:
            raise ValueError(f"split_kind must be one of {SPLIT_KINDS}, got {self.split_kind!r}")
        if self.batch_size < 1 or self.window_blocks < 1 or self.num_workers < 0 or self.max_train < 0:
            raise ValueError("batch_size and window_blocks must be >= 1, num_workers and max_train >= 0")


def profile_with(profile, overrides: dict):
    """``profile`` (a ``ProfileConfig``) with the fields of ``overrides`` replaced (lists become ranges);
    an unknown field is a ValueError naming the known ones."""
    from dataclasses import fields, replace

    known = {f.name for f in fields(profile)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"data.profile_overrides: unknown profile setting(s) {unknown}; known: {sorted(known)}")
    return replace(profile, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def training_simulator_config(ds: PatternDataset, config: DataConfig):
    """The data set's simulator settings, with ``config.on_the_fly_profile``'s profile when one is named:
    what the on-the-fly and fresh renderers draw training patterns with."""
    from dataclasses import replace

    sim = ds.simulator_config()
    if config.profile_overrides:
        return replace(sim, profile=profile_with(sim.profile, config.profile_overrides))
    if not config.on_the_fly_profile:
        return sim

    from xrdnet.config import load_config
    from xrdnet.simulate import SimulatorConfig

    return replace(sim, profile=load_config(config.on_the_fly_profile, SimulatorConfig, section="simulator").profile)


def apply_source_weights(weight: np.ndarray, sources: list[str], source_weights: dict | None) -> np.ndarray:
    """Multiply each source database's share of ``weight [N]`` (sum 1) by its ``source_weights`` entry.

    ``{amcsd_minerals: 2}`` doubles the share of draws the AMCSD structures had; renormalised to sum 1.
    """
    if not source_weights:
        return weight
    from xrdnet.data.reader import source_name

    factor = np.asarray([float(source_weights.get(source_name(s), 1.0)) for s in sources])
    out = weight * factor
    if not out.sum() > 0:
        raise ValueError(f"source_weights {source_weights} leave no training pattern to draw")
    return out / out.sum()


class BlockShuffleBatchSampler(Sampler):
    """Batches of positions ``0..n-1`` shuffled block-wise (see the module docstring).

    ``rows`` are the file rows behind the positions (sorted ascending); a block is the positions
    whose rows fall into one HDF5 chunk of ``block_rows`` rows. With ``shuffle=False`` batches come
    in file order. ``rank``/``world_size`` deal batches to DDP processes. ``weights`` ``[n]``
    (summing to 1) make each shuffled epoch a weighted draw with replacement instead, of
    ``epoch_size`` positions (0 = n). With ``draw_ids`` a batch is a list of ``(position, draw id)``
    pairs (``xrdnet.data.fresh.draw_ids``: epoch and place in the epoch's order) instead of positions.
    """

    def __init__(self, rows: np.ndarray, block_rows: int, batch_size: int, shuffle: bool, seed: int = 0,
                 window_blocks: int = 8, rank: int = 0, world_size: int = 1, drop_last: bool = False,
                 weights: np.ndarray | None = None, epoch_size: int = 0, draw_ids: bool = False) -> None:
        self.rows = np.asarray(rows)
        self.weights = None if weights is None else np.asarray(weights, np.float64)
        self.block_rows = max(1, int(block_rows))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.window_blocks = window_blocks
        self.rank, self.world_size = rank, world_size
        self.drop_last = drop_last
        self.epoch_size = int(epoch_size) if epoch_size else len(self.rows)
        self.draw_ids = draw_ids
        self.epoch = 0
        block_id = self.rows // self.block_rows
        boundaries = np.flatnonzero(np.diff(block_id)) + 1
        self.blocks = np.split(np.arange(len(self.rows)), boundaries) if len(self.rows) else []

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this every epoch, so each epoch gets its own order."""
        self.epoch = int(epoch)

    def _batches(self) -> list[np.ndarray]:
        return [b for b, _ in self._numbered_batches()]

    def _numbered_batches(self) -> list[tuple[np.ndarray, int]]:
        """This rank's batches of positions, each with the epoch-order slot of its first entry."""
        if not self.shuffle:
            order = np.arange(len(self.rows))
        elif self.weights is not None:
            # Weighted epochs ignore the block structure: use them with in-memory data.
            rng = np.random.default_rng([self.seed, self.epoch])
            order = rng.choice(len(self.rows), size=self.epoch_size, replace=True, p=self.weights)
        else:
            rng = np.random.default_rng([self.seed, self.epoch])
            blocks = [self.blocks[i] for i in rng.permutation(len(self.blocks))]
            parts = []
            for w in range(0, len(blocks), self.window_blocks):
                window = np.concatenate(blocks[w : w + self.window_blocks])
                parts.append(window[rng.permutation(len(window))])
            order = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        batches = [(order[i : i + self.batch_size], i) for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1][0]) < self.batch_size:
            batches = batches[:-1]
        if self.world_size > 1:
            per_rank = len(batches) // self.world_size  # equal counts, or DDP ranks wait on each other
            batches = batches[self.rank : per_rank * self.world_size : self.world_size]
        return batches

    def __iter__(self):
        if self.draw_ids:
            from xrdnet.data.fresh import draw_ids

            return iter(list(zip(b.tolist(), draw_ids(self.epoch, first, len(b)).tolist()))
                        for b, first in self._numbered_batches())
        return iter(b.tolist() for b in self._batches())

    def __len__(self) -> int:
        n = self.epoch_size if (self.shuffle and self.weights is not None) else len(self.rows)
        count = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return count // self.world_size if self.world_size > 1 else count


class PatternRows(Dataset):
    """Patterns and labels of the file rows ``rows``, read a whole batch at a time.

    ``__getitems__`` receives a batch of positions and returns the collated batch: a dict with
    ``pattern [B, G]`` float32 (absent in on-the-fly mode), ``crystal_system [B]`` and
    ``space_group [B]`` (0..229, i.e. ITA number - 1) int64, ``structure_row [B]`` and
    ``pattern_id [B]`` int64. The HDF5 file is opened lazily in each worker process (h5py handles
    must not cross a fork).
    """

    def __init__(self, path: str | Path, rows: np.ndarray, in_memory: bool = False, patterns: bool = True) -> None:
        self.path = str(path)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.with_patterns = patterns
        self._ds: PatternDataset | None = None
        with PatternDataset(self.path) as ds:
            self.structure_row = ds.structure_index[self.rows]
            self.crystal_system = ds.crystal_system[self.structure_row]
            self.space_group = ds.space_group[self.structure_row] - 1
            self.pattern_id = ds.pattern_id[self.rows]
            self.cache = ds.read_patterns(self.rows, np.float16) if (in_memory and patterns) else None

    def __len__(self) -> int:
        return len(self.rows)

    def _dataset(self) -> PatternDataset:
        if self._ds is None:
            self._ds = PatternDataset(self.path)
        return self._ds

    def __getitems__(self, positions: list[int]) -> dict:
        pos = np.asarray(positions, dtype=np.int64)
        batch = {
            "crystal_system": torch.from_numpy(self.crystal_system[pos]),
            "space_group": torch.from_numpy(self.space_group[pos]),
            "structure_row": torch.from_numpy(self.structure_row[pos]),
            "pattern_id": torch.from_numpy(self.pattern_id[pos]),
        }
        if self.with_patterns:
            if self.cache is not None:
                data = self.cache[pos].astype(np.float32)
            else:
                data = self._dataset().read_patterns(self.rows[pos])
            batch["pattern"] = torch.from_numpy(data)
        return batch

    def __getitem__(self, position: int) -> dict:
        return {k: v[0] for k, v in self.__getitems__([position]).items()}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_ds"] = None  # re-opened in the worker
        return state


def _identity(batch):
    return batch


class PatternDataModule(L.LightningDataModule):
    """Train/val/test loaders over one data set and one split kind (see the module docstring)."""

    def __init__(self, path: str | Path, config: DataConfig = DataConfig()) -> None:
        super().__init__()
        if config.coverage.active and not config.fresh:
            raise ValueError(COVERAGE_NEEDS_FRESH)
        self.path = Path(path)
        self.config = config
        with PatternDataset(self.path) as ds:
            self.n_points = ds.n_points
            self.two_theta_deg = ds.two_theta_deg.copy()
            self.attrs = dict(ds.attrs)
            self.split_rows = {s: ds.indices(s, config.split_kind, config.include_sources)
                               for s in ("train", "val", "test")}
            self._formula, self._space_group, self._crystal_system = ds.formula, ds.space_group, ds.crystal_system
            self._source = ds.source
            self._structure_index = ds.structure_index
            self.block_rows = ds.patterns.chunks[0] if ds.patterns.chunks else h5io.pattern_chunk_rows(
                ds.n_points, ds.patterns.dtype.itemsize)
        if config.max_train and len(self.split_rows["train"]) > config.max_train:
            rng = np.random.default_rng(config.seed)
            keep = np.sort(rng.choice(len(self.split_rows["train"]), config.max_train, replace=False))
            self.split_rows["train"] = self.split_rows["train"][keep]
        if len(self.split_rows["train"]) == 0:
            raise ValueError(f"{self.path}: the {config.split_kind} split has no training patterns")
        self._datasets: dict[str, PatternRows] = {}
        self._renderer = None

    def train_weights(self) -> np.ndarray | None:
        """Sampling probabilities ``[n_train]`` of the training patterns, or None for plain shuffling."""
        if self.config.sample_weights == "none" and not self.config.source_weights and not self.config.fresh:
            return None
        structure = self._structure_index[self.split_rows["train"]]
        weight = sample_weights(self.config.sample_weights, [self._formula[i] for i in structure],
                                self._space_group[structure], self._crystal_system[structure])
        return apply_source_weights(weight, [self._source[i] for i in structure], self.config.source_weights)

    def _data(self, split: str):
        if split not in self._datasets and self.config.fresh and split == "train":
            from xrdnet.data.fresh import FreshPatternRows

            with PatternDataset(self.path) as ds:
                profile = training_simulator_config(ds, self.config).profile
            self._datasets[split] = FreshPatternRows(self.path, self.split_rows[split], profile, self.config.coverage,
                                                     seed=int(self.attrs.get("seed", 0)) + 1_000_003 * (self.config.seed + 1))
        if split not in self._datasets:
            patterns = not (self.config.on_the_fly and split == "train")
            self._datasets[split] = PatternRows(self.path, self.split_rows[split], self.config.in_memory, patterns)
        return self._datasets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        data = self._data(split)
        trainer = getattr(self, "trainer", None)
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        fresh = self.config.fresh and split == "train"
        block = 1 if (self.config.in_memory or fresh or (self.config.on_the_fly and split == "train")) else self.block_rows
        sampler = BlockShuffleBatchSampler(
            data.rows, block, self.config.batch_size, shuffle, self.config.seed, self.config.window_blocks,
            rank, world, drop_last=shuffle and len(data) > self.config.batch_size,
            weights=self.train_weights() if (shuffle and split == "train") else None,
            epoch_size=self.config.epoch_size if split == "train" else 0, draw_ids=fresh,
        )
        workers = 0 if (self.config.fresh and split != "train") else self.config.num_workers
        from xrdnet.data.fresh import single_thread_worker

        return DataLoader(data, batch_sampler=sampler, collate_fn=_identity, num_workers=workers,
                          persistent_workers=workers > 0, worker_init_fn=single_thread_worker if fresh else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        """Render on-the-fly training batches on the device they were moved to."""
        if "pattern" not in batch:
            epoch = self.trainer.current_epoch if getattr(self, "trainer", None) is not None else 0
            batch["pattern"] = self.renderer().render(batch["structure_row"], batch["pattern_id"], epoch)
        return batch

    def renderer(self) -> "OnTheFlyRenderer":
        if self._renderer is None:
            self._renderer = OnTheFlyRenderer(self.path, self.config)
        return self._renderer


class OnTheFlyRenderer:
    """Fresh patterns of stored structures: ``render(structure_rows, pattern_ids, epoch) -> [B, G]``.

    Uses the data set's simulator settings (grid, wavelength, profile ranges; or the profile of
    ``config.on_the_fly_profile``) on the device of ``structure_rows``. The seed mixes the data
    set's seed and the epoch, so every epoch draws new profile parameters for every pattern.
    """

    def __init__(self, path: str | Path, config: DataConfig) -> None:
        with PatternDataset(path) as ds:
            self.records = ds.records()
            self.base_seed = int(ds.attrs.get("seed", 0))
            self.sim_config = training_simulator_config(ds, config)
        self._sims: dict[str, object] = {}

    def render(self, structure_rows: torch.Tensor, pattern_ids: torch.Tensor, epoch: int) -> torch.Tensor:
        from xrdnet.simulate import XRDSimulator

        device = structure_rows.device
        key = str(device)
        if key not in self._sims:
            self._sims[key] = XRDSimulator.from_config(self.sim_config, device=device)
        batch = self.records.select(structure_rows.cpu().numpy()).to_batch()
        # A fresh seed per epoch (and never the seed the stored patterns were made with).
        seed = (self.base_seed * 1_000_003 + 7919 * (epoch + 1)) % (1 << 62)
        return self._sims[key].patterns(batch, seed=seed, pattern_ids=pattern_ids.cpu())

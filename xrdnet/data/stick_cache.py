"""Every structure's sticks, computed once and kept beside its data set, so training renders new patterns.

Rendering a profile from sticks costs a few per cent of what the sticks themselves cost (enumerating
reflections and summing structure factors), so a data set's sticks are computed once, in
structure order, and stored in ``<data>.sticks.h5`` next to ``<data>.h5``. Training then draws a fresh
profile for every presentation from them (``xrdnet.data.fresh``).

Layout (ragged per structure, as ``/sites`` in the data set itself):

| path | shape, dtype | meaning |
|---|---|---|
| ``/reflection_start``, ``/reflection_count`` | ``[S]`` int64 | structure s owns reflections start..start+count |
| ``/reflection/hkl`` | ``[R, 3]`` int16 | unmerged half-space reflections (texture needs each one's direction) |
| ``/reflection/intensity`` | ``[R]`` float32 | on the merged peaks' 0..100 scale |
| ``/reflection/peak`` | ``[R]`` int32 | the structure's merged peak each reflection belongs to |
| ``/peak_start``, ``/peak_count`` | ``[S]`` int64 | structure s owns peaks start..start+count |
| ``/peak/two_theta_deg`` | ``[M]`` float64 | merged peak positions at the stick wavelength |
| ``/peak/intensity`` | ``[M]`` float32 | strongest = 100 |
| ``/peak/hkl`` | ``[M, 3]`` int16 | pymatgen's label of each peak |
| ``/lattice`` | ``[S, 3, 3]`` float64 | Å, rows a, b, c |
| ``/conventional/transform`` | ``[S, 3, 3]`` float64 | stored cell -> conventional cell (optional: added on first use by ``add_conventional_cells``) |
| ``/conventional/valid``, ``/conventional/crystal_system`` | ``[S]`` bool, int8 | spglib agreed with the label; the label's system |
| attributes | | ``stick_wavelength_angstrom``, ``two_theta_range_deg``, ``data_key`` |

``data_key`` ties the cache to its data set (structure count, seed and a digest of the resolved
config): a cache of another file, or of an earlier version of the same file, is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from xrdnet.simulate.sticks import Sticks

CACHE_SUFFIX = ".sticks.h5"
CACHE_VERSION = 1
STRUCTURES_PER_BLOCK = 1024  # structures read, simulated and appended at a time (bounded memory)


def cache_path(data_path: str | Path) -> Path:
    """``data/real.h5`` -> ``data/real.sticks.h5``."""
    data_path = Path(data_path)
    return data_path.with_name(data_path.name[: -len(data_path.suffix)] + CACHE_SUFFIX if data_path.suffix
                               else data_path.name + CACHE_SUFFIX)


def data_key(attrs: dict, n_structures: int) -> str:
    """What identifies a data set's structures and simulator: count, seed and the resolved config."""
    config = attrs.get("config", "")
    if not isinstance(config, str):
        config = json.dumps(config, sort_keys=True, default=str)
    digest = hashlib.sha256(config.encode()).hexdigest()[:16]
    return f"v{CACHE_VERSION}:{n_structures}:{attrs.get('seed', '')}:{digest}"


def build_stick_cache(data_path: str | Path, out: str | Path | None = None, progress: bool = True) -> Path:
    """Compute every structure's sticks of ``data_path`` into ``out`` (default ``cache_path``); returns ``out``.

    Written to ``out.tmp`` and renamed, so a killed build never leaves a cache that looks complete.
    """
    import h5py
    from tqdm.auto import tqdm

    from xrdnet.data.reader import PatternDataset
    from xrdnet.simulate import XRDSimulator
    from xrdnet.simulate.reflections import g_limits

    out = Path(out) if out is not None else cache_path(data_path)
    tmp = out.with_name(out.name + ".tmp")
    with PatternDataset(data_path) as ds:
        sim = XRDSimulator.from_config(ds.simulator_config())
        lam = sim._stick_wavelength()
        _, g_max = g_limits(sim.two_theta_range, lam)
        n = ds.n_structures
        key = data_key(ds.attrs, n)
        with h5py.File(tmp, "w") as h5:
            h5.attrs.update({"stick_wavelength_angstrom": lam, "two_theta_range_deg": list(sim.two_theta_range),
                             "data_key": key, "cache_version": CACHE_VERSION, "data_file": Path(data_path).name})
            refl = {"hkl": h5.create_dataset("reflection/hkl", (0, 3), np.int16, maxshape=(None, 3), chunks=(65536, 3)),
                    "intensity": h5.create_dataset("reflection/intensity", (0,), np.float32, maxshape=(None,),
                                                   chunks=(65536,)),
                    "peak": h5.create_dataset("reflection/peak", (0,), np.int32, maxshape=(None,), chunks=(65536,))}
            peak = {"two_theta_deg": h5.create_dataset("peak/two_theta_deg", (0,), np.float64, maxshape=(None,),
                                                       chunks=(16384,)),
                    "intensity": h5.create_dataset("peak/intensity", (0,), np.float32, maxshape=(None,),
                                                   chunks=(16384,)),
                    "hkl": h5.create_dataset("peak/hkl", (0, 3), np.int16, maxshape=(None, 3), chunks=(16384, 3))}
            refl_count = np.zeros(n, np.int64)
            peak_count = np.zeros(n, np.int64)
            lattice = np.zeros((n, 3, 3), np.float64)
            bar = tqdm(total=n, desc=f"sticks {out.name}", unit="struct", disable=not progress)
            for start in range(0, n, STRUCTURES_PER_BLOCK):
                rows = np.arange(start, min(n, start + STRUCTURES_PER_BLOCK))
                batch = ds.records(rows).to_batch()
                lattice[rows] = batch.lattice.numpy()
                parts: list[tuple[int, dict, dict]] = []
                for idx in sim._structure_chunks(batch, g_max):
                    sticks = sim.sticks(batch[idx], wavelength_angstrom=lam)
                    for local, item in zip(idx.tolist(), _unpad(sticks)):
                        parts.append((local, *item))
                parts.sort(key=lambda p: p[0])
                for name in refl:
                    _append(refl[name], np.concatenate([p[1][name] for p in parts]))
                for name in peak:
                    _append(peak[name], np.concatenate([p[2][name] for p in parts]))
                refl_count[rows] = [len(p[1]["peak"]) for p in parts]
                peak_count[rows] = [len(p[2]["intensity"]) for p in parts]
                bar.update(len(rows))
            bar.close()
            h5["reflection_count"] = refl_count
            h5["reflection_start"] = np.concatenate([[0], np.cumsum(refl_count)[:-1]]).astype(np.int64)
            h5["peak_count"] = peak_count
            h5["peak_start"] = np.concatenate([[0], np.cumsum(peak_count)[:-1]]).astype(np.int64)
            h5["lattice"] = lattice
            h5.flush()
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
    os.replace(tmp, out)
    return out


def add_conventional_cells(data_path: str | Path, progress: bool = True) -> Path:
    """Add ``/conventional`` (every structure's conventional cell, by spglib) to the cache of ``data_path``
    when it lacks it; returns the cache path. A few ms per structure, once; the sticks are untouched."""
    import h5py

    from xrdnet.data.reader import PatternDataset
    from xrdnet.simulate.lattice_perturbation import conventional_cells_of

    path = cache_path(data_path)
    if not path.is_file():
        StickCache.for_dataset(data_path, progress=progress)
    with h5py.File(path, "r") as h5:
        if "conventional" in h5:
            return path
    with PatternDataset(data_path) as ds:
        transform, valid, system = conventional_cells_of(ds.records(np.arange(ds.n_structures)), progress=progress)
    with h5py.File(path, "a") as h5:
        group = h5.create_group("conventional.tmp")
        group["transform"], group["valid"], group["crystal_system"] = transform, valid, system
        h5.move("conventional.tmp", "conventional")  # a killed write leaves no /conventional that looks complete
    return path


def _padded_positions(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the ragged entries ``start[b] .. start[b] + count[b]`` of B structures go in a padded ``[B, max]``
    array: ``(row [E], column [E], flat source index [E])`` for the E entries."""
    row = np.repeat(np.arange(len(count)), count)
    col = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    return row, col, np.repeat(start, count) + col


def _append(dataset, values: np.ndarray) -> None:
    old = dataset.shape[0]
    dataset.resize(old + len(values), axis=0)
    dataset[old:] = values


def _unpad(sticks: Sticks):
    """Per structure ``(reflections, peaks)`` dicts of numpy arrays, live entries only, peaks renumbered."""
    mask = sticks.mask.cpu().numpy()
    peak_mask = sticks.peak_mask.cpu().numpy()
    hkl = sticks.hkl.cpu().numpy()
    inten = sticks.intensity.cpu().numpy()
    index = sticks.peak_index.cpu().numpy()
    ptt = sticks.peak_two_theta_deg.cpu().numpy()
    pint = sticks.peak_intensity.cpu().numpy()
    phkl = sticks.peak_hkl.cpu().numpy()
    for b in range(len(mask)):
        renumber = np.cumsum(peak_mask[b]) - 1  # kept peaks are numbered 0..M_b-1 in order
        live = mask[b] & (index[b] >= 0)
        live[live] = peak_mask[b][index[b][live]]
        yield ({"hkl": hkl[b][live].astype(np.int16), "intensity": inten[b][live].astype(np.float32),
                "peak": renumber[index[b][live]].astype(np.int32)},
               {"two_theta_deg": ptt[b][peak_mask[b]], "intensity": pint[b][peak_mask[b]].astype(np.float32),
                "hkl": phkl[b][peak_mask[b]].astype(np.int16)})


@dataclass
class StickCache:
    """A stick cache read into memory (numpy); ``sticks(rows)`` gives the padded ``Sticks`` and lattices.

    Read whole: 42k real structures hold about 20 M reflections (≈ 0.3 GB). DataLoader workers
    share the arrays with the parent process copy-on-write.
    """

    reflection_start: np.ndarray
    reflection_count: np.ndarray
    reflection_hkl: np.ndarray
    reflection_intensity: np.ndarray
    reflection_peak: np.ndarray
    peak_start: np.ndarray
    peak_count: np.ndarray
    peak_two_theta_deg: np.ndarray
    peak_intensity: np.ndarray
    peak_hkl: np.ndarray
    lattice: np.ndarray
    stick_wavelength_angstrom: float
    data_key: str
    conventional_transform: np.ndarray | None = None  # [S, 3, 3] (see the module docstring)
    conventional_valid: np.ndarray | None = None  # [S] bool
    conventional_crystal_system: np.ndarray | None = None  # [S] int8

    @classmethod
    def load(cls, path: str | Path) -> "StickCache":
        import h5py

        path = Path(path)
        try:
            with h5py.File(path, "r") as h5:
                return cls(
                    reflection_start=h5["reflection_start"][()], reflection_count=h5["reflection_count"][()],
                    reflection_hkl=h5["reflection/hkl"][()], reflection_intensity=h5["reflection/intensity"][()],
                    reflection_peak=h5["reflection/peak"][()], peak_start=h5["peak_start"][()],
                    peak_count=h5["peak_count"][()], peak_two_theta_deg=h5["peak/two_theta_deg"][()],
                    peak_intensity=h5["peak/intensity"][()], peak_hkl=h5["peak/hkl"][()],
                    lattice=h5["lattice"][()], stick_wavelength_angstrom=float(h5.attrs["stick_wavelength_angstrom"]),
                    data_key=str(h5.attrs["data_key"]),
                    **({"conventional_transform": h5["conventional/transform"][()],
                        "conventional_valid": h5["conventional/valid"][()],
                        "conventional_crystal_system": h5["conventional/crystal_system"][()]}
                       if "conventional" in h5 else {}))
        except (OSError, KeyError) as exc:
            raise ValueError(f"{path}: not a readable stick cache ({exc}); delete it to rebuild") from None

    @classmethod
    def for_dataset(cls, data_path: str | Path, progress: bool = True) -> "StickCache":
        """The cache beside ``data_path``, built first when it is missing or belongs to other data."""
        from xrdnet.data.reader import PatternDataset

        path = cache_path(data_path)
        with PatternDataset(data_path) as ds:
            key = data_key(ds.attrs, ds.n_structures)
        if path.is_file():
            cache = cls.load(path)
            if cache.data_key == key:
                return cache
            print(f"{path}: stick cache of other data ({cache.data_key} != {key}); rebuilding")
        build_stick_cache(data_path, path, progress=progress)
        return cls.load(path)

    def __len__(self) -> int:
        return len(self.peak_count)

    def cells(self, rows: np.ndarray):
        """``ConventionalCells`` of structures ``rows [B]`` (what the anisotropic strain needs)."""
        from xrdnet.simulate.lattice_perturbation import ConventionalCells

        if self.conventional_transform is None:
            raise ValueError("this stick cache holds no conventional cells: build them with "
                             "xrdnet.data.stick_cache.add_conventional_cells(data_path)")
        rows = np.asarray(rows, np.int64)
        t = torch.from_numpy
        return ConventionalCells(t(np.ascontiguousarray(self.conventional_transform[rows])),
                                 t(self.conventional_crystal_system[rows].astype(np.int64)),
                                 t(self.conventional_valid[rows]))

    def sticks(self, rows: np.ndarray) -> tuple[Sticks, torch.Tensor]:
        """Padded ``Sticks`` of structures ``rows [B]`` and their lattices ``[B, 3, 3]`` (CPU tensors)."""
        rows = np.asarray(rows, np.int64)
        b = len(rows)
        n_refl, n_peak = self.reflection_count[rows], self.peak_count[rows]
        h, m = max(int(n_refl.max()) if b else 0, 1), max(int(n_peak.max()) if b else 0, 1)
        r_owner, r_col, r_src = _padded_positions(self.reflection_start[rows], n_refl)
        p_owner, p_col, p_src = _padded_positions(self.peak_start[rows], n_peak)

        hkl = np.zeros((b, h, 3), np.int64)
        intensity = np.zeros((b, h), np.float64)
        mask = np.zeros((b, h), bool)
        peak_index = np.full((b, h), -1, np.int64)
        hkl[r_owner, r_col] = self.reflection_hkl[r_src]
        intensity[r_owner, r_col] = self.reflection_intensity[r_src]
        mask[r_owner, r_col] = True
        peak_index[r_owner, r_col] = self.reflection_peak[r_src]
        ptt = np.zeros((b, m), np.float64)
        pint = np.zeros((b, m), np.float64)
        phkl = np.zeros((b, m, 3), np.int64)
        pmask = np.zeros((b, m), bool)
        ptt[p_owner, p_col] = self.peak_two_theta_deg[p_src]
        pint[p_owner, p_col] = self.peak_intensity[p_src]
        phkl[p_owner, p_col] = self.peak_hkl[p_src]
        pmask[p_owner, p_col] = True
        lam = self.stick_wavelength_angstrom
        d = np.where(pmask, lam / (2.0 * np.sin(np.deg2rad(np.where(pmask, ptt, 90.0) / 2.0))), 0.0)
        two_theta = np.take_along_axis(ptt, peak_index.clip(min=0), axis=1) * mask
        t = torch.from_numpy
        sticks = Sticks(hkl=t(hkl), two_theta_deg=t(two_theta), intensity=t(intensity), mask=t(mask),
                        peak_index=t(peak_index), peak_two_theta_deg=t(ptt), peak_intensity=t(pint),
                        peak_d_angstrom=t(d), peak_hkl=t(phkl), peak_mask=t(pmask))
        return sticks, torch.from_numpy(np.ascontiguousarray(self.lattice[rows]))

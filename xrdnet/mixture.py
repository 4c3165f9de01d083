"""Likely-mixture detector: is a pattern one phase, or two or three phases in similar amounts?

The symmetry CNN answers one crystal system for anything it is given; a sample made of two or three
phases gets a confident, meaningless answer. This module flags such patterns before the answer is
trusted: a small binary 1D CNN trained on **simulated mixtures of real structures**.

Training material. The recipe ``configs/mixture.yaml`` (``MixtureRecipe``) renders specimens per batch from
the data set's cached sticks through the simulator's own renderer (``xrdnet.data.specimen_batches``,
``xrdnet.simulate.mixtures``). The detector shipped until now was trained on ``StickBatches`` (below): the stick
patterns (d, relative intensity) of training-split structures (a random 10,000 of them) are computed once by
xrdnet's simulator (``StickBank``); every batch then renders fresh samples (``render_from_sticks``):
half of them mixtures of 2 (60 %) or 3 (40 %) *different compounds* with Dirichlet(2) fractions, every
fraction ≥ ``min_fraction``, half single phases, all through the same steps. One instrument per sample
(pseudo-Voigt η, Caglioti U, V, W, Kα doublet, zero shift, displacement shared by its phases), lattice
strain and per-peak intensity errors per phase, crystallite size varied per phase, one detection limit,
impurity lines, background and counting noise per sample (ranges of the ``real`` profile preset). A fraction
is the height of a phase's strongest stick in the mix, a proxy for its amount (weight fractions differ
from intensity fractions by the phases' reference intensity ratios, which the Dirichlet's spread covers).

Why not simply add the data set's finished patterns (``make_mixtures``, kept as a test and an
alternative)? Each finished pattern carries its own instrument (zero shift, widths) and background,
so such mixtures differ from single phases in ways a real sample does not (two zero shifts, averaged
noise), and a detector trained on them learns those instead: measured on samples rendered with one
instrument per sample it caught 62 % of mixtures instead of 97 % (see the model card).
``make_mixtures`` adds 2-3 finished patterns (max = 1 each) with the fractions and rescales the sum to
max = 1 as the simulator scales a single pattern; the mix's background is the fraction-weighted mean of
the phases' backgrounds and its relative noise about ``sqrt(Σ f²)`` of a single pattern's.

Detector (``MixtureNet``). √I of the pattern max-pooled by ``pool`` (8 → 0.08° per position on the
default grid), five conv → BatchNorm → GELU → max-pool blocks, a few position bins plus a global max,
one logit. Inputs are exactly what ``xrdnet predict`` feeds the symmetry CNN (``[B, G]`` on the model
grid, max = 1). Training also truncates the 2θ range of some samples of both classes (zero outside,
renormalised, as ``to_model_grid`` leaves a file that covers less than the grid). The decision threshold
is chosen on simulated validation compounds for a false-positive rate of ``target_fpr`` (10 %) on
single-phase patterns; it is stored with the weights.

Files (``save``): ``<checkpoint>/mixture/detector.pt`` (state dict, tensors only) and
``detector.json`` (architecture, threshold, training record, measured figures).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from xrdnet.simulate.profile_presets import REAL as _REAL

WEIGHTS_FILE = "detector.pt"
META_FILE = "detector.json"
SUBDIR = "mixture"


# --------------------------------------------------------------------------- mixtures


@dataclass
class Mixtures:
    """``n`` mixed patterns and how they were made.

    ``patterns [n, G]`` float32 (each row max = 1); ``members [n, 3]`` rows of the input patterns
    (-1 where a mixture has two phases); ``fractions [n, 3]`` (sum 1 per row, 0 for absent phases);
    ``n_phases [n]``.
    """

    patterns: np.ndarray
    members: np.ndarray
    fractions: np.ndarray
    n_phases: np.ndarray


def draw_fractions(rng: np.random.Generator, n: int, k: int, min_fraction: float, alpha: float = 2.0) -> np.ndarray:
    """``[n, k]`` fractions from Dirichlet(alpha, ..., alpha), each ≥ ``min_fraction`` (rejection)."""
    if not 0 <= min_fraction * k < 1:
        raise ValueError(f"min_fraction {min_fraction} is impossible for {k} phases")
    out = np.empty((n, k))
    filled = 0
    while filled < n:
        draw = rng.dirichlet(np.full(k, alpha), size=max(16, 2 * (n - filled)))
        draw = draw[draw.min(axis=1) >= min_fraction][: n - filled]
        out[filled : filled + len(draw)] = draw
        filled += len(draw)
    return out


def draw_members(rng: np.random.Generator, compound: np.ndarray, n: int, k: int) -> np.ndarray:
    """``[n, k]`` rows of distinct compounds (``compound[row]`` all different within a mixture)."""
    compound = np.asarray(compound)
    if len(np.unique(compound)) < k:
        raise ValueError(f"need at least {k} different compounds to mix {k} phases")
    members = rng.integers(0, len(compound), size=(n, k))
    for j in range(1, k):
        while True:
            clash = np.zeros(n, dtype=bool)
            for i in range(j):
                clash |= compound[members[:, j]] == compound[members[:, i]]
            if not clash.any():
                break
            members[clash, j] = rng.integers(0, len(compound), size=int(clash.sum()))
    return members


def make_mixtures(patterns: np.ndarray, compound: Sequence, n: int, seed: int,
                  phase_probabilities: Sequence[float] = (0.6, 0.4), min_fraction: float = 0.2,
                  alpha: float = 2.0) -> Mixtures:
    """``n`` mixtures of 2 or 3 rows of ``patterns [N, G]`` (see the module docstring).

    ``compound [N]``: a compound key per row (any hashable, e.g. reduced formula or its index);
    phases of one mixture are different compounds. ``phase_probabilities``: probabilities of 2 and
    3 phases. ``min_fraction``: every phase's fraction is at least this. Same inputs and ``seed`` →
    the same mixtures.
    """
    patterns = np.asarray(patterns)
    if patterns.ndim != 2:
        raise ValueError(f"patterns must be [N, G], got shape {patterns.shape}")
    _, compound_ids = np.unique(np.asarray(compound), return_inverse=True)
    if len(compound_ids) != len(patterns):
        raise ValueError("compound needs one entry per pattern row")
    probs = np.asarray(phase_probabilities, dtype=np.float64)
    if len(probs) != 2 or probs.min() < 0 or not math.isclose(probs.sum(), 1.0, abs_tol=1e-9):
        raise ValueError("phase_probabilities are the probabilities of 2 and 3 phases (sum 1)")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6D1C]))
    n_phases = np.where(rng.random(n) < probs[0], 2, 3)
    members = np.full((n, 3), -1, dtype=np.int64)
    fractions = np.zeros((n, 3), dtype=np.float64)
    for k in (2, 3):
        rows = np.flatnonzero(n_phases == k)
        if len(rows):
            members[rows, :k] = draw_members(rng, compound_ids, len(rows), k)
            fractions[rows, :k] = draw_fractions(rng, len(rows), k, min_fraction, alpha)
    mixed = np.zeros((n, patterns.shape[1]), dtype=np.float32)
    for j in range(3):
        used = members[:, j] >= 0
        if used.any():
            mixed[used] += fractions[used, j, None].astype(np.float32) * patterns[members[used, j]].astype(np.float32)
    peak = mixed.max(axis=1, keepdims=True)
    mixed /= np.where(peak > 0, peak, 1.0)
    return Mixtures(mixed, members, fractions, n_phases)


@dataclass
class StickBank:
    """Stick patterns (d-spacings, relative intensities) of N structures, ragged: the training material.

    ``d_angstrom [T]``, ``intensity [T]`` (strongest of each structure = 1), ``offsets [N+1]`` (structure i
    owns entries ``offsets[i]:offsets[i+1]``), ``compound [N]`` (a compound id per structure).
    """

    d_angstrom: np.ndarray
    intensity: np.ndarray
    offsets: np.ndarray
    compound: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_batch(cls, batch, compound: Sequence, max_peaks: int = 400, min_intensity: float = 1e-3,
                   chunk: int = 1024, two_theta_range=(5.0, 90.0), wavelength: str = "CuKa") -> "StickBank":
        """Sticks of a ``StructureBatch`` (or pymatgen structures) by xrdnet's simulator, strongest ``max_peaks`` each."""
        from xrdnet.simulate import XRDSimulator
        from xrdnet.simulate.simulator import as_batch

        batch = as_batch(batch)
        sim = XRDSimulator(wavelength=wavelength, two_theta_range=two_theta_range)
        ds, ins, offsets = [], [], [0]
        for start in range(0, len(batch), chunk):
            for peaks in sim.peaks(batch[_arange(start, min(len(batch), start + chunk))]):
                inten = np.asarray(peaks.intensity, np.float64) / 100.0
                keep = np.flatnonzero(inten >= min_intensity)
                if len(keep) > max_peaks:
                    keep = np.sort(keep[np.argsort(-inten[keep])[:max_peaks]])
                ds.append(np.asarray(peaks.d_angstrom, np.float64)[keep])
                ins.append(inten[keep].astype(np.float32))
                offsets.append(offsets[-1] + len(keep))
        return cls(np.concatenate(ds) if ds else np.zeros(0), np.concatenate(ins) if ins else np.zeros(0, np.float32),
                   np.asarray(offsets, np.int64), np.asarray(compound))

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, d_angstrom=self.d_angstrom, intensity=self.intensity, offsets=self.offsets,
                            compound=self.compound)

    @classmethod
    def load(cls, path: str | Path) -> "StickBank":
        z = np.load(path, allow_pickle=False)
        return cls(z["d_angstrom"], z["intensity"], z["offsets"], z["compound"])


def _arange(start: int, stop: int):
    import torch

    return torch.arange(start, stop)


@dataclass(frozen=True)
class RenderConfig:
    """Ranges of ``render_from_sticks``: the instrument is drawn once per *sample* (all its phases share it).

    The instrument and real-sample ranges are the ``real`` preset's (``xrdnet.simulate.profile_presets``);
    crystallite size is drawn per sample and varied per phase by a factor ``exp(±size_spread)``, lattice
    strain per phase. No preferred orientation (the sticks carry no hkl); per-peak log-normal intensity
    errors stand in for it.
    """

    two_theta_range: tuple[float, float] = (5.0, 90.0)
    step: float = 0.01
    kalpha1_angstrom: float = 1.54056
    kalpha2_angstrom: float = 1.54439
    kalpha2_ratio: tuple[float, float] = _REAL.kalpha2_ratio
    eta: tuple[float, float] = _REAL.eta
    u: tuple[float, float] = _REAL.caglioti_u_deg2
    v: tuple[float, float] = _REAL.caglioti_v_deg2
    w: tuple[float, float] = _REAL.caglioti_w_deg2
    size_nm: tuple[float, float] = _REAL.crystallite_size_nm
    size_spread: float = 0.5
    zero_shift_deg: tuple[float, float] = _REAL.zero_shift_deg
    displacement_mm: tuple[float, float] = _REAL.sample_displacement_mm
    goniometer_radius_mm: float = _REAL.goniometer_radius_mm
    strain: tuple[float, float] = _REAL.lattice_strain
    intensity_sigma: tuple[float, float] = _REAL.intensity_sigma
    detection_limit: tuple[float, float] = _REAL.detection_limit
    impurity_peaks: int = _REAL.impurity_peaks
    impurity_level: tuple[float, float] = _REAL.impurity_level
    background_level: tuple[float, float] = _REAL.background_level
    # log10 of the real preset's peak_counts (500-50 000), rounded as the shipped detector was trained
    log10_counts: tuple[float, float] = (2.7, 4.7)


def render_from_sticks(bank: StickBank, members: np.ndarray, fractions: np.ndarray, seed: int,
                       config: RenderConfig = RenderConfig()) -> np.ndarray:
    """Render samples of one or more phases from a ``StickBank``: ``[n, G]`` float32, each row max = 1.

    Sample ``m`` holds structures ``members[m, j]`` (-1 = absent) in amounts ``fractions[m, j]`` (each
    phase's strongest stick scaled to its fraction). One instrument per sample: pseudo-Voigt η, Caglioti
    U, V, W, Kα1/Kα2 doublet, zero shift and sample displacement are shared by all its phases;
    crystallite size varies a little per phase, lattice strain and per-peak intensity errors per phase;
    one detection limit, 0..``impurity_peaks`` impurity lines, one smooth background and counting noise
    per sample. Single phases (one member) go through exactly the same steps, so nothing but the
    phases themselves tells a mixture from a single phase. Pure function of its arguments.
    """
    import torch

    from xrdnet.simulate.profiles import render_peaks

    c = config
    members = np.asarray(members)
    fractions = np.asarray(fractions, np.float64)
    n = len(members)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x57]))
    lo, hi = c.two_theta_range
    n_points = int(round((hi - lo) / c.step)) + 1

    def u(r, size=None):
        return rng.uniform(r[0], r[1], size)

    eta, uu, vv, ww = u(c.eta, n), u(c.u, n), u(c.v, n), u(c.w, n)
    size = np.exp(u(np.log(c.size_nm), n))
    ratio2, zero, disp = u(c.kalpha2_ratio, n), u(c.zero_shift_deg, n), u(c.displacement_mm, n)
    centers, areas, widths = [], [], []
    for m in range(n):
        d_all, i_all = [], []
        for j in range(members.shape[1]):
            s = int(members[m, j])
            if s < 0:
                continue
            a, b = bank.offsets[s], bank.offsets[s + 1]
            d = bank.d_angstrom[a:b] * (1.0 + u(c.strain))
            inten = bank.intensity[a:b].astype(np.float64) * np.exp(u(c.intensity_sigma) * rng.standard_normal(b - a))
            inten = inten / max(inten.max(), 1e-12) * fractions[m, j] if b > a else inten
            d_all.append(d)
            i_all.append(inten)
        d = np.concatenate(d_all) if d_all else np.zeros(0)
        inten = np.concatenate(i_all) if i_all else np.zeros(0)
        phase_size = np.concatenate([np.full(len(x), size[m] * math.exp(u((-c.size_spread, c.size_spread))))
                                     for x in d_all]) if d_all else np.zeros(0)
        if len(inten):
            keep = inten >= u(c.detection_limit) * inten.max()
            d, inten, phase_size = d[keep], inten[keep], phase_size[keep]
        n_imp = int(rng.integers(0, c.impurity_peaks + 1)) if c.impurity_peaks else 0
        if n_imp:
            tt_imp = u((lo, hi), n_imp)
            d = np.r_[d, c.kalpha1_angstrom / (2 * np.sin(np.deg2rad(tt_imp / 2)))]
            inten = np.r_[inten, u(c.impurity_level, n_imp) * (inten.max() if len(inten) else 1.0)]
            phase_size = np.r_[phase_size, np.full(n_imp, size[m])]
        tt, area, fw = [], [], []
        for lam, scale in ((c.kalpha1_angstrom, 1.0), (c.kalpha2_angstrom, ratio2[m])):
            sin = lam / (2.0 * d)
            ok = sin < 1.0
            two_theta = 2.0 * np.rad2deg(np.arcsin(sin[ok]))
            theta = np.deg2rad(two_theta / 2.0)
            tan = np.tan(theta)
            cag = np.clip(uu[m] * tan * tan + vv[m] * tan + ww[m], 0.0, None)
            scherrer = np.rad2deg(0.9 * lam / (10.0 * phase_size[ok] * np.cos(theta)))
            shift = zero[m] + np.rad2deg(-2.0 * disp[m] * np.cos(theta) / c.goniometer_radius_mm)
            tt.append(two_theta + shift)
            area.append(inten[ok] * scale)
            fw.append(np.maximum(np.sqrt(cag + scherrer ** 2), 1e-3))
        centers.append(np.concatenate(tt))
        areas.append(np.concatenate(area))
        widths.append(np.concatenate(fw))
    width = max(1, max(len(x) for x in centers))
    center_t = np.zeros((n, width))
    area_t = np.zeros((n, width), np.float32)
    fwhm_t = np.ones((n, width), np.float32)
    for m in range(n):
        k = len(centers[m])
        center_t[m, :k], area_t[m, :k], fwhm_t[m, :k] = centers[m], areas[m], widths[m]
    area_t[(center_t < lo - 2) | (center_t > hi + 2)] = 0.0
    pattern = render_peaks(torch.from_numpy(center_t), torch.from_numpy(fwhm_t), torch.from_numpy(area_t),
                           torch.from_numpy(eta.astype(np.float32)), float(lo), float(c.step), n_points,
                           10.0, 1 << 22).numpy().astype(np.float64)
    x = np.linspace(-1.0, 1.0, n_points)
    for m in range(n):
        peak = pattern[m].max()
        if peak <= 0:
            continue
        coeff = rng.uniform(-1, 1, 4) / np.arange(1, 5)
        shape = np.polynomial.chebyshev.chebval(x, np.r_[1.0, coeff[1:]]) + u((0.0, 1.0)) * np.exp(-(x + 1) * 4)
        shape = np.clip(shape - shape.min(), 0, None)
        shape /= max(shape.max(), 1e-12)
        signal = pattern[m] / peak + u(c.background_level) * shape
        counts = 10.0 ** u(c.log10_counts)
        lam_counts = signal / signal.max() * counts
        noisy = np.clip(lam_counts + np.sqrt(lam_counts) * rng.standard_normal(n_points), 0.0, None)
        pattern[m] = noisy / max(noisy.max(), 1e-12)
    return pattern.astype(np.float32)


def draw_samples(rng: np.random.Generator, compound: np.ndarray, n_mix: int, n_single: int,
                 phase_probabilities: Sequence[float] = (0.6, 0.4), min_fraction: float = 0.2,
                 alpha: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members ``[n_mix + n_single, 3]``, fractions and labels (1 = mixture) of mixtures then single phases."""
    n = n_mix + n_single
    members = np.full((n, 3), -1, np.int64)
    fractions = np.zeros((n, 3))
    k_of = np.where(rng.random(n_mix) < phase_probabilities[0], 2, 3)
    for k in (2, 3):
        rows = np.flatnonzero(k_of == k)
        if len(rows):
            members[rows, :k] = draw_members(rng, compound, len(rows), k)
            fractions[rows, :k] = draw_fractions(rng, len(rows), k, min_fraction, alpha)
    members[n_mix:, 0] = rng.integers(0, len(compound), n_single)
    fractions[n_mix:, 0] = 1.0
    return members, fractions, (np.arange(n) < n_mix).astype(np.float32)


def render_mixtures(structures: Sequence, members: np.ndarray, fractions: np.ndarray, seed: int,
                    profile=None, background_level: tuple[float, float] = (0.02, 0.15),
                    log10_counts: tuple[float, float] = (3.0, 4.5), two_theta_range=(5.0, 90.0), step: float = 0.01,
                    wavelength: str = "CuKa") -> np.ndarray:
    """Physically mixed patterns rendered from structures: ``[n, G]`` float32, max = 1.

    An independent check of ``make_mixtures`` (which adds finished patterns): mixture ``m`` renders
    its phases ``structures[members[m, j]]`` (-1 = absent) with *one* instrument (the same profile
    draw: widths, shifts, doublet, texture strength), adds them with ``fractions[m]`` while clean,
    then adds one smooth background (``background_level`` × max) and Poisson counting noise
    (10^``log10_counts`` counts at the strongest point), as a diffractometer would see one sample.
    A row with one member is a single phase under the same treatment. ``profile`` is a
    ``ProfileConfig`` (background and noise in it are ignored; default: instrument ranges differing
    from the training set's, see the code).
    """
    import dataclasses

    from xrdnet.simulate import ProfileConfig, XRDSimulator

    if profile is None:
        profile = ProfileConfig(eta=(0.2, 0.8), caglioti_u_deg2=(0.0, 0.02), caglioti_v_deg2=(-0.006, 0.0),
                                caglioti_w_deg2=(0.001, 0.006), crystallite_size_nm=(30.0, 800.0),
                                zero_shift_deg=(-0.05, 0.05), sample_displacement_mm=(-0.1, 0.1),
                                march_dollase_r=(0.8, 1.2))
    profile = dataclasses.replace(profile, background_level=(0.0, 0.0), peak_counts=(0.0, 0.0))
    sim = XRDSimulator(wavelength=wavelength, two_theta_range=two_theta_range, step=step, profile=profile)
    members = np.asarray(members)
    fractions = np.asarray(fractions, dtype=np.float64)
    n = len(members)
    ids = np.arange(n, dtype=np.int64)
    mixed = np.zeros((n, sim.n_points), dtype=np.float64)
    for j in range(members.shape[1]):
        rows = np.flatnonzero(members[:, j] >= 0)
        if not len(rows):
            continue
        phase = sim.patterns([structures[i] for i in members[rows, j]], seed=seed, pattern_ids=ids[rows]).numpy()
        mixed[rows] += fractions[rows, j, None] * phase
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB6]))
    x = np.linspace(-1.0, 1.0, sim.n_points)
    for m in range(n):
        peak = mixed[m].max()
        if peak <= 0:
            continue
        coeff = rng.uniform(-1, 1, 4) / np.arange(1, 5)
        shape = np.polynomial.chebyshev.chebval(x, np.r_[1.0, coeff[1:]]) + 0.5 * np.exp(-(x + 1) * 3)
        shape = np.clip(shape - shape.min(), 0, None)
        shape /= max(shape.max(), 1e-12)
        signal = mixed[m] / peak + rng.uniform(*background_level) * shape
        counts = 10.0 ** rng.uniform(*log10_counts)
        noisy = rng.poisson(signal / signal.max() * counts).astype(np.float64)
        mixed[m] = noisy / max(noisy.max(), 1.0)
    return mixed.astype(np.float32)


# --------------------------------------------------------------------------- the network


def pool_patterns(patterns: np.ndarray, pool: int) -> np.ndarray:
    """``[B, G]`` → ``[B, ceil(G / pool)]`` float32: maximum of each run of ``pool`` points (peaks keep their height)."""
    x = np.asarray(patterns, dtype=np.float32)
    if pool <= 1:
        return x.copy()
    n, g = x.shape
    pad = (-g) % pool
    if pad:
        x = np.concatenate([x, np.full((n, pad), -np.inf, np.float32)], axis=1)
    return x.reshape(n, -1, pool).max(axis=2)


@dataclass(frozen=True)
class MixtureConfig:
    """Architecture and training of the detector."""

    pool: int = 8
    channels: tuple[int, ...] = (16, 24, 32, 48, 64)
    kernel_size: int = 7
    position_bins: int = 8
    hidden: int = 128
    dropout: float = 0.2
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    steps: int = 3000
    mixture_share: float = 0.5
    phase_probabilities: tuple[float, float] = (0.6, 0.4)
    min_fraction: float = 0.15  # training draws a little wider than the "similar amounts" of the tests (0.2)
    alpha: float = 2.0
    truncate_probability: float = 0.3
    noise_probability: float = 0.3
    target_fpr: float = 0.10


@dataclass(frozen=True)
class MixtureRecipe:
    """How ``scripts/train_mixture_detector.py`` trains a detector (``configs/mixture.yaml``).

    ``material``: ``specimens`` (rendered per batch from the data set's cached sticks through the
    simulator's renderer, ``xrdnet.data.specimen_batches``), ``sticks`` (the older numpy renderer of this
    module, which trained the detector shipped until 2026-12) or ``patterns`` (mixtures of finished patterns).
    ``n_eval``: simulated val/test single phases and mixtures each; ``n_bank``: structures of the ``sticks``
    material; ``independent``: mixtures rendered by ``render_mixtures`` for an independent test (0 = skip);
    ``size_spread``: the phases' crystallite sizes around the specimen's (``specimens``);
    ``time_limit_s``: a safety stop (null = none; the schedule follows ``detector.steps``).
    """

    seed: int = 0
    material: str = "specimens"
    n_eval: int = 3000
    n_bank: int = 10000
    independent: int = 300
    size_spread: float = 0.5
    threads: int = 1
    time_limit_s: float | None = None
    detector: MixtureConfig = field(default_factory=MixtureConfig)

    def __post_init__(self) -> None:
        if self.material not in ("specimens", "sticks", "patterns"):
            raise ValueError(f"material must be specimens, sticks or patterns, got {self.material!r}")


def _make_net(config: MixtureConfig):
    import torch
    from torch import nn

    class MixtureNet(nn.Module):
        """Max-pooled patterns ``[B, L]`` (max = 1) → one mixture logit per pattern."""

        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            width = 1
            for out in config.channels:
                layers += [nn.Conv1d(width, out, config.kernel_size, padding=config.kernel_size // 2, bias=False),
                           nn.BatchNorm1d(out), nn.GELU(), nn.MaxPool1d(2, ceil_mode=True)]
                width = out
            self.features = nn.Sequential(*layers)
            self.bins = nn.AdaptiveAvgPool1d(config.position_bins)
            self.head = nn.Sequential(nn.Linear(width * (config.position_bins + 1), config.hidden), nn.GELU(),
                                      nn.Dropout(config.dropout), nn.Linear(config.hidden, 1))

        def forward(self, pooled: torch.Tensor) -> torch.Tensor:
            """``pooled [B, L]``: patterns after ``pool_patterns`` (max-pooled, max = 1)."""
            x = self.features(torch.sqrt(pooled.clamp(min=0.0)).unsqueeze(1))
            x = torch.cat([self.bins(x).flatten(1), x.amax(dim=-1)], dim=1)
            return self.head(x).squeeze(-1)

    return MixtureNet()


# --------------------------------------------------------------------------- the detector


@dataclass
class MixtureDetector:
    """A trained detector: ``mixture_probability(patterns)`` and the stored ``threshold``."""

    net: object = field(repr=False)
    config: MixtureConfig
    threshold: float = 0.5
    record: dict = field(default_factory=dict)

    def mixture_probability(self, patterns: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``[B]`` probability that each pattern (``[B, G]`` float32 on the model grid, max = 1) is a mixture."""
        import torch

        x = np.asarray(patterns, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2:
            raise ValueError(f"patterns must be [B, G], got shape {x.shape}")
        n_points = self.record.get("n_points")
        if n_points and x.shape[1] != n_points:
            raise ValueError(f"patterns have {x.shape[1]} points; the detector was trained on {n_points}")
        self.net.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                pooled = pool_patterns(x[start : start + batch_size], self.config.pool)
                logits = self.net(torch.from_numpy(pooled))
                out.append(torch.sigmoid(logits).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def is_mixture(self, patterns: np.ndarray) -> np.ndarray:
        """``[B]`` bool: probability ≥ threshold."""
        return self.mixture_probability(patterns) >= self.threshold

    def save(self, directory: str | Path) -> Path:
        """Write ``detector.pt`` and ``detector.json`` into ``directory`` (created); returns it."""
        import torch

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}
        torch.save(state, directory / WEIGHTS_FILE)
        meta = {"kind": "mixture-detector", "threshold": float(self.threshold),
                "config": _config_to_dict(self.config), "record": self.record}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return directory


def _config_to_dict(config: MixtureConfig) -> dict:
    d = asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _config_from_dict(d: dict) -> MixtureConfig:
    known = {f for f in MixtureConfig.__dataclass_fields__}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known}
    return MixtureConfig(**kwargs)


def mixture_dir(checkpoint_dir: str | Path) -> Path:
    """Where a checkpoint keeps its detector: ``<checkpoint>/mixture/``."""
    return Path(checkpoint_dir) / SUBDIR


def load_mixture_detector(checkpoint_dir: str | Path) -> MixtureDetector | None:
    """The detector stored with a checkpoint (``<checkpoint>/mixture/``, or that folder itself); None if absent."""
    import torch

    checkpoint_dir = Path(checkpoint_dir)
    for directory in (mixture_dir(checkpoint_dir), checkpoint_dir):
        if (directory / META_FILE).is_file() and (directory / WEIGHTS_FILE).is_file():
            break
    else:
        return None
    meta = json.loads((directory / META_FILE).read_text())
    config = _config_from_dict(meta.get("config", {}))
    net = _make_net(config)
    net.load_state_dict(torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    net.eval()
    return MixtureDetector(net, config, float(meta["threshold"]), meta.get("record", {}))


# --------------------------------------------------------------------------- training


def augment(batch: np.ndarray, rng: np.random.Generator, config: MixtureConfig) -> np.ndarray:
    """Class-independent augmentations, in place on ``[B, G]``: truncated 2θ range, extra noise; max = 1."""
    n, g = batch.shape
    if config.noise_probability > 0:
        noisy = np.flatnonzero(rng.random(n) < config.noise_probability)
        if len(noisy):
            counts = 10.0 ** rng.uniform(2.5, 4.5, size=(len(noisy), 1))  # counts at the strongest point
            lam = np.clip(batch[noisy], 0, None) * counts
            batch[noisy] = (rng.poisson(lam) / counts).astype(np.float32)
    if config.truncate_probability > 0:
        cut = np.flatnonzero(rng.random(n) < config.truncate_probability)
        for i in cut:
            lo = int(rng.uniform(0, 0.2) * g) if rng.random() < 0.7 else 0
            hi = g - (int(rng.uniform(0, 0.35) * g) if rng.random() < 0.5 else 0)
            batch[i, :lo] = 0.0
            batch[i, hi:] = 0.0
    peak = batch.max(axis=1, keepdims=True)
    batch /= np.where(peak > 0, peak, 1.0)
    return batch


def roc_auc(scores_negative: np.ndarray, scores_positive: np.ndarray) -> float:
    """Area under the ROC curve (probability a positive scores above a negative; ties count half)."""
    neg, pos = np.asarray(scores_negative, float), np.asarray(scores_positive, float)
    if not len(neg) or not len(pos):
        return float("nan")
    allv = np.concatenate([neg, pos])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def threshold_for_fpr(scores_negative: np.ndarray, target_fpr: float) -> float:
    """Smallest threshold that flags at most ``target_fpr`` of the negatives (``score >= threshold``)."""
    neg = np.sort(np.asarray(scores_negative, float))
    if not len(neg):
        raise ValueError("need negative scores to choose a threshold")
    k = int(math.floor(target_fpr * len(neg)))  # at most k negatives may be flagged
    if k <= 0:
        return float(np.nextafter(neg[-1], np.inf))
    return float(np.nextafter(neg[len(neg) - k - 1], np.inf)) if len(neg) - k - 1 >= 0 else float(neg[0])


class PatternBatches:
    """Training batches from finished single-phase patterns: ``make_mixtures`` + single patterns, pooled."""

    def __init__(self, patterns: np.ndarray, compound: Sequence, config: MixtureConfig, seed: int,
                 already_pooled: bool = False) -> None:
        patterns = np.asarray(patterns)
        if not already_pooled:
            patterns = np.concatenate([pool_patterns(patterns[i : i + 4096], config.pool).astype(np.float16)
                                       for i in range(0, len(patterns), 4096)])
        self.patterns = patterns
        _, self.compound = np.unique(np.asarray(compound), return_inverse=True)
        self.config, self.seed = config, int(seed)
        self.description = f"{len(patterns)} finished single-phase patterns, mixed by make_mixtures"

    def __call__(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, step]))
        n_mix = int(round(c.batch_size * c.mixture_share))
        mix = make_mixtures(self.patterns, self.compound, n_mix, seed=int(rng.integers(2**31)),
                            phase_probabilities=c.phase_probabilities, min_fraction=c.min_fraction,
                            alpha=c.alpha).patterns
        singles = self.patterns[rng.integers(0, len(self.patterns), c.batch_size - n_mix)].astype(np.float32)
        target = np.r_[np.ones(n_mix), np.zeros(c.batch_size - n_mix)].astype(np.float32)
        return np.concatenate([mix, singles]), target


class StickBatches:
    """Training batches rendered from a ``StickBank``: mixtures and single phases, one instrument per sample."""

    def __init__(self, bank: StickBank, config: MixtureConfig, seed: int, render: RenderConfig = RenderConfig()) -> None:
        self.bank, self.config, self.seed, self.render = bank, config, int(seed), render
        _, self.compound = np.unique(bank.compound, return_inverse=True)
        self.description = (f"sticks of {len(bank)} structures ({len(np.unique(self.compound))} compounds), "
                            "rendered per batch by render_from_sticks")

    def __call__(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 2, step]))
        n_mix = int(round(c.batch_size * c.mixture_share))
        members, fractions, target = draw_samples(rng, self.compound, n_mix, c.batch_size - n_mix,
                                                  c.phase_probabilities, c.min_fraction, c.alpha)
        x = render_from_sticks(self.bank, members, fractions, int(rng.integers(2**31)), self.render)
        return pool_patterns(x, c.pool), target


_SOURCE = None


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _call_source(step: int):
    return _SOURCE(step)


def _prefetch(source, steps: int, depth: int = 4):
    """Batches ``source(0..steps-1)`` made in one forked process, ``depth`` ahead (a generator)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    global _SOURCE
    _SOURCE = source
    pool = ProcessPoolExecutor(1, mp_context=mp.get_context("fork"), initializer=_worker_init)
    try:
        pending = [pool.submit(_call_source, i) for i in range(min(depth, steps))]
        for step in range(steps):
            result = pending.pop(0).result()
            if step + depth < steps:
                pending.append(pool.submit(_call_source, step + depth))
            yield result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def fit(train_patterns: np.ndarray, train_compound: Sequence, val_singles: np.ndarray, val_mixtures: np.ndarray,
        config: MixtureConfig = MixtureConfig(), seed: int = 0, threads: int | None = None,
        log: Callable[[str], None] | None = print, time_limit_s: float | None = None,
        already_pooled: bool = False, batch_source: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = None,
        prefetch_process: bool = False, init: "MixtureDetector | None" = None) -> MixtureDetector:
    """Train a detector on ``train_patterns [N, G]`` (single phases; mixtures made per batch), pick its threshold.

    For speed the training patterns are max-pooled first (``pool_patterns``; pass
    ``already_pooled=True`` when they are) and mixed at that resolution (a mixture of pooled patterns
    differs from the pooled mixture only where two phases' peaks share a ``pool``-point window).
    Each batch holds ``mixture_share`` fresh mixtures (``make_mixtures`` with a seed derived from
    ``seed`` and the step) and single patterns, both augmented alike (``augment``). The threshold is
    chosen so that ``config.target_fpr`` of ``val_singles [V, G]`` (full grid) are flagged;
    ``val_mixtures`` (full grid, made with ``make_mixtures``) give the validation TPR and AUROC in
    ``record``. ``batch_source(step) -> (pooled patterns [B, L], labels [B])`` replaces the training
    patterns (e.g. ``StickBatches``: mixtures and single phases rendered from sticks);
    ``prefetch_process`` runs it in one forked process while the network trains. ``init``: a detector
    of the same architecture to continue from (its weights; the schedule starts afresh).
    The learning rate follows the step alone (warm-up, then a cosine over ``config.steps``), so the same
    config and seed train the same detector on any machine. ``time_limit_s`` is a safety stop only: a run
    it stops ends before its schedule does, and ``record["stopped_by_time_limit"]`` says so.
    """
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    val_singles = np.asarray(val_singles, dtype=np.float32)
    n_points = int(val_singles.shape[1])
    if batch_source is None:
        batch_source = PatternBatches(train_patterns, train_compound, config, seed, already_pooled)
    net = _make_net(config)
    if init is not None:
        net.load_state_dict(init.net.state_dict())
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    warmup = max(1, config.steps // 20)

    def lr_at(step: int) -> float:
        # warm-up, then cosine over the steps: a function of the step alone, so a run is reproducible
        if step < warmup:
            return config.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, config.steps - warmup)
        return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    # a continued run draws new batches: its steps are numbered after those of the runs before it
    history = (init.record.get("continued_from", []) + [{k: init.record.get(k) for k in (
        "steps_done", "train_seconds", "training_material")}]) if init is not None else []
    offset = int(sum(h.get("steps_done") or 0 for h in history))

    def shifted(step: int):
        return batch_source(step + offset)

    batches = (_prefetch(shifted, config.steps) if prefetch_process
               else (batch_source(i + offset) for i in range(config.steps)))
    start = time.perf_counter()
    running, step, lr = 0.0, 0, 0.0
    stopped_by_time = False
    net.train()
    for step, (pooled, target) in enumerate(batches):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3, step]))
        batch = augment(np.asarray(pooled, np.float32), rng, config)
        loss = loss_fn(net(torch.from_numpy(batch)), torch.from_numpy(np.asarray(target, np.float32)))
        lr = lr_at(step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        value = loss.item()
        running = 0.98 * running + 0.02 * value if step else value
        if log and (step % 200 == 0 or step == config.steps - 1):
            log(f"step {step:5d}/{config.steps}  loss {running:.4f}  lr {lr:.2e}  "
                f"{time.perf_counter() - start:.0f} s")
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            stopped_by_time = True
            if log:
                log(f"time limit reached at step {step} of {config.steps}: stopped before the schedule ended")
            break
    if prefetch_process:
        batches.close()
    train_seconds = time.perf_counter() - start
    net.eval()
    detector = MixtureDetector(net, config, 0.5, {})
    p_single = detector.mixture_probability(val_singles)
    p_mix = detector.mixture_probability(val_mixtures)
    threshold = threshold_for_fpr(p_single, config.target_fpr)
    detector.threshold = threshold
    detector.record = {
        "n_points": n_points,
        "seed": int(seed),
        "steps_done": int(step + 1),
        "steps_scheduled": int(config.steps),
        "stopped_by_time_limit": stopped_by_time,
        "train_seconds": round(train_seconds, 1),
        "training_material": getattr(batch_source, "description", "patterns"),
        "continued_from": history,
        "first_step": offset,
        "n_parameters": int(sum(p.numel() for p in net.parameters())),
        "threshold_chosen_on": f"simulated validation compounds: {len(val_singles)} single-phase patterns "
                               f"(FPR target {config.target_fpr:.0%}), {len(val_mixtures)} mixtures",
        "val": {"fpr": float(np.mean(p_single >= threshold)), "tpr": float(np.mean(p_mix >= threshold)),
                "auroc": roc_auc(p_single, p_mix)},
    }
    return detector

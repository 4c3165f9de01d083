"""Training the likely-mixture detector: the recipe, the batches, the step-count schedule, the threshold.

Training material (``MixtureRecipe.material``). The recipe ``configs/mixture.yaml`` renders specimens per
batch from the data set's cached sticks through the simulator's own renderer
(``xrdnet.data.specimen_batches``, ``xrdnet.simulate.mixtures``): half of each batch mixtures of 2 (60 %)
or 3 (40 %) *different compounds* with Dirichlet(2) fractions, every fraction ≥ ``min_fraction``, half
single phases, all through the same steps: one instrument per specimen (pseudo-Voigt η, Caglioti U, V, W,
Kα doublet, zero shift, displacement shared by its phases), texture, lattice strain, intensity errors and
crystallite size per phase, one detection limit, impurity lines, background and counting noise per
specimen (the data set's profile ranges). A fraction is the height of a phase's strongest line in the mix,
a proxy for its amount (weight fractions differ from intensity fractions by the phases' reference
intensity ratios, which the Dirichlet's spread covers). The alternative ``patterns`` adds finished
patterns (``PatternBatches``); a detector trained on them learns their two zero shifts and averaged noise
instead: measured on specimens with one instrument each it caught 62 % of mixtures instead of 97 %.

Training also truncates the 2θ range of some samples of both classes (``augment``: zero outside,
renormalised, as ``to_model_grid`` leaves a file that covers less than the grid). The learning rate
follows the step alone (warm-up, then a cosine over ``steps``) and every batch and augmentation is drawn
from (seed, step), so the same recipe and seed train the same detector on any machine.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from xrdnet.mixture.detector import MixtureConfig, MixtureDetector, _config_to_dict, _make_net, pool_patterns
from xrdnet.mixture.finished import make_mixtures

MATERIALS = ("specimens", "patterns")


@dataclass(frozen=True)
class MixtureRecipe:
    """How ``scripts/train_mixture_detector.py`` trains a detector (``configs/mixture.yaml``).

    ``material``: ``specimens`` (rendered per batch from the data set's cached sticks through the
    simulator's renderer, ``xrdnet.data.specimen_batches``) or ``patterns`` (mixtures of finished patterns,
    ``xrdnet.mixture.finished``). ``n_eval``: simulated val/test single phases and mixtures each;
    ``independent``: mixtures and as many single phases of test compounds rendered with other instrument
    ranges (``INDEPENDENT_PROFILE``) for an independent test (0 = skip);
    ``size_spread``: the phases' crystallite sizes around the specimen's (``specimens``);
    ``time_limit_s``: a safety stop (null = none; the schedule follows ``detector.steps``).
    """

    seed: int = 0
    material: str = "specimens"
    n_eval: int = 3000
    independent: int = 300
    size_spread: float = 0.5
    threads: int = 1
    time_limit_s: float | None = None
    detector: MixtureConfig = field(default_factory=MixtureConfig)

    def __post_init__(self) -> None:
        if self.material not in MATERIALS:
            raise ValueError(f"material must be one of {', '.join(MATERIALS)}, got {self.material!r}")


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
    """Area under the ROC curve (scikit-learn's; ties count half); NaN when a class has no scores."""
    from sklearn.metrics import roc_auc_score

    neg, pos = np.asarray(scores_negative, float), np.asarray(scores_positive, float)
    if not len(neg) or not len(pos):
        return float("nan")
    return float(roc_auc_score(np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.r_[neg, pos]))


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


def _lr_at(config: MixtureConfig, step: int) -> float:
    """Warm-up over the first 5 % of the steps, then a cosine to zero: a function of the step alone."""
    warmup = max(1, config.steps // 20)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, config.steps - warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _save_state(path: Path, state: dict) -> None:
    """Write a leg's state atomically (temporary file + rename), so an interrupted write loses nothing."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_state(path: Path, config: MixtureConfig, seed: int) -> dict:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("config") != _config_to_dict(config) or int(state.get("seed", -1)) != int(seed):
        raise ValueError(f"{path}: the saved leg was trained with another detector config or seed; "
                         "resume it with its own recipe, or start afresh in another folder")
    return state


def fit(train_patterns: np.ndarray | None, train_compound: Sequence | None, val_singles: np.ndarray,
        val_mixtures: np.ndarray, config: MixtureConfig = MixtureConfig(), seed: int = 0, threads: int | None = None,
        log: Callable[[str], None] | None = print, time_limit_s: float | None = None,
        already_pooled: bool = False, batch_source: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = None,
        prefetch_process: bool = False, state_file: str | Path | None = None,
        stop_at_step: int | None = None) -> MixtureDetector | None:
    """Train a detector, pick its threshold; or train one leg of it and return None.

    Material: ``batch_source(step) -> (pooled patterns [B, L], labels [B])``, e.g. ``SpecimenBatches``
    (specimens rendered from cached sticks); without it, ``PatternBatches`` mixes ``train_patterns [N, G]``
    (single phases, max-pooled by ``pool_patterns`` first unless ``already_pooled``; a mixture of pooled
    patterns differs from the pooled mixture only where two phases' peaks share a ``pool``-point window).
    ``prefetch_process`` makes the batches in one forked process while the network trains. Every batch is
    augmented (``augment``) with a generator of (seed, step). The threshold is chosen so that
    ``config.target_fpr`` of ``val_singles [V, G]`` (full grid) are flagged; ``val_mixtures [M, G]`` give the
    validation TPR and AUROC in ``record``.

    The learning rate follows the step alone (``_lr_at``), so the same config and seed train the same
    detector on any machine. Legs: with ``state_file``, the run's state (weights, optimizer, step, torch
    generator, running loss) is written there when ``time_limit_s`` (seconds of this leg) or ``stop_at_step``
    ends a leg early, and read back when the file exists, so legs give the weights of one uninterrupted
    run, bit for bit; a leg that ends early returns None, a complete run removes the file. Without ``state_file`` a time limit is only a
    safety stop: the run ends before its schedule does, and ``record["stopped_by_time_limit"]`` says so.
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
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    state_file = Path(state_file) if state_file is not None else None
    first, running, seconds_before, legs = 0, 0.0, 0.0, 0
    if state_file is not None and state_file.is_file():
        state = _load_state(state_file, config, seed)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        first, running = int(state["step"]), float(state["running_loss"])
        seconds_before, legs = float(state["train_seconds"]), int(state["legs"])
        if log:
            log(f"resuming {state_file} at step {first} of {config.steps} (leg {legs + 1})")

    def draw(step: int):
        return batch_source(first + step)

    remaining = max(0, config.steps - first)
    batches = _prefetch(draw, remaining) if prefetch_process else (draw(i) for i in range(remaining))
    start = time.perf_counter()
    step, lr, leg_ended = first - 1, 0.0, False
    net.train()
    for offset, (pooled, target) in enumerate(batches):
        step = first + offset
        if (stop_at_step is not None and step >= stop_at_step) or (
                time_limit_s is not None and time.perf_counter() - start > time_limit_s):
            leg_ended = True
            break
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3, step]))
        batch = augment(np.asarray(pooled, np.float32), rng, config)
        loss = loss_fn(net(torch.from_numpy(batch)), torch.from_numpy(np.asarray(target, np.float32)))
        lr = _lr_at(config, step)
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
                f"{seconds_before + time.perf_counter() - start:.0f} s")
    if prefetch_process:
        batches.close()
    train_seconds = seconds_before + time.perf_counter() - start
    if leg_ended and state_file is not None:
        _save_state(state_file, {"step": step, "net": net.state_dict(), "optimizer": opt.state_dict(),
                                 "torch_rng": torch.get_rng_state(), "running_loss": running,
                                 "train_seconds": train_seconds, "legs": legs + 1,
                                 "config": _config_to_dict(config), "seed": int(seed)})
        if log:
            log(f"leg ended at step {step} of {config.steps}; state in {state_file} (run again to resume)")
        return None
    if state_file is not None and state_file.is_file():
        state_file.unlink()  # the run is complete: a later call with this file starts afresh
    steps_done = step + 1 if not leg_ended else step
    if leg_ended and log:
        log(f"time limit reached at step {step} of {config.steps}: stopped before the schedule ended")
    net.eval()
    detector = MixtureDetector(net, config, 0.5, {})
    p_single = detector.mixture_probability(val_singles)
    p_mix = detector.mixture_probability(val_mixtures)
    threshold = threshold_for_fpr(p_single, config.target_fpr)
    detector.threshold = threshold
    detector.record = {
        "n_points": n_points,
        "seed": int(seed),
        "steps_done": int(steps_done),
        "steps_scheduled": int(config.steps),
        "stopped_by_time_limit": bool(leg_ended),
        "legs": legs + 1,
        "train_seconds": round(train_seconds, 1),
        "training_material": getattr(batch_source, "description", "patterns"),
        "n_parameters": int(sum(p.numel() for p in net.parameters())),
        "threshold_chosen_on": f"simulated validation compounds: {len(val_singles)} single-phase patterns "
                               f"(FPR target {config.target_fpr:.0%}), {len(val_mixtures)} mixtures",
        "val": {"fpr": float(np.mean(p_single >= threshold)), "tpr": float(np.mean(p_mix >= threshold)),
                "auroc": roc_auc(p_single, p_mix)},
    }
    return detector

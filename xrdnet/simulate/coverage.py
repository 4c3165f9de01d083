"""The 2θ range a laboratory scan covers, drawn per training pattern, and the measured span of any pattern.

Most laboratory scans start at 10-20° and end at 60-80°; a model trained only on 5-90° patterns reads
the zeros outside a short scan as "no reflection there" and loses most of its accuracy on them
(issue 19: 70 % on full-range held-out compounds, 40 % on the same patterns cut to 10-70°). Training
patterns therefore get a scan range drawn like a laboratory's: with probability
``full_range_fraction`` the whole grid, otherwise a start uniform in ``start_deg`` and an end uniform
in ``end_deg``. Outside the range the pattern is zero and the rest is renormalised to max = 1, exactly
what ``xrdnet.io.grid.to_model_grid`` makes of a short measured scan.

The network is told which points were measured by a second input channel (``measured_span``): the
span from the first to the last point above zero. It is a pure function of the pattern, so training
(crops here) and prediction (a measured file on the model grid) compute it the same way and nothing
has to carry a mask beside the pattern. A measured region whose ends are exactly zero (a background
subtracted to nothing) reads as unmeasured there, which loses nothing: it holds no peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from xrdnet.simulate import rng

Range = tuple[float, float]

# Counter-based streams of the range draws (the profile effects use 1..23).
_STREAM_FULL, _STREAM_START, _STREAM_END = 40, 41, 42
MIN_SPAN_DEG = 10.0  # a drawn range is at least this wide (an end below start + 10° is moved up)

LABORATORY_SCAN_RANGES_DEG: tuple[Range, ...] = ((10.0, 70.0), (15.0, 75.0), (20.0, 80.0), (30.0, 90.0),
                                                 (20.0, 60.0), (5.0, 50.0))
"""2θ ranges (Cu Kα) of common laboratory scans: the measured validation scans are cut to each of them
(``xrdnet calibrate``) so a model's card states what a short scan costs, and ``low_coverage`` quotes it."""


def nearest_scan_range(start_deg: float, end_deg: float, ranges) -> int:
    """Index of the range in ``ranges`` (pairs of start, end in 2θ °) closest to ``[start_deg, end_deg]``
    (smallest sum of the distances of the two ends)."""
    ends = [(float(lo), float(hi)) for lo, hi in ranges]
    if not ends:
        raise ValueError("no scan ranges to choose from")
    return min(range(len(ends)), key=lambda i: abs(ends[i][0] - start_deg) + abs(ends[i][1] - end_deg))


@dataclass(frozen=True)
class CoverageConfig:
    """Scan ranges of training patterns (the ``data.coverage`` section of a train config).

    ``full_range_fraction`` 1.0 (the default) keeps every pattern whole: cropping off.
    """

    full_range_fraction: float = 1.0
    start_deg: Range = (5.0, 25.0)
    end_deg: Range = (55.0, 90.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.full_range_fraction <= 1.0:
            raise ValueError(f"coverage.full_range_fraction must be in [0, 1], got {self.full_range_fraction}")
        for name in ("start_deg", "end_deg"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi < 180.0:
                raise ValueError(f"coverage.{name} must be a (low, high) range inside [0, 180)°, got {(lo, hi)}")

    @property
    def active(self) -> bool:
        return self.full_range_fraction < 1.0


def draw_ranges(config: CoverageConfig, seed: int, pattern_ids: torch.Tensor,
                grid_range_deg: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(start_deg [P], end_deg [P])`` float64 scan range of each pattern (the whole grid for the full ones)."""
    lo_grid, hi_grid = grid_range_deg
    u_full = rng.uniform(seed, pattern_ids, _STREAM_FULL, 1, torch.float64)[:, 0]
    u_start = rng.uniform(seed, pattern_ids, _STREAM_START, 1, torch.float64)[:, 0]
    u_end = rng.uniform(seed, pattern_ids, _STREAM_END, 1, torch.float64)[:, 0]
    start = config.start_deg[0] + u_start * (config.start_deg[1] - config.start_deg[0])
    end = config.end_deg[0] + u_end * (config.end_deg[1] - config.end_deg[0])
    end = torch.maximum(end, start + MIN_SPAN_DEG)
    full = u_full < config.full_range_fraction
    start = torch.where(full, lo_grid, start.clamp(lo_grid, hi_grid))
    end = torch.where(full, hi_grid, end.clamp(lo_grid, hi_grid))
    return start, end


def crop_patterns(patterns: torch.Tensor, two_theta_deg: torch.Tensor, start_deg: torch.Tensor,
                  end_deg: torch.Tensor) -> torch.Tensor:
    """Zero ``patterns [P, G]`` outside ``[start_deg, end_deg]`` (each ``[P]``) and renormalise to max = 1.

    A crop that leaves nothing above zero (no peak in the range) keeps its zeros.
    """
    grid = two_theta_deg.to(patterns.device, torch.float64)[None, :]
    inside = (grid >= start_deg[:, None].to(grid.device)) & (grid <= end_deg[:, None].to(grid.device))
    out = torch.where(inside, patterns, torch.zeros((), dtype=patterns.dtype, device=patterns.device))
    return out / out.amax(dim=1, keepdim=True).clamp(min=1e-30)


def crop_to_range(patterns, two_theta_deg, start_deg: float, end_deg: float):
    """:func:`crop_patterns` of numpy ``patterns [P, G]`` on ``two_theta_deg [G]`` to one range for all:
    what a scan of 2θ ``start_deg``–``end_deg`` looks like on the grid. Returns ``[P, G]`` of the input's dtype."""
    import numpy as np

    rows = torch.from_numpy(np.ascontiguousarray(patterns))
    n = len(rows)
    return crop_patterns(rows, torch.from_numpy(np.asarray(two_theta_deg, dtype=np.float64)),
                         torch.full((n,), float(start_deg), dtype=torch.float64),
                         torch.full((n,), float(end_deg), dtype=torch.float64)).numpy()


def measured_span(patterns: torch.Tensor) -> torch.Tensor:
    """``[B, G]`` bool: True from each pattern's first to its last point above zero (see the docstring)."""
    positive = patterns > 0
    seen_from_left = torch.cumsum(positive.to(torch.int32), dim=1) > 0
    seen_from_right = torch.flip(torch.cumsum(torch.flip(positive, [1]).to(torch.int32), dim=1), [1]) > 0
    return seen_from_left & seen_from_right

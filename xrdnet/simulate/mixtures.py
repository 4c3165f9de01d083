r"""Specimens of one, two or three phases rendered through the simulator's one renderer.

A powder of several phases is measured once: the instrument (pseudo-Voigt η, Caglioti U, V, W, the
Kα doublet and its ratio, zero shift, sample displacement), the background, the counting statistics,
the detection limit and any stray lines belong to the *specimen*; texture, anisotropic and isotropic
lattice strain, the thermal factor, per-peak intensity errors and the crystallite size belong to each
*phase*. So a specimen is rendered in three steps of ``xrdnet.simulate.profiles``:

1. ``phase_lines`` for every phase, with that phase's own draws; its lines are scaled so its strongest
   line equals its fraction of the specimen (the height of a phase's strongest line is the proxy for its
   amount; weight fractions differ from it by the reference intensity ratios);
2. the phases' lines side by side, ``specimen_effects`` (one detection limit relative to the strongest
   line of the specimen, impurity lines) with the specimen's draws;
3. ``render_lines`` with the specimen's instrument, each line broadened with its own phase's crystallite
   size (the specimen's size × exp(±``size_spread``) per phase, so phases differ a little in width, as
   two powders ground together do).

A specimen of one phase goes through exactly the same steps, so nothing but the phases themselves tells
a mixture from a single phase, which is what a mixture detector must learn.

Draws are counter-based (``xrdnet.simulate.rng``) like every other draw of the simulator: the specimen's
from ``(seed, specimen id)``, phase j's from ``(seed, PHASE_ID_BIT + specimen id · MAX_PHASES + j)``, so
they never meet the specimen ids, and a specimen looks the same whatever batch renders it.
"""

from __future__ import annotations

import numpy as np
import torch

from xrdnet.simulate import rng
from xrdnet.simulate.lattice_perturbation import ConventionalCells
from xrdnet.simulate.profiles import (ProfileConfig, draw_parameters, phase_lines, render_lines,
                                      specimen_effects)
from xrdnet.simulate.sticks import Sticks
from xrdnet.simulate.wavelengths import Radiation

MAX_PHASES = 4
"""Phase slots per specimen id (members may hold up to this many columns)."""
PHASE_ID_BIT = 1 << 62
"""Phase draw ids live above this bit; specimen ids must stay below ``PHASE_ID_BIT // MAX_PHASES``."""
_SIZE_SPREAD_STREAM = 40  # a stream no ProfileConfig effect uses (those use 1-26)


def phase_ids(specimen_ids: torch.Tensor, n_columns: int) -> torch.Tensor:
    """``[S, J]`` int64 draw ids of the phases of specimens ``specimen_ids [S]``."""
    if n_columns > MAX_PHASES:
        raise ValueError(f"at most {MAX_PHASES} phases per specimen, got {n_columns} columns")
    ids = specimen_ids.to(torch.int64)
    if bool((ids < 0).any()) or bool((ids >= PHASE_ID_BIT // MAX_PHASES).any()):
        raise ValueError(f"specimen ids must lie in 0 .. {PHASE_ID_BIT // MAX_PHASES - 1}")
    return PHASE_ID_BIT + ids[:, None] * MAX_PHASES + torch.arange(n_columns, dtype=torch.int64)[None, :]


def render_specimens(
    sticks: Sticks,
    lattice: torch.Tensor,
    grid_deg: torch.Tensor,
    radiation: Radiation,
    config: ProfileConfig,
    seed: int,
    specimen_ids: torch.Tensor,
    members: np.ndarray | torch.Tensor,
    fractions: np.ndarray | torch.Tensor,
    size_spread: float = 0.5,
    cells: ConventionalCells | None = None,
    max_entries: int = 1 << 24,
) -> torch.Tensor:
    """Patterns of S specimens, each a mixture of rows of ``sticks`` (see the module docstring).

    Args:
        sticks: sticks of B structures (at Kα1 when the doublet is rendered), ``lattice [B, 3, 3]`` Å.
        grid_deg: ``[G]`` uniform 2θ grid.
        specimen_ids: ``[S]`` int64 draw ids of the specimens.
        members: ``[S, J]`` rows of ``sticks`` in each specimen, -1 = no phase in that column; every
            specimen holds at least one.
        fractions: ``[S, J]`` each phase's strongest line relative to the specimen (ignored where -1).
        size_spread: phases' crystallite sizes differ from the specimen's by exp(±size_spread).
        cells: the structures' conventional cells (anisotropic strain only).

    Returns:
        ``[S, G]`` float32, each row max = 1.
    """
    device = grid_deg.device
    members = torch.as_tensor(np.asarray(members), dtype=torch.int64, device=device)
    fractions = torch.as_tensor(np.asarray(fractions), dtype=torch.float32, device=device)
    n_specimens, n_columns = members.shape
    present = members >= 0  # [S, J]
    if not bool(present.any(dim=1).all()):
        raise ValueError("every specimen needs at least one phase (a member >= 0)")
    if bool((members >= sticks.peak_intensity.shape[0]).any()):
        raise ValueError(f"members must be rows of the {sticks.peak_intensity.shape[0]} structures given")
    specimen_ids = specimen_ids.to(torch.int64)
    specimen, column = torch.nonzero(present, as_tuple=True)  # [Q] each present phase
    ids = phase_ids(specimen_ids.cpu(), n_columns).to(device)[specimen, column]  # [Q]
    phase_params = draw_parameters(config, seed, ids, device)
    two_theta, intensity, live = phase_lines(sticks, lattice, members[specimen, column], phase_params, config, seed,
                                             ids, radiation, cells)  # [Q, M]
    strongest = torch.where(live, intensity, 0.0).amax(dim=1, keepdim=True).clamp(min=1e-30)
    intensity = intensity / strongest * fractions[specimen, column, None]

    params = draw_parameters(config, seed, specimen_ids, device)
    spread = size_spread * (2.0 * rng.uniform(seed, ids, _SIZE_SPREAD_STREAM, 1).to(device)[:, 0] - 1.0)
    phase_size = params.size_nm[specimen] * torch.exp(spread)  # [Q]

    # The phases' lines side by side: specimen s holds columns j·M .. (j+1)·M - 1 of phase j.
    n_lines = two_theta.shape[1]
    shape = (n_specimens, n_columns, n_lines)
    all_two_theta = torch.full(shape, 90.0, dtype=two_theta.dtype, device=device)
    all_intensity = torch.zeros(shape, dtype=intensity.dtype, device=device)
    all_live = torch.zeros(shape, dtype=torch.bool, device=device)
    all_size = torch.ones(shape, dtype=torch.float32, device=device)
    all_two_theta[specimen, column] = two_theta
    all_intensity[specimen, column] = intensity
    all_live[specimen, column] = live
    all_size[specimen, column] = phase_size[:, None].expand(-1, n_lines).to(torch.float32)
    flat = (n_specimens, n_columns * n_lines)
    two_theta, intensity, live, size = (all_two_theta.reshape(flat), all_intensity.reshape(flat),
                                        all_live.reshape(flat), all_size.reshape(flat))

    two_theta, intensity, live = specimen_effects(two_theta, intensity, live, params, config, seed, specimen_ids,
                                                  (float(grid_deg[0]), float(grid_deg[-1])))
    extra = two_theta.shape[1] - size.shape[1]  # impurity lines: the specimen's own size
    if extra:
        size = torch.cat([size, params.size_nm[:, None].expand(-1, extra).to(torch.float32)], dim=1)
    return render_lines(two_theta, intensity, live, params, config, radiation, grid_deg, seed, specimen_ids,
                        max_entries, size_nm=size)


def draw_fractions(seed: int, specimen_ids: torch.Tensor, n_phases: torch.Tensor, min_fraction: float,
                   alpha: float = 2.0) -> torch.Tensor:
    """``[S, MAX_PHASES]`` float32 fractions: Dirichlet(alpha) over each specimen's ``n_phases``, each
    ≥ ``min_fraction`` (``min_fraction + (1 - k·min_fraction) · Dirichlet``), normalised to sum 1, zero
    in unused columns. A Dirichlet is normalised Gamma(alpha) draws; Gamma(2) is the sum of two
    exponentials, so integer alpha needs only uniform draws (counter-based)."""
    if alpha != int(alpha) or alpha < 1:
        raise ValueError(f"alpha must be a positive integer (a sum of exponentials), got {alpha}")
    k_max = MAX_PHASES
    n_phases = n_phases.to(torch.int64)
    if bool((n_phases < 1).any()) or bool((n_phases > k_max).any()) or bool((n_phases * min_fraction > 1).any()):
        raise ValueError(f"each specimen needs 1..{k_max} phases and n_phases · min_fraction <= 1")
    u = rng.uniform(seed, specimen_ids.to(torch.int64), 41, k_max * int(alpha), torch.float64)
    gamma = -torch.log(u).reshape(len(specimen_ids), k_max, int(alpha)).sum(dim=2)  # [S, K]
    used = torch.arange(k_max)[None, :] < n_phases[:, None]
    gamma = torch.where(used, gamma, 0.0)
    dirichlet = gamma / gamma.sum(dim=1, keepdim=True)
    fractions = min_fraction + (1.0 - n_phases[:, None] * min_fraction) * dirichlet
    return torch.where(used, fractions, 0.0).to(torch.float32)

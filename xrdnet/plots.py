"""Figures people would rather look at than read: patterns with their sticks."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def plot_patterns(
    path: str | Path,
    two_theta_deg: np.ndarray,
    patterns: Sequence[np.ndarray],
    labels: Sequence[str],
    sticks: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    title: str = "",
) -> Path:
    """Stack patterns (each max 1) vertically with optional stick markers and save a PNG.

    Args:
        two_theta_deg: ``[G]`` grid.
        patterns: each ``[G]``.
        labels: one per pattern.
        sticks: per pattern ``(two_theta_deg [M], intensity [M] on 0..100)`` drawn below the curve.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(patterns)
    fig, ax = plt.subplots(figsize=(11, 1.3 + 1.15 * n))
    for i, (y, label) in enumerate(zip(patterns, labels)):
        offset = 1.25 * (n - 1 - i)
        ax.plot(two_theta_deg, np.asarray(y) + offset, lw=0.8)
        ax.text(two_theta_deg[-1], offset + 0.55, label, ha="right", va="bottom", fontsize=8)
        if sticks is not None:
            x, h = sticks[i]
            ax.vlines(x, offset, offset + 0.2 * np.asarray(h) / 100.0, color="k", lw=0.6)
    ax.set_xlabel("2θ (degrees)")
    ax.set_ylabel("normalised intensity (offset)")
    ax.set_yticks([])
    ax.set_xlim(two_theta_deg[0], two_theta_deg[-1])
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

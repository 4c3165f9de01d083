"""Writing results: strict-JSON values and saved figures, shared by every module that reports.

Kept apart from ``evaluate`` and ``calibration`` so that neither needs the other to write a file
(they used to import each other for these two helpers: the package's one import cycle).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures are only ever saved)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> Path:
    """Save ``fig`` as ``path`` (folders made, 120 dpi) and close it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into Python and NaN/inf into None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

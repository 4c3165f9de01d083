"""Atomic X-ray scattering factors, read from pymatgen's own parameter file.

pymatgen's ``XRDCalculator`` uses the fit f(s) = Z - 41.78214 s² Σ_i a_i exp(-b_i s²) with
s = sin θ / λ (Å⁻¹) and four (a_i, b_i) pairs per element. Reading the very same JSON file keeps
our structure factors identical to pymatgen's, element for element.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

# Largest atomic number we tabulate; rows without parameters are flagged in ``has_params``.
Z_MAX = 118


@lru_cache(maxsize=1)
def _parameter_table() -> tuple[np.ndarray, np.ndarray]:
    import pymatgen.analysis.diffraction as diffraction
    from pymatgen.core import Element

    path = Path(diffraction.__file__).parent / "atomic_scattering_params.json"
    params = json.loads(path.read_text())
    table = np.zeros((Z_MAX + 1, 4, 2), dtype=np.float64)
    has = np.zeros(Z_MAX + 1, dtype=bool)
    for symbol, coeffs in params.items():
        z = Element(symbol).Z
        coeffs = np.asarray(coeffs, dtype=np.float64)
        table[z, : len(coeffs)] = coeffs
        has[z] = True
    return table, has


def elements_with_parameters() -> list[str]:
    """Element symbols that have X-ray scattering parameters (the elements xrdnet can simulate)."""
    from pymatgen.core import Element

    _, has = _parameter_table()
    return [Element.from_Z(int(z)).symbol for z in np.flatnonzero(has)]


def check_atomic_numbers(atomic_number: torch.Tensor, site_mask: torch.Tensor) -> None:
    """Raise ``ValueError`` naming the element when a real slot has no scattering parameters."""
    from pymatgen.core import Element

    _, has = _parameter_table()
    z = atomic_number[site_mask].unique().cpu().numpy()
    bad = [int(v) for v in z if v < 0 or v > Z_MAX or not has[int(v)]]
    if bad:
        names = ", ".join(Element.from_Z(v).symbol if 0 < v <= Z_MAX else str(v) for v in bad)
        raise ValueError(f"no X-ray scattering parameters for element(s) {names}")


def form_factor(atomic_number: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
    """Atomic scattering factor f(s) for each (species, reflection) pair.

    Args:
        atomic_number: ``[...]`` int64 Z, broadcastable against ``s2``.
        s2: ``[...]`` (sin θ / λ)² in Å⁻², float32 or float64.

    Returns:
        ``[...]`` f in electrons, dtype of ``s2``.
    """
    table, _ = _parameter_table()
    coeffs = torch.as_tensor(table, dtype=s2.dtype, device=s2.device)[atomic_number]  # [..., 4, 2]
    a, b = coeffs[..., 0], coeffs[..., 1]
    s2_ = s2.unsqueeze(-1)
    return atomic_number.to(s2.dtype) - 41.78214 * s2 * (a * torch.exp(-b * s2_)).sum(dim=-1)

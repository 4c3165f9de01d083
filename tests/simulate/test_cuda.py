"""The CUDA path gives the CPU's answers (skipped cleanly without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xrdnet.simulate import ProfileConfig, XRDSimulator

pytestmark = pytest.mark.gpu


def test_cuda_peaks_equal_cpu_peaks(reference_records):
    structures = [r["structure"] for r in reference_records[:60]]
    cpu = XRDSimulator(device="cpu").peaks(structures)
    gpu = XRDSimulator(device="cuda").peaks(structures)
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.two_theta_deg, b.two_theta_deg, atol=1e-9)
        np.testing.assert_allclose(a.intensity, b.intensity, atol=1e-3)


def test_cuda_patterns_equal_cpu_patterns(reference_records):
    """Counter-based draws make every random effect, noise included, identical across devices."""
    cfg = ProfileConfig(march_dollase_r=(0.7, 1.3), background_level=(0.0, 0.1), peak_counts=(1e3, 1e5))
    structures = [r["structure"] for r in reference_records[:30]]
    cpu = XRDSimulator(device="cpu", profile=cfg).patterns(structures, seed=5, patterns_per_structure=2)
    gpu = XRDSimulator(device="cuda", profile=cfg).patterns(structures, seed=5, patterns_per_structure=2)
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=2e-3)

"""Batched PyTorch powder-XRD simulation: sticks identical to pymatgen, realistic profiles."""

from xrdnet.simulate.profiles import ProfileConfig
from xrdnet.simulate.simulator import SimulatorConfig, XRDSimulator, two_theta_grid
from xrdnet.simulate.sticks import PeakList, Sticks
from xrdnet.simulate.wavelengths import Radiation, resolve_radiation

__all__ = ["XRDSimulator", "SimulatorConfig", "ProfileConfig", "PeakList", "Sticks", "Radiation", "resolve_radiation", "two_theta_grid"]

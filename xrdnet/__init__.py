"""xrdnet: crystal-symmetry prediction from powder X-ray diffraction patterns.

The pipeline is structures -> simulate -> HDF5 data set -> train (CNN | forest) -> compare ->
explain (surrogate rules), plus predict for a user's measured pattern. See ``DESIGN.md``.
"""

__version__ = "0.1.0"

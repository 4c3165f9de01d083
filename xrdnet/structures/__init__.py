"""Structure sources and containers: random pyxtal crystals, CIF folders, labelled structures.

Every source yields ``LabelledStructure`` items (a pymatgen structure with its spglib space group
and provenance) lazily; ``StructureBatch`` turns a list of them into padded tensors.
"""

from xrdnet.structures.cif_folder import SkipReport, iter_cif_folder
from xrdnet.structures.labelled import LabelledStructure
from xrdnet.structures.synthetic import GenerationError, GenerationStats
from xrdnet.structures.synthetic import generate as generate_synthetic
from xrdnet.structures.synthetic_config import SyntheticConfig

__all__ = [
    "GenerationError",
    "GenerationStats",
    "LabelledStructure",
    "SkipReport",
    "SyntheticConfig",
    "generate_synthetic",
    "iter_cif_folder",
]

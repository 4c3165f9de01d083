"""Compatibility module: the readers live in ``xrdnet.io`` (one module per format); see its docstring.

Kept so that ``from xrdnet.patterns_io import read_pattern, read_many, to_model_grid,
estimate_background, PatternFileError, MeasuredPattern`` goes on working.
"""

from xrdnet.io import (  # noqa: F401
    MAX_FILE_BYTES,
    MIN_POINTS,
    NEGATIVE_TOLERANCE,
    MeasuredPattern,
    PatternFileError,
    estimate_background,
    read_many,
    read_pattern,
    to_model_grid,
)

__all__ = ["MeasuredPattern", "PatternFileError", "estimate_background", "read_many", "read_pattern", "to_model_grid"]

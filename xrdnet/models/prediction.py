"""``Prediction``: what every model kind answers for P patterns, so compare and predict never ask which kind."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Prediction:
    """Model output for P patterns (numpy).

    Attributes:
        cs_proba: ``[P, 7]``; sg_proba: ``[P, 230]`` (column j = space group j+1).
        cs_pred: ``[P]`` 0..6; sg_pred: ``[P]`` 1..230.
    """

    cs_proba: np.ndarray
    sg_proba: np.ndarray
    cs_pred: np.ndarray
    sg_pred: np.ndarray

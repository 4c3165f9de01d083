"""Pooling the network with a forest on peak and indexing evidence: one answer from two kinds of model.

The networks read the whole profile; the forest (``features: suzuki_indexing``) reads the peak positions
and the best cell of each lattice family. They err on different patterns, so their crystal-system
probabilities are pooled log-linearly (a weighted geometric mean, renormalised):

    p(c) ∝ p_net(c)^(1 - w) · p_forest(c)^w,

with the forest's weight ``w`` chosen on the measured validation scans (``scripts/ablate_forest_pool.py``).
A forest's vote share can be exactly 0, where the logarithm is undefined, so every probability is floored
at ``PROBABILITY_FLOOR`` first (a class no tree votes for is strongly, not infinitely, disfavoured).

The space groups stay the network's: each group's probability is scaled by the ratio of its crystal
system's pooled to network probability, so the space-group table sums over a system to the pooled
system's probability and the best group within a system is the network's best there.
"""

from __future__ import annotations

import numpy as np

PROBABILITY_FLOOR = 1e-6
"""Smallest probability entering the logarithm of the pool (a forest's zero vote share)."""


def log_linear_pool(p_net: np.ndarray, p_forest: np.ndarray, forest_weight: float) -> np.ndarray:
    """``[P, C]`` pooled probabilities of ``p_net [P, C]`` and ``p_forest [P, C]``; rows sum to 1.

    ``forest_weight`` 0 gives ``p_net`` (floored, renormalised), 1 gives ``p_forest``.
    """
    if not 0.0 <= float(forest_weight) <= 1.0:
        raise ValueError(f"forest_weight must be in 0..1, got {forest_weight}")
    p_net, p_forest = np.atleast_2d(p_net), np.atleast_2d(p_forest)
    if p_net.shape != p_forest.shape:
        raise ValueError(f"probability tables differ in shape: {p_net.shape} and {p_forest.shape}")
    w = float(forest_weight)
    log_p = ((1.0 - w) * np.log(np.clip(p_net, PROBABILITY_FLOOR, 1.0))
             + w * np.log(np.clip(p_forest, PROBABILITY_FLOOR, 1.0)))
    log_p -= log_p.max(axis=1, keepdims=True)  # the largest term is exp(0): no overflow, no all-zero row
    p = np.exp(log_p)
    return p / p.sum(axis=1, keepdims=True)


def rescale_space_groups(sg_proba: np.ndarray, cs_before: np.ndarray, cs_after: np.ndarray,
                         system_of_group: np.ndarray) -> np.ndarray:
    """``[P, 230]`` space-group probabilities moved with their crystal systems' change.

    ``sg_proba [P, 230]`` (group g at column g - 1), ``cs_before`` / ``cs_after [P, 7]``, ``system_of_group
    [230]`` the crystal-system index of each group. Group g gets ``sg[g] · after[s] / before[s]`` for its
    system s (the before-probability floored at ``PROBABILITY_FLOOR``); rows are renormalised.
    """
    ratio = np.atleast_2d(cs_after) / np.clip(np.atleast_2d(cs_before), PROBABILITY_FLOOR, None)  # [P, 7]
    sg = np.atleast_2d(sg_proba) * ratio[:, system_of_group]
    return sg / np.clip(sg.sum(axis=1, keepdims=True), 1e-300, None)

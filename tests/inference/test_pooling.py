"""The log-linear pool of the networks with the forest, and the space groups moved with their systems."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.inference.pooling import PROBABILITY_FLOOR, log_linear_pool, rescale_space_groups
from xrdnet.symmetry import crystal_system_index, space_group_to_crystal_system_table


def test_the_pool_is_the_normalised_weighted_geometric_mean():
    net = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    forest = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])
    w = 0.4
    expected = net ** 0.6 * forest ** 0.4  # by hand, row by row
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(log_linear_pool(net, forest, w), expected, rtol=1e-12)
    # the two ends are the two models
    np.testing.assert_allclose(log_linear_pool(net, forest, 0.0), net, rtol=1e-12)
    np.testing.assert_allclose(log_linear_pool(net, forest, 1.0), forest, rtol=1e-12)
    # the first row: the network says class 0, the forest class 1; at w = 0.4 the pool sides with class 1
    # (0.6^0.6 0.2^0.4 = 0.3796 < 0.3^0.6 0.7^0.4 = 0.4183)
    assert log_linear_pool(net, forest, 0.4)[0].argmax() == 1


def test_a_zero_vote_is_floored_not_fatal_and_large_logs_do_not_overflow():
    net = np.array([[1.0, 0.0, 0.0]])
    forest = np.array([[0.0, 1.0, 0.0]])
    p = log_linear_pool(net, forest, 0.5)
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0)
    assert p[0, 0] == pytest.approx(p[0, 1])
    # the class neither votes for: floor · floor against 1 · floor under the square root
    assert p[0, 2] / p[0, 0] == pytest.approx(PROBABILITY_FLOOR ** 0.5, rel=1e-9)
    with pytest.raises(ValueError, match="forest_weight"):
        log_linear_pool(net, forest, 1.5)
    with pytest.raises(ValueError, match="shape"):
        log_linear_pool(net, forest[:, :2], 0.5)


def test_space_groups_follow_their_systems_and_keep_their_order_within_one():
    table = space_group_to_crystal_system_table()[1:]
    rng = np.random.default_rng(0)
    sg = rng.dirichlet(np.ones(230), size=3)
    cs_before = np.stack([np.bincount(table, weights=row, minlength=7) for row in sg])  # consistent marginals
    cs_after = rng.dirichlet(np.ones(7), size=3)
    moved = rescale_space_groups(sg, cs_before, cs_after, table)
    np.testing.assert_allclose(moved.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.stack([np.bincount(table, weights=row, minlength=7) for row in moved]), cs_after,
                               rtol=1e-10)
    cubic = table == crystal_system_index(225)
    assert np.array_equal(np.argsort(moved[:, cubic], axis=1), np.argsort(sg[:, cubic], axis=1))


def test_the_header_names_what_the_measured_figure_includes():
    from xrdnet.inference.result import evidence_words

    assert evidence_words(None) == "with the indexing evidence"
    assert evidence_words(0.5, indexing_mixed_in=False).endswith("forest at weight 0.50")
    assert evidence_words(0.5, indexing_mixed_in=True).endswith("and the indexing evidence")
    assert evidence_words(0.5, False, search_match_weight=0.5).endswith("and with search-match at weight 0.50")

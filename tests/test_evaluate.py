"""Shared metrics and comparison outputs on tiny hand-made inputs with hand-computed answers."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from xrdnet.evaluate import (
    confusion_matrix_figure,
    evaluate,
    format_table,
    space_group_confusion_figure,
    top_k_accuracy,
    write_comparison,
)
from xrdnet.symmetry import CRYSTAL_SYSTEMS, space_group_to_crystal_system_table

TABLE = space_group_to_crystal_system_table()


def one_hot(columns, width):
    out = np.zeros((len(columns), width))
    out[np.arange(len(columns)), columns] = 1.0
    return out


def perfect(space_groups):
    sg = np.asarray(space_groups)
    cs = TABLE[sg]
    return cs, sg, one_hot(cs, 7), one_hot(sg - 1, 230)


def test_perfect_predictions_score_one_everywhere():
    cs, sg, cs_p, sg_p = perfect([1, 14, 62, 139, 166, 194, 225, 225])
    m = evaluate(cs, sg, cs_p, sg_p)
    assert m["n"] == 8
    for key in ("cs_accuracy", "cs_balanced_accuracy", "cs_macro_f1", "sg_accuracy", "sg_balanced_accuracy",
                "sg_macro_f1", "sg_top1", "sg_top3", "sg_top5", "consistency"):
        assert m[key] == 1.0, key
    assert m["cs_per_class_accuracy"] == {name: 1.0 for name in CRYSTAL_SYSTEMS}
    assert m["cs_per_class_n"] == {name: (2 if name == "cubic" else 1) for name in CRYSTAL_SYSTEMS}
    json.dumps(m, allow_nan=False)  # plain JSON


def test_keys_and_absent_class_is_none():
    cs, sg, cs_p, sg_p = perfect([225, 225, 14])
    m = evaluate(cs, sg, cs_p, sg_p)
    assert set(m) == {"n", "cs_accuracy", "cs_balanced_accuracy", "cs_macro_f1", "cs_per_class_accuracy",
                      "cs_per_class_n", "sg_accuracy", "sg_balanced_accuracy", "sg_macro_f1", "sg_top1",
                      "sg_top3", "sg_top5", "consistency", "cs_ece", "sg_ece"}
    assert m["cs_per_class_accuracy"]["triclinic"] is None
    assert m["cs_per_class_n"]["triclinic"] == 0
    assert m["cs_per_class_accuracy"]["cubic"] == 1.0


def test_truth_second_counts_in_top3_not_top1():
    cs, sg, cs_p, _ = perfect([225, 229])
    sg_p = np.zeros((2, 230))
    sg_p[0, 224], sg_p[0, 220] = 0.6, 0.4  # right
    sg_p[1, 224], sg_p[1, 228] = 0.5, 0.3  # truth (229) is second
    m = evaluate(cs, sg, cs_p, sg_p)
    assert m["sg_top1"] == 0.5
    assert m["sg_top3"] == 1.0
    assert m["sg_top5"] == 1.0
    assert m["sg_accuracy"] == 0.5
    assert m["sg_top1"] < m["sg_top3"]


def test_top_k_ties_break_like_argmax():
    scores = np.full((3, 4), 0.25)  # a flat row must not count as a hit for every class
    assert top_k_accuracy(np.array([0, 1, 3]), scores, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(np.array([0, 1, 3]), scores, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(np.array([0, 1, 3]), scores, 4) == 1.0


def test_balanced_accuracy_differs_on_imbalanced_data_and_matches_sklearn():
    # 8 cubic (all right), 2 monoclinic (one predicted cubic): accuracy 0.9, balanced (1 + 0.5) / 2.
    sg = np.array([225] * 8 + [14, 14])
    cs = TABLE[sg]
    sg_pred = np.array([225] * 8 + [14, 225])
    cs_pred = TABLE[sg_pred]
    m = evaluate(cs, sg, one_hot(cs_pred, 7), one_hot(sg_pred - 1, 230))
    assert m["cs_accuracy"] == pytest.approx(0.9)
    assert m["cs_balanced_accuracy"] == pytest.approx(0.75)
    assert m["cs_balanced_accuracy"] == pytest.approx(balanced_accuracy_score(cs, cs_pred))
    assert m["sg_balanced_accuracy"] == pytest.approx(balanced_accuracy_score(sg, sg_pred))
    assert m["cs_per_class_accuracy"]["monoclinic"] == 0.5
    assert m["cs_macro_f1"] == pytest.approx(f1_score(cs, cs_pred, average="macro"))


def test_sg_macro_f1_is_over_union_of_true_and_predicted_classes():
    # One pattern of group 14 predicted as 15 (never true): F1(14) = 0, F1(15) = 0, F1(225) = 1.
    sg = np.array([225, 225, 14])
    sg_pred = np.array([225, 225, 15])
    m = evaluate(TABLE[sg], sg, one_hot(TABLE[sg_pred], 7), one_hot(sg_pred - 1, 230))
    assert m["sg_macro_f1"] == pytest.approx(1 / 3)
    assert m["sg_macro_f1"] == pytest.approx(f1_score(sg, sg_pred, labels=[14, 15, 225], average="macro"))
    # Balanced accuracy only averages classes present in the truth: (1 + 0) / 2.
    assert m["sg_balanced_accuracy"] == pytest.approx(0.5)


def test_consistency_counts_an_inconsistent_prediction():
    sg = np.array([225, 225, 14, 14])
    cs = TABLE[sg]
    cs_p = one_hot([6, 6, 1, 6], 7)  # last: cubic ...
    sg_p = one_hot(np.array([225, 225, 14, 14]) - 1, 230)  # ... but a monoclinic group
    m = evaluate(cs, sg, cs_p, sg_p)
    assert m["consistency"] == 0.75
    assert m["sg_accuracy"] == 1.0
    assert m["cs_accuracy"] == 0.75


def test_explicit_predictions_override_argmax():
    cs, sg, cs_p, sg_p = perfect([225, 14])
    m = evaluate(cs, sg, cs_p, sg_p, crystal_system_pred=[6, 6], space_group_pred=[225, 221])
    assert m["cs_accuracy"] == 0.5
    assert m["sg_accuracy"] == 0.5
    assert m["sg_top1"] == 1.0  # top-k still ranks the probability matrix
    assert m["consistency"] == 1.0


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: {**a, "crystal_system_proba": np.ones((3, 6))}, "crystal_system_proba"),
        (lambda a: {**a, "space_group_proba": np.ones((2, 230))}, "space_group_proba"),
        (lambda a: {**a, "space_group_true": np.array([0, 14, 225])}, "1..230"),
        (lambda a: {**a, "space_group_true": np.array([14, 231, 225])}, "1..230"),
        (lambda a: {**a, "crystal_system_true": np.array([7, 1, 6])}, "0..6"),
        (lambda a: {**a, "crystal_system_true": np.array([-1, 1, 6])}, "0..6"),
        (lambda a: {**a, "space_group_true": np.array([14, 225])}, "entries"),
        (lambda a: {**a, "space_group_true": np.array([14.5, 225, 225])}, "integer"),
        (lambda a: {**a, "crystal_system_true": np.ones((3, 1), int)}, "1-D"),
        (lambda a: {**a, "space_group_proba": np.full((3, 230), np.nan)}, "NaN"),
    ],
)
def test_shape_and_range_errors(change, match):
    cs, sg, cs_p, sg_p = perfect([14, 225, 225])
    args = {"crystal_system_true": cs, "space_group_true": sg, "crystal_system_proba": cs_p,
            "space_group_proba": sg_p}
    with pytest.raises(ValueError, match=match):
        evaluate(**change(args))


def test_empty_input_raises():
    with pytest.raises(ValueError, match="at least one"):
        evaluate(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 7)), np.zeros((0, 230)))


def _rows():
    cs, sg, cs_p, sg_p = perfect([1, 14, 225, 225])
    good = evaluate(cs, sg, cs_p, sg_p)
    bad = evaluate(cs, sg, one_hot([6, 6, 6, 6], 7), one_hot([224] * 4, 230))
    return [
        {"model": "cnn-small", "kind": "cnn", "split": "structure", **good, "inference_patterns_per_s": 12345.6,
         "model_size_mb": 3.21, "train_seconds": 60.0, "real_cs_accuracy": 0.5, "real_sg_accuracy": 0.25,
         "real_sg_top5": 0.75, "real_n": 454},
        {"model": "forest-suzuki", "kind": "forest", "split": "structure", **bad, "inference_patterns_per_s": 900.0,
         "model_size_mb": 42.0, "train_seconds": float("nan")},
    ]


def test_write_comparison_writes_three_files(tmp_path):
    rows = _rows()
    paths = write_comparison(rows, tmp_path / "cmp", "Test comparison", extra_md="## Notes\n\nhello")
    assert set(paths) == {"json", "csv", "md"}
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0

    data = json.loads(paths["json"].read_text())
    assert data["title"] == "Test comparison"
    assert data["rows"][0]["cs_per_class_accuracy"]["cubic"] == 1.0
    assert data["rows"][1]["train_seconds"] is None  # NaN is not JSON

    lines = paths["csv"].read_text().strip().splitlines()
    assert len(lines) == 1 + len(rows)
    table = list(csv.DictReader(lines))
    assert [r["model"] for r in table] == ["cnn-small", "forest-suzuki"]
    assert float(table[0]["cs_acc_cubic"]) == 1.0
    assert table[0]["cs_acc_orthorhombic"] == ""  # absent class
    assert "cs_per_class_accuracy" not in table[0] and "cs_per_class_n" not in table[0]
    assert table[1]["real_n"] == ""

    md = paths["md"].read_text()
    assert md.startswith("# Test comparison")
    assert "cnn-small" in md and "forest-suzuki" in md
    assert "real SG top-5" in md and "| 50.0% |" in md
    assert "Accuracy per crystal system" in md
    assert md.rstrip().endswith("hello")


def test_format_table_headline_columns():
    rows = _rows()
    text = format_table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[0] == ("| model | split | CS acc | CS bal. acc | SG acc | SG macro-F1 | SG top-3 | SG top-5 | "
                        "CS ECE | real CS acc | real SG acc | real SG top-5 | real CS ECE | patterns/s | size MB | "
                        "train s |")
    with_ece = format_table([{**rows[0], "cs_ece": 0.0412, "real_cs_ece": 0.061}]).splitlines()
    assert "| CS ECE |" in with_ece[0] and "| real CS ECE |" in with_ece[0]
    assert "| 0.041 |" in with_ece[2] and "| 0.061 |" in with_ece[2]
    assert lines[2].startswith("| cnn-small | structure | 100.0% | 100.0% | 100.0% | 100.0% | 100.0% | 100.0% |")
    assert "12,346" in lines[2] and "3.21" in lines[2]
    assert "| — |" in lines[3]  # forest has no real-data metrics and a NaN train time
    without_real = format_table([{k: v for k, v in rows[1].items()}])
    assert "real" not in without_real


def test_confusion_figures_are_png(tmp_path):
    rng = np.random.default_rng(0)
    cs_true, cs_pred = rng.integers(0, 7, 50), rng.integers(0, 7, 50)
    path = confusion_matrix_figure(cs_true, cs_pred, list(CRYSTAL_SYSTEMS), "crystal system", tmp_path / "cs.png")
    assert path.is_file() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    sg_true, sg_pred = rng.integers(1, 231, 200), rng.integers(1, 231, 200)
    path = space_group_confusion_figure(sg_true, sg_pred, tmp_path / "sub" / "sg.png", "space group")
    assert path.is_file() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with pytest.raises(ValueError):
        confusion_matrix_figure([0, 7], [0, 1], list(CRYSTAL_SYSTEMS), "bad", tmp_path / "bad.png")


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    # 10 patterns answered with probability 0.8, 8 of them right: perfectly calibrated
    cs_true = np.array([0] * 8 + [1] * 2)
    cs_p = np.zeros((10, 7))
    cs_p[:, 0], cs_p[:, 1] = 0.8, 0.2
    sg_true = np.where(cs_true == 0, 1, 3)
    sg_p = np.zeros((10, 230))
    sg_p[:, 0], sg_p[:, 2] = 0.8, 0.2
    m = evaluate(cs_true, sg_true, cs_p, sg_p)
    assert m["cs_ece"] == pytest.approx(0.0, abs=1e-12) and m["sg_ece"] == pytest.approx(0.0, abs=1e-12)
    cs_p[:, 0], cs_p[:, 1] = 0.99, 0.01  # same answers, claimed at 99 %
    assert evaluate(cs_true, sg_true, cs_p, sg_p)["cs_ece"] == pytest.approx(0.19)


def test_reliability_figure_is_png(tmp_path):
    from xrdnet.evaluate import reliability_figure

    rng = np.random.default_rng(0)
    cs_true = rng.integers(0, 7, 200)
    proba = rng.dirichlet(np.ones(7), 200)
    path = reliability_figure({"random": (cs_true, proba, None)}, tmp_path / "rel.png", "title")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

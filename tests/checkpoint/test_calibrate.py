"""``xrdnet calibrate``: the one writer of a run's calibration and card, end to end on a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xrdnet.checkpoint import ModelCard
from xrdnet.cli import main
from xrdnet.data import PatternDataset
from xrdnet.symmetry import crystal_system_index

from ..conftest import train_tiny_cnn


@pytest.fixture(scope="module")
def tiny_run(tiny_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibrate") / "cnn"
    return train_tiny_cnn(tiny_dataset, folder)


@pytest.fixture(scope="module")
def measured(tiny_dataset, tmp_path_factory):
    """Test-split patterns written as two-column files with labels.csv, as a measured set is laid out."""
    folder = tmp_path_factory.mktemp("measured")
    with PatternDataset(tiny_dataset) as ds:
        rows = ds.indices("test")[:12]
        grid = ds.two_theta_deg
        patterns = ds.read_patterns(rows).astype(np.float64)
        space_groups = ds.pattern_space_group()[rows]
    lines = ["file,space_group"]
    for i, (pattern, number) in enumerate(zip(patterns, space_groups)):
        name = f"m{i:02d}.xy"
        np.savetxt(folder / name, np.column_stack([grid, pattern]), fmt="%.8g",
                   header="2theta intensity; wavelength 1.5406 A")
        lines.append(f"{name},{number}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder, space_groups


def test_without_write_the_run_is_left_as_it_was(tiny_dataset, tiny_run, tmp_path, capsys):
    before = sorted(p.name for p in tiny_run.iterdir())
    assert main(["calibrate", str(tiny_run), "--data", str(tiny_dataset), "--out", str(tmp_path / "r")]) == 0
    assert sorted(p.name for p in tiny_run.iterdir()) == before
    report = json.loads((tmp_path / "r" / "calibration_report.json").read_text())
    with PatternDataset(tiny_dataset) as ds:
        n_val, n_test = len(ds.indices("val", report["split_kind"])), len(ds.indices("test", report["split_kind"]))
    assert report["fitted_on"]["n"] == n_val and report["simulated_test"]["after"]["n"] == n_test
    assert "real" not in report
    out = capsys.readouterr().out
    assert "| simulated held-out |" in out and "pass --write" in out


def test_write_stores_calibration_and_a_card_measured_on_the_measured_set(tiny_dataset, tiny_run, measured,
                                                                          tmp_path, capsys):
    folder, space_groups = measured
    code = main(["calibrate", str(tiny_run), "--data", str(tiny_dataset), "--real", str(folder),
                 "--real-name", "tiny-measured", "--write", "--out", str(tmp_path / "r")])
    assert code == 0
    calibration = json.loads((tiny_run / "calibration.json").read_text())
    report = json.loads((tmp_path / "r" / "calibration_report.json").read_text())
    t_cs, t_sg = report["temperatures"][0]
    assert np.isfinite([t_cs, t_sg]).all() and t_cs > 0 and t_sg > 0
    assert (calibration["cs_temperature"], calibration["sg_temperature"]) == (t_cs, t_sg)  # the fitted ones
    card = ModelCard.load(tiny_run)
    systems = np.array([crystal_system_index(int(n)) for n in space_groups])
    counts = np.bincount(systems, minlength=7)
    assert card.real.name == "tiny-measured" and card.real.n == len(space_groups)
    assert card.real.baseline_cs_accuracy == pytest.approx(counts.max() / counts.sum())
    assert card.real.cs_accuracy == pytest.approx(report["real"]["after"]["cs_accuracy"])
    assert len(card.real.by_scan_range) == len(report["real"]["by_scan_range"]) > 0
    assert card.simulated_test.n == report["simulated_test"]["after"]["n"]
    assert (tiny_run / "calibration.png").is_file()
    out = capsys.readouterr().out
    assert "| real (tiny-measured) |" in out and "Constant baseline" in out
    # accuracy against the confidence predict prints: all files at full coverage, the answered accuracy
    answered = report["real"]["answered_accuracy_vs_coverage"]
    assert answered[0]["coverage"] == 1.0 and answered[0]["n"] == len(space_groups)
    assert answered[0]["accuracy"] == pytest.approx(report["real"]["with_indexing"]["cs_accuracy"])
    assert "as predict answers (the confidence predict prints)" in out
    assert "accuracy_vs_coverage" not in json.loads((tiny_run / "card.json").read_text())["real"]["with_indexing"]


def test_a_search_match_pool_gets_its_temperature_and_its_figures(tiny_dataset, tiny_run, measured, tmp_path,
                                                                  capsys):
    import shutil

    from tests.conftest import load_script
    from xrdnet.checkpoint.match_pool import load_match_pool, write_match_pool

    run = tmp_path / "cnn"
    shutil.copytree(tiny_run, run)
    data = tmp_path / "tiny.h5"
    shutil.copy(tiny_dataset, data)
    library = load_script("make_reference_library").build(data, split="train", split_kind="structure")
    library.save(run / "reference" / "library.npz")
    write_match_pool(run, "reference/library.npz", 0.5, "a test")
    assert load_match_pool(run).temperature == 1.0
    folder, _ = measured
    assert main(["calibrate", str(run), "--data", str(data), "--real", str(folder), "--write",
                 "--out", str(tmp_path / "r")]) == 0
    pool = load_match_pool(run)
    report = json.loads((tmp_path / "r" / "calibration_report.json").read_text())
    assert pool.temperature != 1.0 and pool.temperature == report["simulated_test"]["search_match"]["temperature"]
    assert pool.fitted_on["split"] == "val" and pool.weight == 0.5
    assert report["real"]["with_indexing"]["search_match_weight"] == 0.5
    card = json.loads((run / "card.json").read_text())
    assert card["simulated_test"]["pooled_with_search_match"]["search_match_weight"] == 0.5
    assert "then pooled with search-match (w = 0.50" in capsys.readouterr().out

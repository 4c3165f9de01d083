"""compare and quickstart end to end on tiny inputs: same test patterns, same metrics, all outputs."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from xrdnet.compare import compare_runs
from xrdnet.data import PatternDataset
from xrdnet.data.datamodule import DataConfig
from xrdnet.evaluate import evaluate
from xrdnet.models.cnn import CNNConfig
from xrdnet.models.forest import ForestConfig
from xrdnet.models.runs import load_run
from xrdnet.train import TrainConfig, TrainerConfig, train

TINY_CNN = CNNConfig(channels=(8, 8, 16), hidden=32, stem_stride=2)
QUICK_TRAINER = TrainerConfig(max_epochs=1, progress_bar=False, accelerator="cpu", devices=1)


def test_compare_writes_tables_and_figures_for_every_run(tiny_dataset, tmp_path):
    cnn = tmp_path / "cnn"
    forest = tmp_path / "et"
    train(TrainConfig(model="cnn", data=DataConfig(batch_size=16), cnn=TINY_CNN, trainer=QUICK_TRAINER),
          tiny_dataset, cnn)
    train(TrainConfig(model="forest", forest=ForestConfig(cs_n_estimators=20, sg_n_estimators=20, n_jobs=1)),
          tiny_dataset, forest)
    result = compare_runs([cnn, forest], tiny_dataset, tmp_path / "report")
    report = tmp_path / "report"
    for name in ("comparison.md", "comparison.csv", "comparison.json", "confusion_cs_cnn.png",
                 "confusion_sg_cnn.png", "confusion_cs_et.png", "confusion_sg_et.png",
                 "reliability_cnn.png", "reliability_et.png"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    rows = list(csv.DictReader((report / "comparison.csv").open()))
    assert [r["model"] for r in rows] == ["cnn", "et"]
    md = (report / "comparison.md").read_text()
    assert "cnn" in md and "et" in md
    # The table's numbers are evaluate() on the test split, recomputed here independently.
    with PatternDataset(tiny_dataset) as ds:
        test = ds.indices("test")
        lam = ds.attrs["kalpha1_angstrom"]
        pred = load_run(forest).predict(ds.read_patterns(test), ds.two_theta_deg, lam)
        expected = evaluate(ds.pattern_crystal_system()[test], ds.pattern_space_group()[test],
                            pred.cs_proba, pred.sg_proba)
    stored = json.loads((report / "comparison.json").read_text())
    et = next(r for r in (stored["rows"] if "rows" in stored else stored["models"]) if r["model"] == "et")
    assert np.isclose(et["cs_accuracy"], expected["cs_accuracy"]) and np.isclose(et["sg_top5"], expected["sg_top5"])
    assert np.isclose(et["cs_ece"], expected["cs_ece"]) and et["calibrated"] is False  # no calibration.json
    assert "CS ECE" in md
    assert result["n_test"] == len(test)
    assert all(r["inference_patterns_per_s"] > 0 and r["model_size_mb"] > 0 for r in result["rows"])
    # A folder that is not a run is refused by name before any model is evaluated.
    with pytest.raises(FileNotFoundError, match="not_a_run"):
        compare_runs([forest, tmp_path / "not_a_run"], tiny_dataset, tmp_path / "report2")
    assert not (tmp_path / "report2" / "comparison.md").exists()


def test_quickstart_runs_the_whole_pipeline_small(tmp_path):
    from xrdnet.quickstart import QuickstartConfig, run_quickstart
    from xrdnet.simulate import SimulatorConfig

    base = QuickstartConfig()
    config = replace(
        base,
        simulate=replace(base.simulate, n_structures=24, patterns_per_structure=3, workers=1, chunk_structures=8,
                         device="cpu", simulator=replace(base.simulate.simulator, two_theta_range=(10.0, 60.0),
                                                         step=0.05)),
        cnn=replace(base.cnn, cnn=TINY_CNN, trainer=QUICK_TRAINER),
        forests=(TrainConfig(model="forest", forest=ForestConfig(cs_n_estimators=10, sg_n_estimators=10, n_jobs=1)),
                 TrainConfig(model="search_match")),
    )
    assert isinstance(config.simulate.simulator, SimulatorConfig)
    report = run_quickstart(tmp_path / "qs", config, progress=False)
    text = report.read_text()
    assert "| cnn" in text and "extra-trees-suzuki" in text and "| search-match" in text
    # The headline rule beats the constant answer, or the report says that no rule does.
    assert "Headline surrogate rule" in text and ("→" in text or "no rule beats always answering" in text)
    assert (tmp_path / "qs" / "rules" / "tree.json").is_file()
    assert (tmp_path / "qs" / "patterns.png").is_file()
    assert (tmp_path / "qs" / "comparison" / "comparison.md").is_file()
    # Running it again reuses the finished data set instead of failing on the existing file.
    assert run_quickstart(tmp_path / "qs", config, progress=False).is_file()


def test_compare_real_columns_equal_the_same_patterns_read_back_from_files(tiny_dataset, tmp_path):
    """Test patterns written as .xy files and read through the measured-pattern path give the
    same metrics as the in-memory patterns; unreadable and unlabelled files are counted, not fatal."""
    forest = tmp_path / "et"
    train(TrainConfig(model="forest", forest=ForestConfig(cs_n_estimators=20, sg_n_estimators=20, n_jobs=1)),
          tiny_dataset, forest)
    real = tmp_path / "real"
    real.mkdir()
    with PatternDataset(tiny_dataset) as ds:
        test = ds.indices("test")
        grid, lam = ds.two_theta_deg, float(ds.attrs["kalpha1_angstrom"])
        patterns = ds.read_patterns(test).astype(np.float64)
        sg = ds.pattern_space_group()[test]
        cs = ds.pattern_crystal_system()[test]
    lines = ["file,space_group"]
    for i, (pattern, number) in enumerate(zip(patterns, sg)):
        name = f"p{i:03d}.xy"
        np.savetxt(real / name, np.column_stack([grid, pattern]), fmt="%.17g", header="2theta intensity")
        lines.append(f"{name},{number}")
    (real / "broken.xy").write_text("this is not a pattern\n")
    lines.append("broken.xy,225")
    lines.append("missing.xy,14")
    (real / "labels.csv").write_text("\n".join(lines) + "\n")

    result = compare_runs([forest], tiny_dataset, tmp_path / "report", real_dir=real)
    row = result["rows"][0]
    pred = load_run(forest).predict(patterns.astype(np.float32), grid, lam)
    expected = evaluate(cs, sg, pred.cs_proba, pred.sg_proba)
    assert row["real_n"] == len(test)
    assert np.isclose(row["real_cs_accuracy"], expected["cs_accuracy"])
    assert np.isclose(row["real_sg_top5"], expected["sg_top5"])
    assert np.isclose(row["real_cs_ece"], expected["cs_ece"])
    assert (tmp_path / "report" / "reliability_et.png").is_file()
    md = (tmp_path / "report" / "comparison.md").read_text()
    assert f"{len(test)} measured patterns" in md and "2 files unreadable or unlabelled" in md
    majority = np.bincount(cs).max() / len(cs)
    assert f"would score {100 * majority:.1f}% crystal-system accuracy" in md


def test_compare_applies_the_stored_calibration(tiny_dataset, tmp_path):
    from xrdnet.calibration import Calibration

    forest = tmp_path / "et"
    train(TrainConfig(model="forest", forest=ForestConfig(cs_n_estimators=10, sg_n_estimators=10, n_jobs=1)),
          tiny_dataset, forest)
    raw = compare_runs([forest], tiny_dataset, tmp_path / "raw")["rows"][0]
    Calibration(cs_temperature=3.0, sg_temperature=3.0).save(forest)
    cal = compare_runs([forest], tiny_dataset, tmp_path / "cal")["rows"][0]
    assert cal["calibrated"] and np.isclose(cal["cs_accuracy"], raw["cs_accuracy"])  # answers unchanged
    assert np.isclose(cal["cs_ece_uncalibrated"], raw["cs_ece"]) and not np.isclose(cal["cs_ece"], raw["cs_ece"])


def test_measured_files_without_a_wavelength_are_warned_naming_file_and_wavelength(tmp_path):
    """Issue 21: load_labelled_patterns gave such files the model's wavelength without a word."""
    from xrdnet.compare import load_labelled_patterns

    grid = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 4)
    x = np.arange(10.0, 80.0, 0.02)
    y = 20 + sum(1000 * np.exp(-0.5 * ((x - c) / 0.08) ** 2) for c in (27.4, 31.7, 45.5, 56.5, 66.2))
    np.savetxt(tmp_path / "bare.xy", np.column_stack([x, y]), fmt="%.4f")  # states no wavelength
    np.savetxt(tmp_path / "stated.xy", np.column_stack([x, y]), fmt="%.4f", header="wavelength: 1.54056")
    (tmp_path / "labels.csv").write_text("file,space_group\nbare.xy,225\nstated.xy,225\n")
    with pytest.warns(UserWarning, match=r"1 measured file\(s\) state no wavelength \(bare\.xy\); assumed the "
                                         r"model's Mo Kα1, λ = 0\.70930 Å") as caught:
        measured = load_labelled_patterns(tmp_path, grid, 0.7093)
    assert measured["n"] == 2 and not any("stated.xy" in str(w.message) for w in caught)

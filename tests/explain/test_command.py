"""``xrdnet rules`` end to end on the tiny data set with a tiny CNN: every file, consistent numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xrdnet.cli import main
from xrdnet.explain.command import OUTPUT_FILES, RulesConfig, compute_rule_inputs
from xrdnet.explain.tree_json import apply_tree_json

from ..conftest import train_tiny_cnn


@pytest.fixture(scope="module")
def tiny_cnn(tiny_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules") / "cnn"
    return train_tiny_cnn(tiny_dataset, folder)


def test_rules_command_writes_every_export(tiny_dataset, tiny_cnn, tmp_path, capsys):
    out = tmp_path / "rules"
    assert main(["rules", "--run", str(tiny_cnn), "--data", str(tiny_dataset), "--out", str(out),
                 "--max-depth", "2", "--max-patterns", "0"]) == 0
    printed = capsys.readouterr().out
    assert "headline rule:" in printed
    for name in OUTPUT_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert len(list((out / "trees").glob("ovr_*.json"))) == 7
    summary = json.loads((out / "summary.json").read_text())
    head = summary["best_one_line_rule"]
    # The headline either beats the constant on its own leaf, or says that nothing does.
    if head["beats_constant"]:
        assert "→" in head["text"] and head["fidelity"] > head["constant_fidelity"] and head["gain"] > 0
    else:
        assert head["text"].startswith("no rule beats always answering") and head["text"] in printed
    assert summary["target"] == "crystal_system" and "Methods" in (out / "methods.md").read_text()
    # given absolute (tmp_path), recorded relative: summary.json ships in the package (issue 21)
    assert not Path(summary["run"]).is_absolute() and not Path(summary["data"]).is_absolute()
    assert (Path.cwd() / summary["data"]).resolve() == tiny_dataset.resolve()
    assert summary["config"]["max_depth"] == 2
    sweep = (out / "sweep.csv").read_text().splitlines()
    assert sweep[0].startswith("model,depth,actual_depth,leaves,fidelity,accuracy,n")
    assert len(sweep) == 1 + 2 * 8  # multi-class + 7 one-vs-rest, depths 1 and 2
    # tree.json, applied without sklearn to the held-out features, reproduces the stored fidelity.
    tree_json = json.loads((out / "tree.json").read_text())
    inputs = compute_rule_inputs(tiny_cnn, tiny_dataset, RulesConfig(max_patterns=0))
    predicted = apply_tree_json(tree_json, inputs.held_out.X)
    assert np.mean(predicted == inputs.held_out.cs_model) == pytest.approx(summary["tree"]["held_out"]["fidelity"])
    assert np.mean(predicted == inputs.held_out.cs_true) == pytest.approx(summary["tree"]["held_out"]["accuracy"])


def test_cubic_target_and_bad_settings(tiny_dataset, tiny_cnn, tmp_path, capsys):
    out = tmp_path / "cubic"
    assert main(["rules", "--run", str(tiny_cnn), "--data", str(tiny_dataset), "--out", str(out),
                 "--target", "cubic", "--max-depth", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == "cubic"
    assert set(json.loads((out / "tree.json").read_text())["class_names"]) == {"0", "1"}
    assert main(["rules", "--run", str(tiny_cnn), "--data", str(tiny_dataset), "--out", str(out),
                 "--max-depth", "0"]) == 2
    assert "max_depth" in capsys.readouterr().err


def test_rules_are_reproduced_bit_for_bit(tiny_dataset, tiny_cnn, tmp_path):
    # The shipped checkpoint's rules/ must be regenerated exactly by the documented command: every
    # file is byte-identical across two runs, also when the second writes over an earlier run's folder.
    import hashlib

    outs = [tmp_path / "a", tmp_path / "b"]
    for out in [outs[0], outs[1], outs[1]]:
        assert main(["rules", "--run", str(tiny_cnn), "--data", str(tiny_dataset), "--out", str(out),
                     "--max-depth", "2", "--max-patterns", "0"]) == 0
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert {"tree.json", "tree.png", "tree.svg", "tree.pdf", "rules.tex", "methods.md"} <= {str(f) for f in files}
    assert files == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*") if p.is_file())
    for f in files:
        digests = [hashlib.sha256((out / f).read_bytes()).hexdigest() for out in outs]
        assert digests[0] == digests[1], f


def test_rules_in_indexing_features_explain_what_predict_answers(tiny_dataset, tiny_cnn, tmp_path):
    # --features interpretable_indexing adds the indexing columns; --answers predict explains the
    # Predictor's answer (for a plain run: its own network, calibrated, decoded as predict decodes it).
    from xrdnet.calibration import decode
    from xrdnet.data.reader import PatternDataset
    from xrdnet.explain.tree_json import tree_features
    from xrdnet.indexing.features import indexing_feature_specs
    from xrdnet.inference import Predictor

    out = tmp_path / "rules"
    assert main(["rules", "--run", str(tiny_cnn), "--data", str(tiny_dataset), "--out", str(out),
                 "--max-depth", "2", "--max-patterns", "0", "--features", "interpretable_indexing",
                 "--answers", "predict"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    names = [s.name for s in indexing_feature_specs()]
    assert summary["features"][-len(names):] == names and summary["answers"] == "predict"
    ceiling = summary["tree"]["fidelity_ceiling"]
    assert 0.0 <= ceiling["fidelity"] <= 1.0 and ceiling["n_trees"] > 1
    assert all("fidelity_ceiling" in v for v in summary["ovr"].values())
    assert "Fidelity ceiling" in (out / "rules.md").read_text()
    tree_json = json.loads((out / "tree.json").read_text())
    assert tree_json["feature_extraction"]["feature_set"] == "interpretable_indexing"
    config = RulesConfig(max_patterns=0, features="interpretable_indexing", answers="predict")
    inputs = compute_rule_inputs(tiny_cnn, tiny_dataset, config)
    predictor = Predictor(tiny_cnn)
    with PatternDataset(tiny_dataset) as ds:
        rows = ds.read_patterns(inputs.held_out.rows)
        grid, lam = ds.two_theta_deg, float(ds.attrs.get("kalpha1_angstrom") or ds.wavelength_angstrom)
    cs_pred, sg_pred, _ = decode(*predictor.probabilities(rows.astype(np.float32)))
    assert np.array_equal(inputs.held_out.cs_model, cs_pred) and np.array_equal(inputs.held_out.sg_model, sg_pred)
    # predict computes a new pattern's columns the same way as the rules were fitted on
    columns = [[s.name for s in inputs.specs].index(f["name"]) for f in tree_json["features"]]
    np.testing.assert_allclose(tree_features(tree_json, rows[:3], grid, lam), inputs.held_out.X[:3][:, columns])
    predicted = apply_tree_json(tree_json, inputs.held_out.X)
    assert np.mean(predicted == inputs.held_out.cs_model) == pytest.approx(summary["tree"]["held_out"]["fidelity"])


def test_rules_config_refuses_unknown_features_and_answers():
    with pytest.raises(ValueError, match="features must be one of"):
        RulesConfig(features="profile")
    with pytest.raises(ValueError, match="answers must be one of"):
        RulesConfig(answers="network")

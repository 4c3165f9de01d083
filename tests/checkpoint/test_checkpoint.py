"""Checkpoint.load: the shipped names, the format version, the ensemble members, the card and the rules.

Checkpoint folders are assembled in tmp_path from links to the shipped networks, so nothing is trained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xrdnet.checkpoint import (Checkpoint, CheckpointFormatError, ModelCard, default_checkpoint, resolve,
                               shipped_names)
from xrdnet.checkpoint.format import FORMAT_FILE, FORMAT_VERSION, write_format

SHIPPED = default_checkpoint()


def _copy_of_shipped(folder: Path, members: bool = True) -> Path:
    """A checkpoint folder whose networks are links to the shipped ones (small files copied, so they can change)."""
    folder.mkdir()
    for name in ("run.json", "calibration.json", "card.json", "training_set.tsv.gz", "config.yaml"):
        (folder / name).write_bytes((SHIPPED / name).read_bytes())
    (folder / "model.ckpt").symlink_to(SHIPPED / "model.ckpt")
    if members:
        (folder / "members").mkdir()
        (folder / "members" / "seed1").symlink_to(SHIPPED / "members" / "seed1", target_is_directory=True)
        (folder / "members.json").write_bytes((SHIPPED / "members.json").read_bytes())
    return folder


def test_the_shipped_checkpoint_is_known_by_name_and_loads_whole():
    assert "xrdnet-cnn-real" in shipped_names()
    assert resolve("xrdnet-cnn-real") == SHIPPED and resolve(None) == SHIPPED
    ckpt = Checkpoint.load("xrdnet-cnn-real")
    assert ckpt.path == SHIPPED and ckpt.format_version == FORMAT_VERSION
    assert ckpt.members == (SHIPPED, SHIPPED / "members" / "seed1")  # members.json: the folder, then seed1
    assert len(ckpt.runs) == 2 and all(c is not None for c in ckpt.calibrations)
    assert ckpt.ensemble_calibration is not None  # the temperatures of the members' average
    assert isinstance(ckpt.card, ModelCard) and ckpt.card.real.name == "RRUFF" and ckpt.card.n_networks == 2
    assert ckpt.tree is not None and ckpt.tree["format"] == "xrdnet-surrogate-tree"
    assert ckpt.mixture is not None and ckpt.mixture_problem is None
    # the forest its networks are pooled with: a forest run inside the folder, its temperature fitted
    assert ckpt.forest_pool is not None and ckpt.forest_pool.run.kind == "forest"
    assert ckpt.forest_pool.folder == SHIPPED / "forest" and 0.0 < ckpt.forest_pool.forest_weight < 1.0
    assert ckpt.forest_pool.temperature != 1.0 and ckpt.forest_pool.fitted_on.get("split") == "val"
    assert ckpt.wavelength_angstrom == pytest.approx(1.54056) and len(ckpt.grid_two_theta_deg) == 8501
    assert len(ckpt.training_priors()) == 1  # only the folder's own network ships its training set


def test_an_unknown_name_is_refused_naming_the_shipped_ones():
    with pytest.raises(FileNotFoundError, match=r"checkpoint no-such-model not found.*shipped: xrdnet-cnn-real"):
        Checkpoint.load("no-such-model")


def test_a_folder_without_a_run_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no run\.json"):
        Checkpoint.load(tmp_path)


def test_another_format_version_is_refused_in_one_line_naming_the_folder(tmp_path):
    folder = _copy_of_shipped(tmp_path / "future", members=False)
    write_format(folder)
    assert Checkpoint.load(folder, extras=False).format_version == FORMAT_VERSION
    record = folder / FORMAT_FILE
    for data, match in (({"format": "xrdnet-checkpoint", "format_version": FORMAT_VERSION + 1}, "format_version 2"),
                        ({"format": "something-else", "format_version": 1}, "does not say"),
                        ("{broken", "unreadable")):
        record.write_text(data if isinstance(data, str) else json.dumps(data))
        with pytest.raises(CheckpointFormatError, match=match) as info:
            Checkpoint.load(folder)
        message = str(info.value)
        assert str(folder) in message and "\n" not in message
    # a folder without checkpoint.json is a run folder of format 1 (what xrdnet train writes)
    record.unlink()
    assert Checkpoint.load(folder, extras=False).format_version == 1


def test_the_members_of_an_ensemble_load_in_order_and_broken_lists_are_refused(tmp_path):
    folder = _copy_of_shipped(tmp_path / "ens")
    ckpt = Checkpoint.load(folder, extras=False)
    assert ckpt.members == (folder, folder / "members" / "seed1")
    assert [r.path for r in ckpt.runs] == list(ckpt.members)
    assert ckpt.card == ModelCard() and ckpt.tree is None and ckpt.mixture is None  # extras=False: networks only
    plain = Checkpoint.load(folder, calibrate=False, extras=False)
    assert plain.calibrations == [None, None] and plain.ensemble_calibration is None
    (folder / "members.json").write_text(json.dumps({"format_version": 1, "members": ["../elsewhere"]}))
    with pytest.raises(ValueError, match="inside the checkpoint"):
        Checkpoint.load(folder)


def test_a_predictor_answers_from_a_checkpoint_object_as_from_its_folder():
    import numpy as np

    from xrdnet.inference import Predictor

    ckpt = Checkpoint.load(SHIPPED)
    by_object, by_name = Predictor(ckpt), Predictor("xrdnet-cnn-real")
    assert by_object.info == by_name.info and by_object.paths == by_name.paths
    x = np.arange(5.0, 90.0, 0.02)
    y = 10 + sum(h * np.exp(-0.5 * ((x - t) / 0.05) ** 2) for t, h in ((28.4, 1000), (33.0, 400), (47.0, 600),
                                                                       (56.1, 300), (69.1, 100), (76.4, 150)))
    a, b = by_object.predict(x, y, wavelength="CuKa"), by_name.predict(x, y, wavelength="CuKa")
    assert a.to_dict() == b.to_dict()
    assert Predictor(ckpt, calibrate=False).calibrations == [None, None]


def test_the_card_round_trips_byte_for_byte_and_keeps_fields_it_does_not_know(tmp_path):
    card = ModelCard.load(SHIPPED)
    card.save(tmp_path)
    assert (tmp_path / "card.json").read_bytes() == (SHIPPED / "card.json").read_bytes()
    (tmp_path / "card.json").write_text(json.dumps({"real": {"name": "X", "n": 3, "cs_accuracy": 0.5,
                                                             "new_figure": 1}, "later": True}))
    partial = ModelCard.load(tmp_path)
    assert partial.real.cs_accuracy == 0.5 and partial.real.with_indexing is None and partial.simulated_test is None
    assert partial.to_dict() == {"real": {"name": "X", "n": 3, "cs_accuracy": 0.5, "new_figure": 1}, "later": True}
    assert ModelCard.load(tmp_path / "none") == ModelCard()
    (tmp_path / "card.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="card.json.*expected an object"):
        ModelCard.load(tmp_path)


def test_calibrate_writes_the_card_through_the_type():
    """xrdnet calibrate builds the card from its report with ModelCard: the shipped card's layout."""
    from xrdnet.checkpoint import calibrate
    shipped = json.loads((SHIPPED / "card.json").read_text())
    real = shipped["real"]
    after = {"cs_accuracy": real["cs_accuracy"], "sg_accuracy": real["sg_accuracy"]}
    report = {"real": {"n": real["n"], "after": after,
                       "cs_balanced_accuracy": real["cs_balanced_accuracy"], "sg_top5": real["sg_top5"],
                       "baseline": {"cs_accuracy": real["baseline_cs_accuracy"], "answer": real["baseline_answer"]},
                       "by_scan_range": real["by_scan_range"], "with_indexing": real["with_indexing"]}}
    sim = shipped["simulated_test"]
    if "pooled_with_forest" in sim:  # the answers as given: the networks pooled with the checkpoint's forest
        report["simulated_test"] = {"pooled": sim["pooled_with_forest"]}
    if "pooled_with_search_match" in sim:  # ... and then with its search-match library
        report.setdefault("simulated_test", {})["search_match"] = sim["pooled_with_search_match"]
    card = calibrate.card_of(report, real["name"], sim["split_kind"], {"n": sim["n"], "cs_accuracy": sim["cs_accuracy"],
                             "sg_accuracy": sim["sg_accuracy"]}, shipped["n_networks"], real["note"])
    assert json.dumps(card.to_dict(), indent=2) + "\n" == (SHIPPED / "card.json").read_text()


def test_rules_of_another_version_are_refused_naming_the_file(tmp_path):
    folder = _copy_of_shipped(tmp_path / "rules", members=False)
    (folder / "rules").mkdir()
    tree = json.loads((SHIPPED / "rules" / "tree.json").read_text())
    tree["version"] = 99
    (folder / "rules" / "tree.json").write_text(json.dumps(tree))
    with pytest.raises(ValueError, match=r"tree\.json: surrogate tree version 99"):
        Checkpoint.load(folder)

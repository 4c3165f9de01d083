"""The shipped checkpoint on genuine instrument files: read, predict, proper probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xrdnet.symmetry import crystal_system_index

DATA = Path(__file__).resolve().parents[1] / "data"
RRUFF = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rruff"
GENUINE = [p for p in [DATA / "formats" / "xrdml" / "datalab_HL1-2_5-90_60min.xrdml",
                       DATA / "formats" / "bruker_raw_v2" / "pyxrd_brk_raw2_zincite.raw",
                       DATA / "formats" / "xy" / "datalab_example_ocx.xy"] if p.is_file()]


@pytest.fixture(scope="module")
def results():
    from xrdnet.predict import predict_file_results

    files = GENUINE or sorted(RRUFF.glob("*.xy"))[:2]
    if not files:
        pytest.skip("no genuine instrument file in tests/data/formats nor ../shared/data/rruff")
    found, errors, predictor = predict_file_results(files, None, force=True)  # None: the shipped checkpoint
    return files, found, errors


def test_shipped_checkpoint_reads_and_answers_genuine_files(results):
    files, found, errors = results
    readable = {str(r.source) for r in found}
    assert len(found) >= 1 and len(found) + len(errors) == len(files), errors
    for r in found:
        cs, sg = np.asarray(r.crystal_system_proba), np.asarray(r.space_group_proba)
        assert cs.shape == (7,) and sg.shape == (230,)
        assert np.all(cs >= 0) and np.all(sg >= 0)
        assert cs.sum() == pytest.approx(1.0, abs=1e-5) and sg.sum() == pytest.approx(1.0, abs=1e-5)
        # the crystal-system answer is the most probable system and its group lies inside it
        assert r.crystal_system.index == int(np.argmax(cs))
        assert r.crystal_system.probability == pytest.approx(cs.max(), abs=1e-6)
        assert crystal_system_index(int(r.space_group.index)) == r.crystal_system.index
        assert len(r.peaks_two_theta_deg) > 0  # a measured pattern has peaks
    assert readable


def test_shipped_checkpoint_carries_its_grid_and_version():
    import torch

    from xrdnet.models.cnn import CNNClassifier
    from xrdnet.api import default_checkpoint

    path = Path(default_checkpoint())
    ckpt = path / "model.ckpt" if path.is_dir() else path
    model = CNNClassifier.from_checkpoint(ckpt)
    assert len(model.hparams["two_theta_deg"]) == model.hparams["n_points"]
    with torch.no_grad():
        out = model(torch.zeros(1, model.hparams["n_points"]))
    assert out.shape == (1, 230) and torch.isfinite(out).all()


def test_shipped_checkpoint_states_its_wavelength():
    """No default is assumed any more (issue 21): the shipped run must carry its own Cu Kα1."""
    from xrdnet.api import default_checkpoint
    from xrdnet.models.runs import load_run

    run = load_run(default_checkpoint())
    assert run.model.hparams["wavelength_angstrom"] == pytest.approx(1.54056)
    assert run.wavelength_angstrom == pytest.approx(1.54056)


def test_every_member_of_the_shipped_checkpoint_loads_on_the_same_grid():
    """The shipped folder may be an ensemble (members.json): each member a run on the first's grid and line."""
    from xrdnet.api import default_checkpoint
    from xrdnet.models.runs import checkpoint_members, ensemble_calibration, load_run

    members = checkpoint_members(default_checkpoint())
    runs = [load_run(m) for m in members]
    for run in runs[1:]:
        assert np.array_equal(run.grid_two_theta_deg, runs[0].grid_two_theta_deg)
        assert run.wavelength_angstrom == pytest.approx(runs[0].wavelength_angstrom)
        assert (run.path / "calibration.json").is_file()
    if len(members) > 1:
        cal = ensemble_calibration(default_checkpoint())
        assert cal is not None and 0.2 < cal.cs_temperature < 5 and 0.2 < cal.sg_temperature < 5


def test_shipped_checkpoint_names_the_closest_references(results):
    """Search-match: every answer names three references, best first, at a scale inside the searched range;
    the genuine zincite scan (ZnO, a = 3.2499, c = 5.2067 Å) finds a ZnO reference at its own size."""
    files, found, _ = results
    for r in found:
        refs = r.reference_matches
        assert len(refs) == 3
        assert {"id", "formula", "crystal_system", "space_group", "space_group_symbol", "similarity",
                "d_scale"} <= set(refs[0])
        sims = [ref["similarity"] for ref in refs]
        assert sims == sorted(sims, reverse=True) and 0 <= sims[-1] <= sims[0] <= 1
        assert all(0.95 < ref["d_scale"] < 1.05 for ref in refs)
        if "zincite" in str(r.source):
            assert refs[0]["formula"] == "ZnO" and refs[0]["space_group"] == 186
            assert refs[0]["similarity"] > 0.9 and abs(refs[0]["d_scale"] - 1) < 0.005

"""The prediction API on arrays: the checks before answering, calibration, priors, abstention, ensembles.

The checks are pure functions of arrays (``check_pattern``) and are tested on the shipped model's
grid without loading a model; the Predictor is tested on a tiny CNN and a tiny forest trained on the
shared tiny data set.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from xrdnet import api
from xrdnet.api import Predictor, check_pattern
from xrdnet.calibration import (
    Calibration,
    accuracy_vs_coverage,
    apply_prior,
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    load_prior,
    reliability_diagram,
    training_prior,
)
from xrdnet.data.datamodule import DataConfig
from xrdnet.models.cnn import CNNConfig
from xrdnet.models.forest import ForestConfig
from xrdnet.simulate import XRDSimulator
from xrdnet.train import TrainConfig, TrainerConfig, train
from xrdnet.units import q_inv_angstrom_from_two_theta

GRID = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 4)  # the shipped model's grid
LAM = 1.54056


@pytest.fixture(scope="module")
def nacl_pattern(nacl):
    sim = XRDSimulator("CuKa", (5.0, 90.0), 0.02)
    return sim.two_theta_deg().numpy().astype(np.float64), sim.patterns([nacl], seed=3)[0].numpy() * 5000 + 20


def codes(prepared):
    return [w.code for w in prepared.warnings]


# --------------------------------------------------------------------------- checks (no model)


def test_a_clean_2theta_pattern_with_its_wavelength_passes_every_check(nacl_pattern):
    x, y = nacl_pattern
    p = check_pattern(x, y, GRID, LAM, wavelength_angstrom=LAM, x_unit_source="default")
    assert p.refusal is None and codes(p) == [] and p.coverage == 1.0
    assert len(p.peaks_two_theta_deg) >= 6


def test_no_wavelength_is_assumed_and_said(nacl_pattern):
    x, y = nacl_pattern
    p = check_pattern(x, y, GRID, LAM, x_unit_source="default")
    assert codes(p) == ["wavelength_assumed"] and p.refusal is None
    assert "1.54056" in p.warnings[0].message and p.wavelength_source == "assumed"


def test_a_stated_q_axis_is_converted_without_a_wavelength_and_flagged(nacl_pattern):
    x, y = nacl_pattern
    q = q_inv_angstrom_from_two_theta(x, LAM)
    as_q = check_pattern(q, y, GRID, LAM, x_unit="q", x_unit_source="header")
    as_2theta = check_pattern(x, y, GRID, LAM, wavelength_angstrom=LAM)
    assert codes(as_q) == ["x_axis_not_2theta"] and as_q.refusal is None  # no wavelength_assumed
    np.testing.assert_allclose(as_q.row, as_2theta.row, atol=2e-3)
    # d spacing (decreasing, as d files are written) gives the same pattern
    d = 2 * np.pi / q
    as_d = check_pattern(d[::-1], y[::-1], GRID, LAM, x_unit="d", x_unit_source="argument")
    assert codes(as_d) == ["x_axis_not_2theta"] and as_d.refusal is None
    np.testing.assert_allclose(as_d.row, as_2theta.row, atol=2e-3)


def test_the_assumed_wavelength_is_the_models_own_line(nacl_pattern):
    """Issue 21: the message said "Cu Kα1" whatever the model's wavelength was."""
    x, y = nacl_pattern
    mo = check_pattern(x, y, GRID, 0.7093, x_unit_source="default")
    message = mo.warnings[0].message
    assert codes(mo) == ["wavelength_assumed"] and "Mo Kα1, λ = 0.70930 Å" in message and "Cu" not in message
    assert "Cu Kα1, λ = 1.54056 Å" in check_pattern(x, y, GRID, LAM, x_unit_source="default").warnings[0].message
    synchrotron = check_pattern(x, y, GRID, 0.41458, x_unit_source="default").warnings[0].message
    assert "λ = 0.41458 Å" in synchrotron and "K" not in synchrotron.split("λ")[0].split("model's")[1]


def test_a_run_or_model_without_a_stated_wavelength_is_refused_not_read_as_cu(tmp_path):
    """Issue 21: a run stating no wavelength was silently taken as 1.5406 Å."""
    from types import SimpleNamespace

    from xrdnet.models.runs import LoadedRun

    cnn = LoadedRun(tmp_path / "old-cnn", "cnn", {"model_file": "model.ckpt"},
                    SimpleNamespace(hparams={"wavelength_angstrom": None, "data_attrs": {}}))
    with pytest.raises(ValueError, match=r"old-cnn.*states no wavelength.*model\.ckpt"):
        cnn.wavelength_angstrom
    forest = LoadedRun(tmp_path / "old-et", "forest", {}, SimpleNamespace(wavelength_angstrom_=None))
    with pytest.raises(ValueError, match=r"old-et.*states no wavelength"):
        forest.wavelength_angstrom
    stated = LoadedRun(tmp_path / "cnn", "cnn", {}, SimpleNamespace(
        hparams={"wavelength_angstrom": None, "data_attrs": {"kalpha1_angstrom": 0.7093}}))
    assert stated.wavelength_angstrom == pytest.approx(0.7093)
    with pytest.raises(ValueError, match="no wavelength stated"):
        api.ModelInfo(name="m", kinds=("cnn",), paths=("m",), calibrated=False, temperatures=((1.0, 1.0),))


def test_q_or_d_values_read_as_2theta_are_refused(nacl_pattern):
    x, y = nacl_pattern
    q = q_inv_angstrom_from_two_theta(x, LAM)
    p = check_pattern(q, y, GRID, LAM, x_unit_source="default")
    assert "x_axis_not_2theta" in codes(p) and p.refusal is not None
    d = 2 * np.pi / q  # 17.7 .. 1.1 Å, decreasing
    p = check_pattern(d, y, GRID, LAM, x_unit_source="default")
    assert "x_axis_not_2theta" in codes(p) and p.refusal is not None
    # but a decreasing 2θ scan over a 2θ range is only reversed
    p = check_pattern(x[::-1], y[::-1], GRID, LAM, wavelength_angstrom=LAM, x_unit_source="default")
    assert p.refusal is None and "x_axis_not_2theta" not in codes(p)


def test_truncated_ranges_warn_then_refuse(nacl_pattern):
    x, y = nacl_pattern
    part = (x >= 20) & (x <= 60)  # 40 of 85 degrees
    p = check_pattern(x[part], y[part], GRID, LAM, wavelength_angstrom=LAM)
    assert "low_coverage" in codes(p) and p.refusal is None
    part = (x >= 30) & (x <= 40)  # 12 %
    p = check_pattern(x[part], y[part], GRID, LAM, wavelength_angstrom=LAM)
    assert "low_coverage" in codes(p) and "covers" in p.refusal
    assert p.coverage < api.MIN_COVERAGE


def test_an_amorphous_hump_is_refused():
    rng = np.random.default_rng(0)
    x = np.arange(5.0, 90.0, 0.02)
    hump = 800 * np.exp(-0.5 * ((x - 24.0) / 5.0) ** 2) + 300 * np.exp(-0.5 * ((x - 43.0) / 7.0) ** 2) + 50
    y = rng.poisson(hump).astype(float)
    p = check_pattern(x, y, GRID, LAM, wavelength_angstrom=LAM)
    assert "amorphous" in codes(p) and p.refusal is not None


def test_too_few_peaks_are_refused():
    x = np.arange(5.0, 90.0, 0.02)
    y = 10 + 1000 * np.exp(-0.5 * ((x - 33.0) / 0.05) ** 2) + 400 * np.exp(-0.5 * ((x - 47.0) / 0.05) ** 2)
    p = check_pattern(x, y, GRID, LAM, wavelength_angstrom=LAM)
    assert "too_few_peaks" in codes(p) and p.refusal is not None


def test_the_genuine_thin_film_scan_is_refused_and_the_scan_axis_is_named():
    from pathlib import Path

    from xrdnet.patterns_io import read_pattern

    path = Path(__file__).resolve().parents[2] / "shared/data/formats/xrdml/nomad_m54313_om2th_10.xrdml"
    if not path.is_file():
        pytest.skip("shared data folder not present")
    pattern = read_pattern(path)
    p = check_pattern(pattern.two_theta_deg, pattern.intensity, GRID, LAM,
                      wavelength_angstrom=pattern.wavelength_angstrom, metadata=pattern.metadata)
    assert "thin_film" in codes(p) and p.refusal is not None
    assert any("2Theta-Omega" in w.message for w in p.warnings)


def test_one_family_of_orders_is_a_thin_film():
    # an epitaxial film: (00l) orders of one spacing (Q ratios 1:2:3) and nothing else
    x = np.arange(5.0, 90.0, 0.01)
    d = 6.0
    y = np.full_like(x, 5.0)
    for n, h in ((1, 1000), (2, 300), (3, 120)):
        t = 2 * np.degrees(np.arcsin(n * LAM / (2 * d)))
        y += h * np.exp(-0.5 * ((x - t) / 0.03) ** 2)
    p = check_pattern(x, y, GRID, LAM, wavelength_angstrom=LAM)
    assert "thin_film" in codes(p) and p.refusal is not None


def test_check_peaks_decides_on_the_measurements_the_calibration_sweeps(nacl_pattern):
    # scripts/calibrate_checks.py chooses the refusal thresholds on api.peak_measurements: it must be
    # exactly what check_peaks counts
    x, y = nacl_pattern
    row = check_pattern(x, y, GRID, LAM, wavelength_angstrom=LAM).row
    peaks, heights, hump = api.peak_measurements(row, GRID)
    _, refusal, counted = api.check_peaks(row, GRID, LAM)
    np.testing.assert_array_equal(peaks, counted)
    assert len(peaks) >= api.MIN_PEAKS and hump < api.AMORPHOUS_HUMP_RATIO and refusal is None
    assert len(heights) == len(peaks) and api._one_family(peaks, heights, LAM) is None


def test_metadata_words_flag_a_film_without_refusing(nacl_pattern):
    x, y = nacl_pattern
    p = check_pattern(x, y, GRID, LAM, wavelength_angstrom=LAM, metadata={"scan_axis": "2Theta-Omega"})
    assert codes(p) == ["thin_film"] and p.refusal is None


# --------------------------------------------------------------------------- calibration, priors, abstention


def _overconfident(n=4000, k=7, seed=0):
    """Logits whose softmax is right ~60 % of the time but claims ~95 %: temperature > 1 fixes it."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), labels] += 1.5
    logits *= 4.0  # overconfident
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True), labels


def test_temperature_scaling_keeps_the_answer_and_lowers_the_ece():
    p, y = _overconfident()
    t = fit_temperature(p[:2000], y[:2000])
    assert t > 1.5
    q = apply_temperature(p[2000:], t)
    assert np.array_equal(q.argmax(1), p[2000:].argmax(1))
    assert not np.allclose(q, p[2000:])
    before, after = expected_calibration_error(p[2000:], y[2000:]), expected_calibration_error(q, y[2000:])
    assert after < 0.05 < before
    np.testing.assert_allclose(q.sum(1), 1.0)
    np.testing.assert_allclose(apply_temperature(p, 1.0), p, atol=1e-12)


def test_calibration_round_trips_through_its_file(tmp_path):
    p, y = _overconfident(k=7)
    sg = np.zeros((len(p), 230))
    sg[:, :7] = p  # groups 1..7 stand in for the space-group head
    cal = Calibration.fit(p, sg, y, y + 1, fitted_on={"data": "synthetic", "split": "val"})
    cal.save(tmp_path)
    back = Calibration.load(tmp_path)
    assert back.cs_temperature == pytest.approx(cal.cs_temperature) and back.fitted_on["split"] == "val"
    assert Calibration.load(tmp_path / "nowhere") is None
    cs2, sg2 = back.apply(p, sg)
    assert np.array_equal(cs2.argmax(1), p.argmax(1)) and np.array_equal(sg2.argmax(1), sg.argmax(1))
    assert reliability_diagram({"synthetic": (cs2.max(1), cs2.argmax(1) == y)}, tmp_path / "r.png").stat().st_size


def test_accuracy_vs_coverage_is_highest_on_the_most_confident():
    p, y = _overconfident()
    rows = accuracy_vs_coverage(p.max(1), p.argmax(1) == y, (1.0, 0.5, 0.1))
    assert [r["coverage"] for r in rows] == [1.0, 0.5, 0.1]
    assert rows[0]["accuracy"] <= rows[1]["accuracy"] <= rows[2]["accuracy"]
    assert rows[0]["n"] == len(y)


def test_prior_reweights_by_the_ratio_to_the_training_prior(tmp_path):
    rng = np.random.default_rng(1)
    sg = rng.dirichlet(np.ones(230), 5)
    cs = rng.dirichlet(np.ones(7), 5)
    train = load_prior("uniform")
    # the same prior as in training changes nothing
    cs2, sg2 = apply_prior(cs, sg, train, train)
    np.testing.assert_allclose(sg2, sg)
    np.testing.assert_allclose(cs2, cs)
    # a prior file that puts all mass on P2_1/c moves every answer there
    f = tmp_path / "prior.csv"
    f.write_text("space_group,count\n14,1000000\n")
    cs3, sg3 = apply_prior(cs, sg, load_prior(f), train)
    assert np.all(sg3.argmax(1) == 13) and np.all(cs3.argmax(1) == 1)
    minerals = load_prior("minerals")
    assert minerals.shape == (230,) and minerals.sum() == pytest.approx(1.0) and minerals.min() > 0
    assert 14 in np.argsort(-minerals)[:5] + 1  # P2_1/c is among the commonest mineral groups


def test_training_prior_counts_compound_pairs_and_reweights_systems(tmp_path):
    import gzip

    with gzip.open(tmp_path / "training_set.tsv.gz", "wt") as f:
        f.write("source\tcompound\tname\tspace_group\n")
        for i in range(30):
            f.write(f"mp:{i}\tNaCl\t\t225\n")  # one (compound, group) pair, thirty entries
        f.write("mp:x\tSi\t\t227\nmp:y\tKCl\t\t225\nmp:z\tFeS2\t\t14\n")
    plain = training_prior(tmp_path, sample_weights="none")
    pairs = training_prior(tmp_path, sample_weights="compound")
    assert plain[224] > pairs[224]  # thirty NaCl entries weigh as one pair
    assert pairs[224] / pairs[13] == pytest.approx((2 + 1) / (1 + 1))  # two pairs vs one, plus the pseudo-count


# --------------------------------------------------------------------------- the predictor


@pytest.fixture(scope="module")
def runs(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("api_runs")
    train(TrainConfig(model="cnn", data=DataConfig(batch_size=16), cnn=CNNConfig(channels=(8, 8, 16), hidden=32,
                                                                                  stem_stride=2),
                      trainer=TrainerConfig(max_epochs=1, progress_bar=False, accelerator="cpu", devices=1)),
          tiny_dataset, root / "cnn")
    train(TrainConfig(model="forest", forest=ForestConfig(cs_n_estimators=10, sg_n_estimators=10, n_jobs=1)),
          tiny_dataset, root / "et")
    return root / "cnn", root / "et"


@pytest.fixture(scope="module")
def tiny_pattern(nacl):
    sim = XRDSimulator("CuKa", (10.0, 70.0), 0.02)
    return sim.two_theta_deg().numpy().astype(np.float64), sim.patterns([nacl], seed=3)[0].numpy() * 5000 + 20


def test_predictor_answers_arrays_with_a_typed_result(runs, tiny_pattern):
    x, y = tiny_pattern
    pred = Predictor(runs[0], top_k=3)
    r = pred.predict(x, y, wavelength="CuKa")
    assert r.status == "answered" and not r.refused and r.crystal_system is not None
    assert len(r.top_crystal_systems) == 3 and len(r.top_space_groups) == 3
    assert r.crystal_system.probability == pytest.approx(r.crystal_system_proba.max())
    from xrdnet.symmetry import crystal_system_index

    assert crystal_system_index(r.space_group.index) == r.crystal_system.index
    assert r.space_group_is_overall_top == (r.space_group.index == r.top_space_groups[0].index)
    d = r.to_dict()
    json.dumps(d)
    assert d["model"]["name"] == "cnn"
    # a clean NaCl pattern: no finding but the indexing's, which names NaCl's cubic F cell and, being
    # confident, moves the answer to cubic; a one-epoch toy network rarely says cubic by itself
    assert d["cell"]["family"] == "cubic" and d["cell"]["centring"] == "F"
    assert d["cell"]["a"] == pytest.approx(5.64, rel=2e-3)
    assert r.combined_with_indexing and r.crystal_system.name == "cubic"
    codes = [w["code"] for w in d["warnings"]]
    assert codes == ([] if r.network_crystal_system.name == "cubic" else ["answer_from_indexing"])
    # switched off, the network's answer stands and a disagreement is only warned
    alone = Predictor(runs[0], top_k=3, combine_indexing=False).predict(x, y, wavelength="CuKa")
    assert not alone.combined_with_indexing and alone.crystal_system.name == r.network_crystal_system.name
    assert [w.code for w in alone.warnings] == ([] if alone.crystal_system.name == "cubic" else ["indexing_disagrees"])


def test_refusal_force_and_min_confidence(runs, tiny_pattern):
    x, y = tiny_pattern
    pred = Predictor(runs[0])
    q = q_inv_angstrom_from_two_theta(x, LAM)
    refused = pred.predict(q, y, wavelength="CuKa")  # Q values called 2θ
    assert refused.refused and refused.crystal_system is None and refused.top_crystal_systems == []
    assert "x_axis_not_2theta" in refused.warning_codes and refused.refusal_reason
    assert pred.predict(q, y, wavelength="CuKa", force=True).refused  # nothing on the model's grid to force
    part = (x >= 30) & (x <= 38)  # 13 % of the model's 10-70° range
    short = pred.predict(x[part], y[part], wavelength="CuKa")
    assert short.refused and "low_coverage" in short.warning_codes
    forced = pred.predict(x[part], y[part], wavelength="CuKa", force=True)
    assert forced.forced and forced.crystal_system is not None and "forced" in forced.warning_codes
    assert "low_coverage" in forced.warning_codes
    ok = pred.predict(q, y, x_unit="q")
    assert ok.status == "answered" and "x_axis_not_2theta" in ok.warning_codes
    strict = Predictor(runs[0], min_confidence=0.999)
    unsure = strict.predict(x, y, wavelength="CuKa")
    assert unsure.status == "uncertain" and unsure.crystal_system is None
    assert unsure.top_crystal_systems and "low_confidence" in unsure.warning_codes


def test_calibration_in_the_checkpoint_changes_probabilities_not_answers(runs, tiny_pattern, tmp_path):
    import shutil

    x, y = tiny_pattern
    folder = tmp_path / "cnn"
    shutil.copytree(runs[0], folder)
    # the network's own probabilities: a confident cell mixed in would move them too
    raw = Predictor(folder, combine_indexing=False).predict(x, y, wavelength="CuKa")
    Calibration(cs_temperature=2.5, sg_temperature=2.5).save(folder)
    cal = Predictor(folder, combine_indexing=False).predict(x, y, wavelength="CuKa")
    assert cal.model.calibrated and not raw.model.calibrated
    assert cal.crystal_system.index == raw.crystal_system.index and cal.space_group.index == raw.space_group.index
    assert cal.crystal_system.probability < raw.crystal_system.probability


def test_prior_is_applied_and_reported(runs, tiny_pattern, tmp_path):
    x, y = tiny_pattern
    f = tmp_path / "cubic.csv"
    f.write_text("225,1000000\n")
    r = Predictor(runs[0], prior=f).predict(x, y, wavelength="CuKa")
    assert r.crystal_system.name == "cubic" and r.space_group.index == 225 and "prior" in r.warning_codes
    u = Predictor(runs[0], prior="uniform").predict(x, y, wavelength="CuKa")
    assert u.prior == "uniform"


def test_forest_run_and_ensemble(runs, tiny_pattern):
    x, y = tiny_pattern
    forest = Predictor(runs[1]).predict(x, y, wavelength="CuKa")
    assert forest.status == "answered" and forest.model.kinds == ("forest",)
    cnn = Predictor(runs[0]).predict(x, y, wavelength="CuKa")
    both = Predictor(list(runs)).predict(x, y, wavelength="CuKa")
    assert both.model.kinds == ("cnn", "forest") and "ensemble" in both.model.name
    np.testing.assert_allclose(both.crystal_system_proba,
                               (cnn.crystal_system_proba + forest.crystal_system_proba) / 2, atol=1e-6)


def test_a_checkpoint_folder_with_members_answers_as_their_ensemble_with_its_own_card(runs, tiny_pattern, tmp_path):
    import json
    import shutil

    from xrdnet.models.runs import checkpoint_members

    x, y = tiny_pattern
    folder = tmp_path / "shipped"
    shutil.copytree(runs[0], folder)
    shutil.copytree(runs[1], folder / "members" / "et")
    (folder / "members.json").write_text(json.dumps({"format_version": 1, "members": ["members/et"]}))
    (folder / "card.json").write_text(json.dumps({"real": {"name": "RRUFF", "n": 9, "cs_accuracy": 0.5}}))
    assert checkpoint_members(folder) == [folder, folder / "members" / "et"]
    both = Predictor(folder).predict(x, y, wavelength="CuKa")
    cnn, forest = (Predictor(r).predict(x, y, wavelength="CuKa") for r in runs)
    np.testing.assert_allclose(both.crystal_system_proba,
                               (cnn.crystal_system_proba + forest.crystal_system_proba) / 2, atol=1e-6)
    assert both.model.kinds == ("cnn", "forest") and "ensemble of 2 networks" in both.model.name
    assert both.model.real_cs_accuracy == 0.5  # the folder's card describes the ensemble
    # the ensemble's own temperatures act on the average of its calibrated members
    from xrdnet.calibration import Calibration
    from xrdnet.models.runs import ensemble_calibration, write_ensemble_calibration

    write_ensemble_calibration(folder, Calibration(0.5, 2.0, fitted_on={"n": 3}))
    assert json.loads((folder / "members.json").read_text())["members"] == ["members/et"]
    assert ensemble_calibration(folder).cs_temperature == 0.5
    # (the network alone: indexing evidence is mixed in after the temperatures)
    plain = Predictor(folder, combine_indexing=False, calibrate=True)
    plain.ensemble_calibration = None
    average = plain.predict(x, y, wavelength="CuKa")
    tempered = Predictor(folder, combine_indexing=False).predict(x, y, wavelength="CuKa")
    expected, _ = Calibration(0.5, 2.0).apply(average.crystal_system_proba[None], average.space_group_proba[None])
    np.testing.assert_allclose(tempered.crystal_system_proba, expected[0], atol=1e-6)
    # a broken list is refused naming the file; members must stay inside the folder
    for bad, match in (({"format_version": 2, "members": []}, "format_version"),
                       ({"format_version": 1, "members": ["../et"]}, "inside the checkpoint"),
                       ({"format_version": 1, "members": ["members/none"]}, "not a run folder")):
        (folder / "members.json").write_text(json.dumps(bad))
        with pytest.raises((ValueError, FileNotFoundError), match=match):
            Predictor(folder)
    (folder / "members.json").write_text("{not json")
    with pytest.raises(ValueError, match="members.json: unreadable"):
        Predictor(folder)


def test_a_checkpoint_with_a_forest_pool_answers_with_the_pooled_systems(runs, tiny_pattern, tmp_path):
    import json
    import shutil

    from xrdnet.checkpoint.forest_pool import write_forest_pool
    from xrdnet.calibration import apply_temperature
    from xrdnet.inference.pooling import log_linear_pool
    from xrdnet.symmetry import space_group_to_crystal_system_table

    x, y = tiny_pattern
    folder = tmp_path / "pooled"
    shutil.copytree(runs[0], folder)
    shutil.copytree(runs[1], folder / "forest")
    alone = Predictor(folder, combine_indexing=False).predict(x, y, wavelength="CuKa")
    forest = Predictor(runs[1], combine_indexing=False).predict(x, y, wavelength="CuKa")
    write_forest_pool(folder, "forest", 0.5, "a test")
    pooled = Predictor(folder, combine_indexing=False).predict(x, y, wavelength="CuKa")
    expected = log_linear_pool(alone.crystal_system_proba[None], forest.crystal_system_proba[None], 0.5)[0]
    np.testing.assert_allclose(pooled.crystal_system_proba, expected, atol=1e-9)
    # space groups: the pooled systems' shares, the network's order within each system
    table = space_group_to_crystal_system_table()[1:]
    np.testing.assert_allclose(np.bincount(table, weights=pooled.space_group_proba, minlength=7), expected, atol=1e-6)
    assert pooled.model.forest_weight == 0.5 and alone.model.forest_weight is None
    assert pooled.to_dict()["model"]["forest_weight"] == 0.5
    # the pool's temperature (xrdnet calibrate fits it) tempers the pooled systems
    write_forest_pool(folder, "forest", 0.5, "a test", temperature=0.5, fitted_on={"split": "val"})
    tempered = Predictor(folder, combine_indexing=False).predict(x, y, wavelength="CuKa")
    np.testing.assert_allclose(tempered.crystal_system_proba, apply_temperature(expected[None], 0.5)[0], atol=1e-9)
    write_forest_pool(folder, "forest", 0.5, "a test")
    # the indexing cell is not mixed in again by default (the forest reads it), unless the pool says so
    assert Predictor(folder).combine_indexing is False and Predictor(runs[0]).combine_indexing is True
    assert Predictor(folder, combine_indexing=True).combine_indexing is True
    write_forest_pool(folder, "forest", 0.5, "a test", combine_indexing=True)
    assert Predictor(folder).combine_indexing is True
    # a pool that cannot be read refuses the checkpoint, naming the file (never answers without the forest)
    for bad, match in (({"format_version": 2, "forest": "forest", "forest_weight": 0.5}, "format_version"),
                       ({"format_version": 1, "forest": "../et", "forest_weight": 0.5}, "inside the checkpoint"),
                       ({"format_version": 1, "forest": "none", "forest_weight": 0.5}, "not a run folder"),
                       ({"format_version": 1, "forest": "forest", "forest_weight": 2}, "forest_weight"),
                       ({"format_version": 1, "forest": ".", "forest_weight": 0.5}, "not a forest"),
                       ({"format_version": 1, "forest": "forest", "forest_weight": 0.5, "combine_indexing": "no"},
                        "combine_indexing"),
                       ({"format_version": 1, "forest": "forest", "forest_weight": 0.5,
                         "calibration": {"cs_temperature": -1}}, "cs_temperature")):
        (folder / "forest_pool.json").write_text(json.dumps(bad))
        with pytest.raises((ValueError, FileNotFoundError), match=match) as info:
            Predictor(folder)
        assert "forest_pool.json" in str(info.value) and "\n" not in str(info.value)


def test_xrdnet_predict_is_callable_and_the_module_still_imports(runs, tiny_pattern):
    import xrdnet
    from xrdnet.predict import default_checkpoint, format_result, predict_files  # noqa: F401

    x, y = tiny_pattern
    r = xrdnet.predict(x, y, wavelength="CuKa", checkpoint=runs[0])
    assert isinstance(r, xrdnet.PredictionResult) and r.status == "answered"
    assert xrdnet.Predictor is Predictor


def test_mixture_detector_raises_its_code(runs, tiny_pattern):
    x, y = tiny_pattern
    pred = Predictor(runs[0])

    class Always:
        threshold = 0.5

        def mixture_probability(self, patterns):
            assert patterns.ndim == 2 and patterns.shape[1] == len(pred.grid)
            return np.full(len(patterns), 0.9, dtype=np.float32)

    pred.mixture = Always()
    r = pred.predict(x, y, wavelength="CuKa")
    assert "likely_mixture" in r.warning_codes and r.mixture_probability == pytest.approx(0.9)


def test_a_detector_with_evidence_flags_by_the_combined_probability(runs, tiny_pattern):
    """Issue 20 part 5: the flag is the combiner's answer on the detector's logit and the indexing evidence."""
    from xrdnet.mixture.evidence import EVIDENCE_FEATURES, EvidenceCombiner

    x, y = tiny_pattern
    pred = Predictor(runs[0])
    f = len(EVIDENCE_FEATURES)
    # a combiner that ignores the detector and trusts one column: log(1 + M) of the best cell
    coef = np.zeros(f)
    coef[EVIDENCE_FEATURES.index("best_log_merit")] = -4.0

    class Quiet:
        threshold = 0.5
        evidence = EvidenceCombiner(EVIDENCE_FEATURES, np.zeros(f), np.ones(f), coef, 10.0, threshold=0.5)

        def mixture_probability(self, patterns):
            return np.full(len(patterns), 0.1, dtype=np.float32)

    pred.mixture = Quiet()
    r = pred.predict(x, y, wavelength="CuKa")
    merit = (r.cell or {}).get("figure_of_merit", 0.0)
    expected = 1.0 / (1.0 + np.exp(-(10.0 - 4.0 * np.log1p(merit))))
    assert r.mixture_detector_probability == pytest.approx(0.1)
    assert r.mixture_probability == pytest.approx(expected)
    assert ("likely_mixture" in r.warning_codes) == (expected >= 0.5)
    assert r.to_dict()["mixture_detector_probability"] == pytest.approx(0.1)


def test_a_detector_that_fails_to_load_is_warned_and_named_on_the_result(runs, tiny_pattern, monkeypatch):
    """Issue 21: a broken mixture detector used to vanish silently; the answer still comes back."""
    import xrdnet.mixture

    def broken(checkpoint):
        raise OSError("detector.pt is truncated")

    monkeypatch.setattr(xrdnet.mixture, "load_mixture_detector", broken)
    x, y = tiny_pattern
    with pytest.warns(RuntimeWarning, match=r"mixture detector .* could not be loaded.*OSError: detector.pt is truncated"):
        pred = Predictor(runs[0])
    assert pred.mixture is None
    r = pred.predict(x, y, wavelength="CuKa")
    assert r.status == "answered" and api.MIXTURE_UNAVAILABLE in r.warning_codes and r.mixture_probability is None
    message = next(w.message for w in r.warnings if w.code == api.MIXTURE_UNAVAILABLE)
    assert "OSError" in message and "truncated" in message and "\n" not in message


def test_a_detector_that_fails_on_a_batch_is_warned_and_named_on_the_result(runs, tiny_pattern):
    x, y = tiny_pattern
    pred = Predictor(runs[0])

    class Broken:
        threshold = 0.5

        def mixture_probability(self, patterns):
            raise RuntimeError("shape mismatch")

    pred.mixture = Broken()
    with pytest.warns(RuntimeWarning, match=r"mixture detector failed on a batch of 2 .*RuntimeError: shape mismatch"):
        results = pred.predict_many([dict(x=x, intensity=y, wavelength="CuKa")] * 2)
    assert all(r.status == "answered" and api.MIXTURE_UNAVAILABLE in r.warning_codes for r in results)
    assert all(r.mixture_probability is None for r in results)


def test_the_api_module_is_a_shim_that_keeps_every_old_name():
    """Issue 21: api.py was split into signal/, checks/, checkpoint/ and inference/; old imports keep working."""
    import xrdnet.checks
    import xrdnet.inference
    import xrdnet.signal

    old = ("Predictor PredictionResult PredictionWarning Warning ClassScore RuleExplanation ModelInfo predict "
           "check_pattern default_checkpoint X_UNITS MIN_COVERAGE WARN_COVERAGE MIN_PEAKS SHARP_PEAK_MIN_HEIGHT "
           "AMORPHOUS_HUMP_RATIO BACKGROUND_WINDOW_DEG PEAK_SIGMAS SMOOTH_DEG X_AXIS_MAX_FOR_Q_OR_D "
           "THIN_FILM_FAMILY_SHARE THIN_FILM_MAX_FAMILY_PEAKS THIN_FILM_MAX_PEAKS AMORPHOUS_MAX_PEAKS REFUSING_CODES "
           "MIXTURE_UNAVAILABLE check_x_axis noise_sigma peak_measurements check_peaks check_metadata "
           "rule_for_pattern _one_family _Prepared _DEFAULT").split()
    assert not [name for name in old if not hasattr(api, name)]
    assert api.Predictor is xrdnet.inference.Predictor and api.check_pattern is xrdnet.checks.check_pattern
    assert api.peak_measurements is xrdnet.signal.peak_measurements
    assert api.REFUSING_CODES == ("x_axis_not_2theta", "low_coverage", "too_few_peaks", "amorphous", "thin_film")

"""xrdnet predict on files: the whole path, every check's flag or refusal, the CLI, the shipped checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xrdnet.models.forest import ForestConfig
from xrdnet.predict import predict_files
from xrdnet.simulate import XRDSimulator
from xrdnet.symmetry import crystal_system_index
from xrdnet.train import TrainConfig, train
from xrdnet.units import q_inv_angstrom_from_two_theta

from .conftest import train_tiny_cnn

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ENV = dict(os.environ, PYTHONWARNINGS="ignore")


@pytest.fixture(scope="module")
def checkpoint(tiny_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "cnn"
    return train_tiny_cnn(tiny_dataset, folder)


@pytest.fixture(scope="module")
def forest(tiny_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("forest") / "et"
    train(TrainConfig(model="forest", forest=ForestConfig(cs_n_estimators=10, sg_n_estimators=10, n_jobs=1)),
          tiny_dataset, folder)
    return folder


@pytest.fixture(scope="module")
def nacl_scan(nacl):
    """A NaCl pattern on a measured-style grid (Cu Kα, 0.02° steps, counts up to 5000)."""
    sim = XRDSimulator("CuKa", (8.0, 80.0), 0.02)
    return sim.two_theta_deg().numpy().astype(np.float64), sim.patterns([nacl], seed=3)[0].numpy() * 5000 + 20


def _write_xy(path, x, intensity, header="# 2theta intensity\n"):
    path.write_text(header + "\n".join(f"{t:.5f} {i:.3f}" for t, i in zip(x, intensity)) + "\n")
    return path


def _codes(result):
    return [w["code"] for w in result["warnings"]]


def test_nacl_through_the_full_predict_path(checkpoint, nacl_scan, tmp_path):
    x, y = nacl_scan
    xy = _write_xy(tmp_path / "nacl.xy", x, y, "# NaCl\n# wavelength: 1.5406\n")
    broken = tmp_path / "broken.xy"
    broken.write_text("this is not a pattern\n")
    results, errors = predict_files([xy, broken], checkpoint=checkpoint, top_k=3, plot=tmp_path / "p.png")
    assert len(results) == 1 and len(errors) == 1 and "broken.xy" in errors[0][1]
    r = results[0]
    # no finding but the indexing's: NaCl's confident cubic F cell decides the answer, and says so
    # only when the toy network alone says otherwise
    assert r["status"] == "answered" and r["combined_with_indexing"] is True
    assert r["crystal_system"]["name"] == "cubic"
    assert _codes(r) == ([] if r["network_crystal_system"]["name"] == "cubic" else ["answer_from_indexing"])
    assert r["cell"]["family"] == "cubic" and r["cell"]["a"] == pytest.approx(5.64, rel=2e-3)
    top_cs = r["top_k"]["crystal_system"]
    assert len(top_cs) == 3 and len(r["top_k"]["space_group"]) == 3
    assert top_cs[0]["probability"] >= top_cs[1]["probability"] >= top_cs[2]["probability"]
    assert crystal_system_index(r["space_group"]["number"]) == r["crystal_system"]["index"]  # consistent
    assert 0 < r["crystal_system"]["probability"] <= 1 and 0 < r["space_group"]["probability"] <= 1
    # Peaks found where NaCl's strongest lines are (200 at 31.7°, 220 at 45.4°, Kα1).
    peaks = np.array(r["peaks_two_theta_deg"])
    for line in (31.69, 45.45):
        assert np.min(np.abs(peaks - line)) < 0.05
    assert r["coverage"] == 1.0  # 8-80° covers the tiny model's 10-70°
    assert (tmp_path / "p.png").is_file()


def test_low_coverage_quotes_the_cards_accuracy_on_the_nearest_cut_range(checkpoint, nacl_scan, tmp_path):
    x, y = nacl_scan
    part = (x >= 25) & (x <= 60)
    short = _write_xy(tmp_path / "short.xy", x[part], y[part])
    (r,), _ = predict_files([short], checkpoint=checkpoint, wavelength="CuKa")
    message = next(w["message"] for w in r["warnings"] if w["code"] == "low_coverage")
    assert "not on record" in message  # the tiny run has no card
    with_card = tmp_path / "with_card"
    shutil.copytree(checkpoint, with_card)
    by_range = [{"two_theta_range_deg": [10.0, 70.0], "coverage": 1.0, "cs_accuracy": 0.42,
                 "cs_balanced_accuracy": 0.4, "sg_accuracy": 0.2},
                {"two_theta_range_deg": [20.0, 60.0], "coverage": 0.67, "cs_accuracy": 0.305,
                 "cs_balanced_accuracy": 0.3, "sg_accuracy": 0.1}]
    (with_card / "card.json").write_text(json.dumps({"real": {"name": "RRUFF", "n": 12, "cs_accuracy": 0.6,
                                                              "by_scan_range": by_range}}))
    (r,), _ = predict_files([short], checkpoint=with_card, wavelength="CuKa")
    message = next(w["message"] for w in r["warnings"] if w["code"] == "low_coverage")
    # 25-60° is nearest to 20-60° (ends 5° + 0° away), not to 10-70° (15° + 10°).
    assert "cut to 20–60°" in message and "30.5 %" in message and "60.0 % over its full range" in message


def test_truncated_range_warns_then_refuses_and_force_answers(checkpoint, nacl_scan, tmp_path):
    x, y = nacl_scan
    part = (x >= 25) & (x <= 60)  # 58 % of the model's 10-70°, five NaCl lines
    (r,), _ = predict_files([_write_xy(tmp_path / "short.xy", x[part], y[part])], checkpoint=checkpoint,
                            wavelength="CuKa")
    assert 0.5 < r["coverage"] < 0.65 and "low_coverage" in _codes(r) and r["status"] == "answered"
    part = (x >= 30) & (x <= 38)  # 13 %
    tiny = _write_xy(tmp_path / "tiny.xy", x[part], y[part])
    (r,), _ = predict_files([tiny], checkpoint=checkpoint, wavelength="CuKa")
    assert r["status"] == "refused" and r["crystal_system"] is None and "low_coverage" in _codes(r)
    (f,), _ = predict_files([tiny], checkpoint=checkpoint, wavelength="CuKa", force=True)
    assert f["forced"] and f["crystal_system"] is not None and "low_coverage" in _codes(f)


def test_a_file_without_wavelength_says_which_was_assumed(checkpoint, nacl_scan, tmp_path):
    x, y = nacl_scan
    (r,), _ = predict_files([_write_xy(tmp_path / "nolambda.xy", x, y)], checkpoint=checkpoint)
    assert "wavelength_assumed" in _codes(r) and r["status"] == "answered"
    message = next(w["message"] for w in r["warnings"] if w["code"] == "wavelength_assumed")
    assert "1.54" in message


def test_q_axis_and_d_axis_files_are_flagged_and_converted(checkpoint, nacl_scan, tmp_path):
    x, y = nacl_scan
    lam = 1.54056
    q = q_inv_angstrom_from_two_theta(x, lam)
    q_file = _write_xy(tmp_path / "q.xy", q, y, "# Q(1/A) intensity\n")
    d_file = _write_xy(tmp_path / "d.xy", (2 * np.pi / q)[::-1], y[::-1], "# d(A) intensity\n")
    ref = _write_xy(tmp_path / "ref.xy", x, y, f"# wavelength: {lam}\n")
    results, errors = predict_files([q_file, d_file, ref], checkpoint=checkpoint)
    assert not errors
    rq, rd, r2 = results
    for r in (rq, rd):
        assert "x_axis_not_2theta" in _codes(r) and "wavelength_assumed" not in _codes(r)
        assert r["status"] == "answered"
        np.testing.assert_allclose(r["top_k"]["crystal_system"][0]["probability"],
                                   r2["top_k"]["crystal_system"][0]["probability"], atol=0.02)
    assert rq["x_unit"] == "q" and rd["x_unit"] == "d"
    # the same Q values with a header that says nothing: refused, and --x-unit q answers
    bare = _write_xy(tmp_path / "bare.xy", q, y, "")
    (r,), _ = predict_files([bare], checkpoint=checkpoint)
    assert r["status"] == "refused" and "x_axis_not_2theta" in _codes(r)
    (r,), _ = predict_files([bare], checkpoint=checkpoint, x_unit="q")
    assert r["status"] == "answered" and r["x_unit"] == "q"


def test_amorphous_hump_is_refused(checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    x = np.arange(8.0, 80.0, 0.02)
    hump = 800 * np.exp(-0.5 * ((x - 24.0) / 5.0) ** 2) + 300 * np.exp(-0.5 * ((x - 43.0) / 7.0) ** 2) + 50
    glass = _write_xy(tmp_path / "glass.xy", x, rng.poisson(hump).astype(float), "# wavelength: 1.5406\n")
    (r,), _ = predict_files([glass], checkpoint=checkpoint)
    assert r["status"] == "refused" and "amorphous" in _codes(r) and r["crystal_system"] is None


def test_genuine_thin_film_scan_is_refused():
    film = SHARED / "formats/xrdml/nomad_m54313_om2th_10.xrdml"
    if not film.is_file():
        pytest.skip("shared data folder not present")
    (r,), errors = predict_files([film])  # the shipped model
    assert not errors and r["status"] == "refused" and "thin_film" in _codes(r)


def test_min_confidence_and_prior(checkpoint, nacl_scan, tmp_path):
    x, y = nacl_scan
    f = _write_xy(tmp_path / "nacl.xy", x, y, "# wavelength: 1.5406\n")
    (r,), _ = predict_files([f], checkpoint=checkpoint, min_confidence=0.999)
    assert r["status"] == "uncertain" and r["crystal_system"] is None and r["top_k"]["crystal_system"]
    prior = tmp_path / "prior.csv"
    prior.write_text("# a population of rock salts\n225,100000\n")
    (r,), _ = predict_files([f], checkpoint=checkpoint, prior=str(prior))
    assert r["space_group"]["number"] == 225 and r["prior"] == str(prior) and "prior" in _codes(r)


def test_forest_run_and_ensemble_predict_files(checkpoint, forest, nacl_scan, tmp_path):
    x, y = nacl_scan
    f = _write_xy(tmp_path / "nacl.xy", x, y, "# wavelength: 1.5406\n")
    (rf,), _ = predict_files([f], checkpoint=forest)
    assert rf["status"] == "answered" and rf["model"]["kinds"] == ["forest"]
    (re,), _ = predict_files([f], checkpoint=[checkpoint, forest])
    assert re["model"]["kinds"] == ["cnn", "forest"]


def _rule_checkpoint(checkpoint, tmp_path, labels_from_model: bool):
    """A copy of ``checkpoint`` with a surrogate tree (rules/tree.json) fitted here, as ``xrdnet rules`` writes."""
    from sklearn.tree import DecisionTreeClassifier

    from xrdnet.data import PatternDataset
    from xrdnet.explain.tree_json import tree_to_json
    from xrdnet.features import interpretable_features
    from xrdnet.models.runs import load_run
    from xrdnet.peak_finder import PeakFinderConfig
    from xrdnet.symmetry import CRYSTAL_SYSTEMS

    folder = tmp_path / ("agree" if labels_from_model else "disagree")
    shutil.copytree(checkpoint, folder)
    run = load_run(folder)
    data = run.info["data"]
    with PatternDataset(data) as ds:
        patterns, grid, lam = ds.read_patterns(np.arange(len(ds))), ds.two_theta_deg, ds.attrs["kalpha1_angstrom"]
    X, specs = interpretable_features(patterns, grid, lam, 10, PeakFinderConfig())
    X = np.nan_to_num(X, nan=-1.0)
    cs = run.predict(patterns, grid, lam).cs_pred
    y = cs if labels_from_model else (cs + 1) % 7  # a surrogate that always says something else
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    leaves = {int(leaf): {"n": int(np.sum(tree.apply(X) == leaf)), "fidelity": 0.9, "accuracy": 0.5}
              for leaf in np.unique(tree.apply(X))}
    doc = tree_to_json(tree, specs, dict(enumerate(CRYSTAL_SYSTEMS)), "crystal_system", leaves=leaves,
                       feature_extraction={"n_peaks": 10, "peak_finder": {}})
    (folder / "rules").mkdir()
    (folder / "rules" / "tree.json").write_text(json.dumps(doc))
    return folder


def test_rule_line_never_contradicts_the_answer(checkpoint, tiny_dataset, tmp_path, nacl_scan):
    from xrdnet.data import PatternDataset

    with PatternDataset(tiny_dataset) as ds:
        rows = np.arange(0, len(ds), 7)[:12]
        patterns, grid = ds.read_patterns(rows), ds.two_theta_deg
    files = [_write_xy(tmp_path / f"p{i}.xy", grid, 1000 * p + 5, "# wavelength: 1.54056\n")
             for i, p in enumerate(patterns)]
    agree = _rule_checkpoint(checkpoint, tmp_path, labels_from_model=True)
    results, _ = predict_files(files, checkpoint=agree)
    shown = [r for r in results if r["rule"]]
    assert shown, "the surrogate fitted to the model's answers should agree on some patterns"
    for r in shown:
        assert r["rule"].split("→")[1].strip().startswith(r["crystal_system"]["name"])
        assert r["rule_fidelity"] == pytest.approx(0.9)
    disagree = _rule_checkpoint(checkpoint, tmp_path, labels_from_model=False)
    results, _ = predict_files(files, checkpoint=disagree)
    answered = [r for r in results if r["status"] == "answered"]
    assert answered
    for r in answered:  # the surrogate says what the network does not; shown only where indexing moved
        if r["rule"] is not None:  # the answer onto the surrogate's class
            assert r["combined_with_indexing"] and r["network_crystal_system"]["name"] != r["crystal_system"]["name"]
            assert r["rule"].split("→")[1].strip().startswith(r["crystal_system"]["name"])
    assert any(r["rule"] is None for r in answered)


def test_api_on_arrays_equals_cli_on_the_file(checkpoint, nacl_scan, tmp_path):
    import xrdnet

    x, y = nacl_scan
    f = _write_xy(tmp_path / "nacl.xy", x, y)
    proc = subprocess.run([sys.executable, "-m", "xrdnet.cli", "predict", str(f), "--json", "--wavelength", "CuKa",
                           "--checkpoint", str(checkpoint)], capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (cli,) = json.loads(proc.stdout)
    table = np.loadtxt(f)
    api = xrdnet.predict(table[:, 0], table[:, 1], wavelength="CuKa", checkpoint=checkpoint)
    assert api.crystal_system.name == cli["crystal_system"]["name"]
    assert api.space_group.index == cli["space_group"]["number"]
    np.testing.assert_allclose(api.crystal_system_proba[api.crystal_system.index],
                               cli["crystal_system"]["probability"], atol=1e-6)
    assert [w.code for w in api.warnings] == _codes(cli)


def test_cli_json_and_exit_code(checkpoint, nacl, tmp_path):
    sim = XRDSimulator("MoKa", (4.0, 40.0), 0.01)
    good = _write_xy(tmp_path / "mo.xy", sim.two_theta_deg().numpy(), sim.patterns([nacl])[0].numpy())
    nan = _write_xy(tmp_path / "nan.xy", np.arange(10, 40, 0.5), np.full(60, np.nan))
    proc = subprocess.run([sys.executable, "-m", "xrdnet.cli", "predict", str(good), str(nan), "--json",
                           "--wavelength", "MoKa", "--checkpoint", str(checkpoint)],
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 1  # one file failed
    out = json.loads(proc.stdout)
    assert [o["file"] for o in out] == [str(good), str(nan)]  # one object per file, in order
    assert set(out[0]) >= {"file", "status", "crystal_system", "space_group", "top_k", "rule", "warnings", "model"}
    assert set(out[1]) == {"file", "error"} and "nan.xy" in out[1]["error"]
    assert abs(out[0]["wavelength_angstrom"] - 0.7093) < 1e-3
    assert "nan.xy" in proc.stderr and proc.stderr.count("\n") == 1  # one line per bad file


def test_closed_pipe_exits_quietly(checkpoint, nacl_scan, tmp_path):
    x, y = nacl_scan
    files = [str(_write_xy(tmp_path / f"n{i}.xy", x, y, "# wavelength: 1.5406\n")) for i in range(8)]
    cmd = (f"{sys.executable} -m xrdnet.cli predict {' '.join(files)} --checkpoint {checkpoint} --json | head -c 20")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0 and len(proc.stdout) == 20
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_shipped_checkpoint_calls_textbook_crystals_right_through_the_text_output(tmp_path):
    """The default checkpoint, from a measured-looking .xy file to the printed answer."""
    from pymatgen.core import Lattice, Structure

    from xrdnet.calibration import Calibration, load_card
    from xrdnet.predict import default_checkpoint
    from xrdnet.simulate import ProfileConfig

    ckpt = default_checkpoint()
    assert (ckpt / "run.json").is_file() and ckpt.parent.parent.name == "xrdnet"  # inside the package
    assert Calibration.load(ckpt) is not None and load_card(ckpt)["real"]["cs_accuracy"] > 0
    crystals = {
        "nacl.xy": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                              [[0, 0, 0], [0.5, 0.5, 0.5]]), "cubic"),
        "rutile.xy": (Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"],
                                                [[0, 0, 0], [0.3048, 0.3048, 0]]), "tetragonal"),
    }
    sim = XRDSimulator(profile=ProfileConfig(peak_counts=(20000.0, 20000.0)))
    grid = sim.two_theta_deg().numpy()
    files = []
    for name, (structure, _) in crystals.items():
        pattern = sim.patterns([structure], seed=5)[0].numpy()
        files.append(_write_xy(tmp_path / name, grid, 1000 * pattern, header="# Cu K-alpha, 2theta intensity\n"))
    results, errors = predict_files(files, wavelength="CuKa", top_k=3)
    assert not errors
    for result, (_, expected) in zip(results, crystals.values()):
        assert result["crystal_system"]["name"] == expected
        assert result["model"]["calibrated"]
    proc = subprocess.run([sys.executable, "-m", "xrdnet.cli", "predict", str(files[0]), "--wavelength", "CuKa"],
                          capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    card = load_card(ckpt)["real"]
    assert "xrdnet-cnn-real" in first and f"{100 * card['cs_accuracy']:.1f} %" in first
    assert f"{100 * card['baseline_cs_accuracy']:.1f} %" in first
    assert "cubic" in proc.stdout


def test_the_checkpoint_is_package_data_of_the_wheel(tmp_path):
    """``pip wheel .`` must carry the default checkpoint (predict works outside an editable install)."""
    import zipfile

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {proc.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("xrdnet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("model.ckpt", "run.json", "calibration.json", "card.json", "training_set.tsv.gz"):
        assert f"xrdnet/checkpoints/xrdnet-cnn-real/{name}" in names, name
    assert "xrdnet/priors/minerals_amcsd.json" in names

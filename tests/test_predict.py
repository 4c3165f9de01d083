"""xrdnet predict: a simulated NaCl pattern through the whole path, several files, bad files, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from xrdnet.data.datamodule import DataConfig
from xrdnet.models.cnn import CNNConfig
from xrdnet.predict import predict_files
from xrdnet.simulate import XRDSimulator
from xrdnet.symmetry import crystal_system_index
from xrdnet.train import TrainConfig, TrainerConfig, train


@pytest.fixture(scope="module")
def checkpoint(tiny_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "cnn"
    train(TrainConfig(model="cnn", data=DataConfig(batch_size=16),
                      cnn=CNNConfig(channels=(8, 8, 16), hidden=32, stem_stride=2),
                      trainer=TrainerConfig(max_epochs=1, progress_bar=False, accelerator="cpu", devices=1)),
          tiny_dataset, folder)
    return folder


def _write_xy(path, two_theta, intensity, header="# 2theta intensity\n"):
    path.write_text(header + "\n".join(f"{t:.3f} {i:.3f}" for t, i in zip(two_theta, intensity)) + "\n")
    return path


def test_nacl_through_the_full_predict_path(checkpoint, nacl, tmp_path):
    # A NaCl pattern on a measured-style grid (Cu Kα, 0.02° steps, counts up to 5000).
    sim = XRDSimulator("CuKa", (8.0, 80.0), 0.02)
    pattern = sim.patterns([nacl], seed=3)[0].numpy() * 5000
    xy = _write_xy(tmp_path / "nacl.xy", sim.two_theta_deg().numpy(), pattern, "# NaCl\n# wavelength: 1.5406\n")
    broken = tmp_path / "broken.xy"
    broken.write_text("this is not a pattern\n")
    results, errors = predict_files([xy, broken], checkpoint=checkpoint, top_k=3, plot=tmp_path / "p.png")
    assert len(results) == 1 and len(errors) == 1 and "broken.xy" in errors[0][1]
    r = results[0]
    top_cs = r["top_k"]["crystal_system"]
    assert len(top_cs) == 3 and len(r["top_k"]["space_group"]) == 3
    assert top_cs[0]["probability"] >= top_cs[1]["probability"] >= top_cs[2]["probability"]
    assert crystal_system_index(r["space_group"]["number"]) == r["crystal_system"]["index"]  # consistent
    assert 0 < r["crystal_system"]["probability"] <= 1 and 0 < r["space_group"]["probability"] <= 1
    # Peaks found where NaCl's strongest lines are (200 at 31.7°, 220 at 45.4°, Kα1).
    peaks = np.array(r["peaks_two_theta_deg"])
    for line in (31.69, 45.45):
        assert np.min(np.abs(peaks - line)) < 0.05
    assert r["coverage"] == 1.0 and not any("covers" in w for w in r["warnings"])  # 8-80° covers 10-70°
    assert (tmp_path / "p.png").is_file()
    # A scan of 30-50° only: predicted, with the uncovered part of the model's range reported.
    grid = sim.two_theta_deg().numpy()
    part = (grid >= 30) & (grid <= 50)
    short = _write_xy(tmp_path / "short.xy", grid[part], pattern[part])
    (r,), _ = predict_files([short], checkpoint=checkpoint, wavelength="CuKa")
    assert 0.3 < r["coverage"] < 0.4 and any("covers" in w for w in r["warnings"])


def test_probability_vectors_sum_to_one(checkpoint, nacl, tmp_path):
    from xrdnet.models.runs import load_run

    run = load_run(checkpoint)
    grid = run.two_theta_deg
    sim = XRDSimulator("CuKa", (float(grid[0]), float(grid[-1])), float(grid[1] - grid[0]))
    pred = run.predict(sim.patterns([nacl], seed=0).numpy(), grid, 1.5406)
    assert np.isclose(pred.cs_proba.sum(), 1.0, atol=1e-5) and np.isclose(pred.sg_proba.sum(), 1.0, atol=1e-5)


def test_cli_json_and_exit_code(checkpoint, nacl, tmp_path):
    sim = XRDSimulator("MoKa", (4.0, 40.0), 0.01)
    good = _write_xy(tmp_path / "mo.xy", sim.two_theta_deg().numpy(), sim.patterns([nacl])[0].numpy())
    nan = _write_xy(tmp_path / "nan.xy", np.arange(10, 40, 0.5), np.full(60, np.nan))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "xrdnet.cli", "predict", str(good), str(nan), "--json",
                           "--wavelength", "MoKa", "--checkpoint", str(checkpoint)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1  # one file failed
    out = json.loads(proc.stdout)
    assert [o["file"] for o in out] == [str(good), str(nan)]  # one object per file, in order
    assert set(out[0]) >= {"file", "crystal_system", "space_group", "top_k", "rule", "warnings"}
    assert set(out[1]) == {"file", "error"} and "nan.xy" in out[1]["error"]
    assert abs(out[0]["wavelength_angstrom"] - 0.7093) < 1e-3
    assert "nan.xy" in proc.stderr and proc.stderr.count("\n") == 1  # one line per bad file


def test_shipped_checkpoint_calls_textbook_crystals_right_through_the_text_output(tmp_path):
    """The default checkpoint, from a measured-looking .xy file to the printed answer."""
    from pymatgen.core import Lattice, Structure

    from xrdnet.predict import default_checkpoint
    from xrdnet.simulate import ProfileConfig

    assert (default_checkpoint() / "run.json").is_file()
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
    proc = subprocess.run([sys.executable, "-m", "xrdnet.cli", "predict", str(files[0]), "--wavelength", "CuKa"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert "cubic" in proc.stdout

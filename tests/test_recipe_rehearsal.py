"""A CPU rehearsal of the GPU-node recipe (``configs/paper.yaml``), as a user runs it, at toy size.

``configs/paper.yaml`` itself, with only its sizes shrunk (structures, patterns, network widths,
epochs) and the device set to the CPU, goes through the commands a user types:

    xrdnet simulate --shard 0/2 and 1/2  ->  xrdnet merge  ->  xrdnet train (torch.compile on,
    on-the-fly rendering with another profile file, structure-type split, bf16-mixed, max_train;
    in one process and as two DDP processes over gloo)  ->  xrdnet predict (a genuine instrument
    file), xrdnet compare (+ real patterns), xrdnet rules

and the model read back from the run folder gives the logits of the model in memory at the end of
training. What a GPU node changes (CUDA, NCCL, bf16 on tensor cores) is left to
``scripts/gpu_check.sh``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from xrdnet.cli import main
from xrdnet.config import recorded_path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
FORMATS = Path(__file__).parent / "data" / "formats"
RRUFF = ROOT.parent / "shared" / "data" / "rruff"

# Genuine instrument files (tests/data/formats/MANIFEST_genuine.csv has source and licence).
INSTRUMENT_FILES = [FORMATS / "xrdml" / "datalab_HL1-2_5-90_60min.xrdml",
                    FORMATS / "bruker_raw_v2" / "pyxrd_brk_raw2_zincite.raw"]


def toy_paper_config(out: Path, ddp: bool = False, compile: bool = True) -> Path:
    """``configs/paper.yaml`` with toy sizes and a CPU trainer; everything else as shipped."""
    config = yaml.safe_load((CONFIGS / "paper.yaml").read_text())
    config["simulate"].update(n_structures=24, patterns_per_structure=2, workers=1, device="cpu",
                              chunk_structures=8)
    config["simulate"]["synthetic"]["max_atoms_per_cell"] = 24
    config["train"]["data"].update(batch_size=8, num_workers=0, max_train=30,
                                   on_the_fly_profile=str(CONFIGS / "experimental.yaml"))
    config["train"]["cnn"].update(channels=[8, 8, 16], hidden=32, compile=compile)
    config["train"]["trainer"].update(max_epochs=1, accelerator="cpu", precision="bf16-mixed", progress_bar=False,
                                      log_every_n_steps=1, devices=2 if ddp else 1,
                                      strategy="ddp" if ddp else "auto")
    out.write_text(yaml.safe_dump(config))
    return out


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """The toy paper data set, made as two shards joined by ``xrdnet merge``; and the toy config."""
    root = tmp_path_factory.mktemp("paper")
    config = toy_paper_config(root / "paper_toy.yaml")
    for i in range(2):
        assert main(["simulate", "--config", str(config), "--shard", f"{i}/2", "--out", str(root / f"part{i}.h5"),
                     "--quiet"]) == 0
    assert main(["merge", str(root / "paper.h5"), str(root / "part0.h5"), str(root / "part1.h5")]) == 0
    return {"root": root, "config": config, "data": root / "paper.h5"}


@pytest.fixture(scope="module")
def trained(recipe):
    """``xrdnet train`` with the toy paper config, in this process so the trained model is at hand."""
    from xrdnet.config import load_stage_config
    from xrdnet.train import TrainConfig, train

    config = load_stage_config(recipe["config"], TrainConfig, "train")  # what the CLI does
    assert config.cnn.compile and config.data.on_the_fly and config.data.split_kind == "structure_type"
    run = train(config, recipe["data"], recipe["root"] / "run", keep_model=True)
    return run


def test_merged_shards_hold_the_whole_data_set(recipe):
    from xrdnet.data import PatternDataset

    with PatternDataset(recipe["data"]) as merged, PatternDataset(recipe["root"] / "part0.h5") as a, \
            PatternDataset(recipe["root"] / "part1.h5") as b:
        assert len(merged.structure_index) == len(a.structure_index) + len(b.structure_index) > 0
        assert merged.n_points == 8501  # the paper grid, untouched
        np.testing.assert_array_equal(merged.read_patterns([0]), a.read_patterns([0]))
        assert len(merged.indices("train", "structure_type")) > 0


def test_paper_recipe_trains_and_its_checkpoint_gives_the_trained_logits(recipe, trained):
    from xrdnet.models.cnn import CNNClassifier
    from xrdnet.models.runs import load_run

    run_dir = recipe["root"] / "run"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["split_kind"] == "structure_type" and run["n_train"] <= 30 and run["global_step"] > 0
    from xrdnet.models.safe_load import load_checkpoint_file

    ckpt = load_checkpoint_file(run_dir / "model.ckpt")  # what the package loads: weights only
    assert not any("_orig_mod" in k for k in ckpt["state_dict"])
    meta = ckpt["xrdnet"]
    assert meta["version"] == run["xrdnet_version"] and meta["compiled"] and meta["precision"] == "bf16-mixed"
    prov = meta["provenance"]
    assert prov["split_kind"] == "structure_type" and prov["max_train"] == 30 and prov["n_train"] == run["n_train"]
    assert prov["data_file"] == recorded_path(recipe["data"]) and len(prov["train_rows_sha256"]) == 64

    in_memory = trained["model"].cpu().eval()
    loaded = CNNClassifier.from_checkpoint(run_dir / "model.ckpt")
    assert loaded.provenance == meta
    state, ours = loaded.state_dict(), in_memory.state_dict()
    assert state.keys() == ours.keys()
    for k in state:
        assert torch.equal(state[k], ours[k]), k
    from xrdnet.data import PatternDataset

    with PatternDataset(recipe["data"]) as ds:
        x = torch.from_numpy(ds.read_patterns(ds.indices("test", "structure_type")[:6]))
    with torch.no_grad():
        eager = torch.compiler.disable(in_memory.net.forward)(x)  # same weights, no inductor kernels
        torch.testing.assert_close(loaded(x), eager, rtol=0, atol=0)
        torch.testing.assert_close(loaded(x), in_memory(x), rtol=1e-4, atol=1e-4)  # the compiled module
    # and through the run loader every command uses
    pred = load_run(run_dir).predict(x.numpy(), np.asarray(loaded.hparams["two_theta_deg"]), 1.54056)
    assert np.allclose(pred.sg_proba.sum(1), 1.0, atol=1e-5)


def test_the_paper_run_loads_in_predict_compare_and_rules(recipe, trained, tmp_path, capsys):
    run_dir = recipe["root"] / "run"
    files = [str(p) for p in INSTRUMENT_FILES if p.is_file()]
    if not files:  # the genuine files of tests/data/formats, or one measured RRUFF pattern
        files = [str(next(iter(sorted(RRUFF.glob("*.xy")))))]
    capsys.readouterr()
    assert main(["predict", *files, "--checkpoint", str(run_dir), "--json"]) in (0, 1)
    results = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in results] == files
    answered = [r for r in results if "error" not in r]
    assert answered, results
    for r in answered:
        top = r["top_k"]["crystal_system"]
        assert 0 < top[0]["probability"] <= 1 and sum(c["probability"] for c in top) <= 1 + 1e-6
        assert [c["probability"] for c in top] == sorted((c["probability"] for c in top), reverse=True)
    # the text output a user reads, with a plot
    assert main(["predict", files[0], "--checkpoint", str(run_dir), "--plot", str(tmp_path / "p.png")]) in (0, 1)
    assert "crystal system" in capsys.readouterr().out.lower()

    real = tmp_path / "real"
    if RRUFF.is_dir():  # five measured patterns with labels: compare's real-data columns
        real.mkdir()
        with open(RRUFF / "labels.csv") as fh:
            rows = list(csv.DictReader(fh))
        keep = rows[:5]
        with open(real / "labels.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(keep)
        for r in keep:
            name = next(v for v in r.values() if str(v).endswith(".xy"))
            shutil.copy(RRUFF / name, real / name)
    args = ["compare", str(run_dir), "--data", str(recipe["data"]), "--split-kind", "structure_type",
            "--out", str(tmp_path / "cmp")]
    assert main(args + (["--real", str(real)] if real.is_dir() else [])) == 0
    table = capsys.readouterr().out
    assert "run" in table or "cnn" in table
    result = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert "run" in json.dumps(result)  # the comparison written as JSON

    assert main(["rules", "--run", str(run_dir), "--data", str(recipe["data"]), "--out", str(tmp_path / "rules"),
                 "--split-kind", "structure_type", "--max-depth", "2"]) == 0
    assert "fidelity" in capsys.readouterr().out  # the tree's held-out agreement with the CNN
    assert any((tmp_path / "rules").iterdir())


@pytest.mark.slow  # ~75 s: two processes each compile the network
def test_paper_recipe_on_two_ddp_processes_over_gloo(recipe, tmp_path):
    """Two processes (gloo), compile and bf16-mixed on: both ranks train on their own batches and
    the checkpoint loads."""
    config = toy_paper_config(tmp_path / "ddp.yaml", ddp=True)
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "xrdnet.cli", "train", "--config", str(config),
                           "--data", str(recipe["data"]), "--out", str(tmp_path / "ddp")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log
    assert "distributed_backend=gloo" in log
    run = json.loads((tmp_path / "ddp" / "run.json").read_text())
    assert run["world_size"] == 2
    # every rank gets len(train) // batch // 2 batches (drop_last), so the step count shows the split
    assert run["global_step"] == (run["n_train"] // 8) // 2 > 0
    from xrdnet.models.cnn import CNNClassifier

    model = CNNClassifier.from_checkpoint(tmp_path / "ddp" / "model.ckpt")
    assert model.provenance["world_size"] == 2
    with torch.no_grad():
        out = model(torch.rand(2, model.hparams["n_points"]))
    assert out.shape == (2, 230) and torch.isfinite(out).all()


def test_quickstart_command_at_toy_size(tmp_path, capsys):
    """``xrdnet quickstart`` as a command, with ``configs/quickstart.yaml`` shrunk (60 bundled
    structures, 2 patterns each, a small CNN for one epoch, small forests)."""
    config = yaml.safe_load((CONFIGS / "quickstart.yaml").read_text())
    config["simulate"].update(n_structures=60, patterns_per_structure=2, workers=1, device="cpu")
    config["cnn"]["cnn"].update(channels=[8, 8, 16], hidden=32)
    config["cnn"]["trainer"].update(max_epochs=1)
    for baseline in config["forests"]:
        if baseline["model"] == "forest":
            baseline["forest"].update(cs_n_estimators=10, sg_n_estimators=10)
    config["rules"].update(max_patterns=100, max_depth=2)
    path = tmp_path / "qs.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["quickstart", "--config", str(path), "--out", str(tmp_path / "qs"), "--quiet"]) == 0
    out = capsys.readouterr().out
    report = (tmp_path / "qs" / "report.md").read_text()
    assert report in out
    for name in ("cnn", "extra-trees-suzuki", "random-forest-profile", "search-match"):
        assert f"| {name} |" in report, report
        assert (tmp_path / "qs" / "runs" / name / "run.json").is_file()
    assert "surrogate rule" in report.lower() and (tmp_path / "qs" / "patterns.png").stat().st_size > 10_000
    assert (tmp_path / "qs" / "comparison" / "comparison.json").is_file()

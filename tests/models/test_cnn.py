"""CNN: consistent hierarchical heads, a real (tiny) training run, checkpoint round trip, DDP on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from xrdnet.config import save_config
from xrdnet.data import PatternDataset
from xrdnet.data.datamodule import DataConfig
from xrdnet.models.cnn import CNNConfig, _system_matrix, crystal_system_log_probs, hierarchical_decode
from xrdnet.models.runs import load_run
from xrdnet.symmetry import crystal_system_index
from xrdnet.train import TrainConfig, TrainerConfig, train

TINY_CNN = CNNConfig(channels=(8, 8, 16), hidden=32, stem_stride=2)


def test_heads_are_consistent_and_probabilities_sum_to_one():
    torch.manual_seed(0)
    logits = torch.randn(500, 230) * 3
    system = _system_matrix()
    cs_proba, sg_proba, cs_pred, sg_pred = hierarchical_decode(logits, system)
    assert torch.allclose(cs_proba.sum(1), torch.ones(500), atol=1e-5)
    assert torch.allclose(sg_proba.sum(1), torch.ones(500), atol=1e-5)
    assert all(crystal_system_index(int(g)) == int(c) for g, c in zip(sg_pred, cs_pred))
    assert torch.equal(cs_pred, cs_proba.argmax(1))
    # p(system) is the sum of its groups' probabilities (computed independently here).
    table = np.array([crystal_system_index(g) for g in range(1, 231)])
    summed = np.stack([sg_proba[:, table == c].sum(1).numpy() for c in range(7)], 1)
    assert np.allclose(np.exp(crystal_system_log_probs(logits, system).numpy()), summed, atol=1e-5)


def test_train_a_tiny_cnn_and_load_it_back(tiny_dataset, tmp_path):
    config = TrainConfig(model="cnn", data=DataConfig(batch_size=16), cnn=TINY_CNN,
                         trainer=TrainerConfig(max_epochs=2, progress_bar=False, accelerator="cpu", devices=1))
    run = train(config, tiny_dataset, tmp_path / "cnn")
    assert (tmp_path / "cnn" / "model.ckpt").is_file() and (tmp_path / "cnn" / "config.yaml").is_file()
    assert run["kind"] == "cnn" and run["n_train"] > 0 and run["global_step"] > 0
    assert json.loads((tmp_path / "cnn" / "run.json").read_text())["n_parameters"] == run["n_parameters"]
    loaded = load_run(tmp_path / "cnn")
    with PatternDataset(tiny_dataset) as ds:
        rows = ds.indices("test")
        pred = loaded.predict(ds.read_patterns(rows), ds.two_theta_deg, 1.5406)
    assert pred.cs_proba.shape == (len(rows), 7) and pred.sg_proba.shape == (len(rows), 230)
    assert np.allclose(pred.sg_proba.sum(1), 1, atol=1e-5)
    assert all(crystal_system_index(int(g)) == int(c) for g, c in zip(pred.sg_pred, pred.cs_pred))
    # The run records what it was trained on, one line per training structure.
    import gzip

    lines = gzip.open(tmp_path / "cnn" / "training_set.tsv.gz", "rt").read().splitlines()
    with PatternDataset(tiny_dataset) as ds:
        n_train_structures = len(np.unique(ds.structure_index[ds.indices("train")]))
    assert lines[0] == "source\tcompound\tname\tspace_group" and len(lines) == 1 + n_train_structures
    assert run["training_set"]["n_structures"] == n_train_structures


def test_checkpoints_of_compiled_models_load_with_their_weights(tiny_dataset, tmp_path):
    from xrdnet.models.cnn import CNNClassifier

    config = TrainConfig(model="cnn", data=DataConfig(batch_size=16), cnn=TINY_CNN,
                         trainer=TrainerConfig(max_epochs=1, progress_bar=False, accelerator="cpu", devices=1))
    train(config, tiny_dataset, tmp_path / "cnn")
    path = tmp_path / "cnn" / "model.ckpt"
    model = CNNClassifier.from_checkpoint(path)
    # A checkpoint written when the net was wrapped by torch.compile (names under net._orig_mod.).
    from xrdnet.models.safe_load import load_checkpoint_file

    ckpt = load_checkpoint_file(path)
    ckpt["state_dict"] = {k.replace("net.", "net._orig_mod.", 1): v for k, v in ckpt["state_dict"].items()}
    torch.save(ckpt, tmp_path / "compiled.ckpt")
    old = CNNClassifier.from_checkpoint(tmp_path / "compiled.ckpt")
    x = torch.rand(3, model.hparams["n_points"])
    with torch.no_grad():
        assert torch.equal(model(x), old(x))
    # In-place compiling keeps the plain names, so new compiled runs never write the prefix.
    net = CNNClassifier(TINY_CNN, model.hparams["n_points"]).net
    net.compile()
    assert not any("_orig_mod" in k for k in net.state_dict())


def test_ddp_two_cpu_processes_one_step(tiny_dataset, tmp_path):
    config = TrainConfig(model="cnn", data=DataConfig(batch_size=8), cnn=TINY_CNN,
                         trainer=TrainerConfig(max_epochs=1, max_steps=1, accelerator="cpu", devices=2,
                                               strategy="ddp", progress_bar=False, limit_val_batches=1))
    save_config(config, tmp_path / "ddp.yaml")
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "xrdnet.cli", "train", "--config", str(tmp_path / "ddp.yaml"),
         "--data", str(tiny_dataset), "--out", str(tmp_path / "ddp")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads((tmp_path / "ddp" / "run.json").read_text())
    assert run["world_size"] == 2 and run["global_step"] == 1


def test_cnn_learns_a_small_separable_problem():
    """Three space groups (three crystal systems) told apart by where their peaks are: in ~100 steps
    the loss falls well below its start and held-out accuracy is far above chance (1/3)."""
    from xrdnet.models.cnn import CNNClassifier

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n_points, groups = 512, np.array([2, 14, 225])  # triclinic, monoclinic, cubic
    centres = {0: (100, 300), 1: (150, 380), 2: (220, 420)}
    x = np.arange(n_points)

    def make(n):
        label = rng.integers(0, 3, n)
        pat = rng.uniform(0, 0.05, (n, n_points))
        for i, c in enumerate(label):
            for centre in centres[int(c)]:
                pat[i] += rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((x - centre - rng.integers(-6, 7)) / 3.0) ** 2)
        pat /= pat.max(1, keepdims=True)
        sg = groups[label]
        cs = np.array([crystal_system_index(int(g)) for g in sg])
        return torch.tensor(pat, dtype=torch.float32), torch.tensor(cs), torch.tensor(sg - 1)

    model = CNNClassifier(CNNConfig(channels=(8, 16), hidden=32, stem_stride=2, position_bins=16, dropout=0.0),
                          n_points)
    train_x, train_cs, train_sg = make(384)
    test_x, test_cs, test_sg = make(192)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for step in range(120):
        idx = torch.randint(0, len(train_x), (32,))
        loss = model.loss(model(train_x[idx]), train_cs[idx], train_sg[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    _, _, cs_pred, sg_pred = model.predict_patterns(test_x)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5]), (losses[:5], losses[-10:])
    assert float((sg_pred - 1 == test_sg).float().mean()) > 0.9
    assert float((cs_pred == test_cs).float().mean()) > 0.9

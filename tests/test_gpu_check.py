"""``scripts/gpu_check.sh``: its logic, rehearsed on the CPU at toy size, so the first GPU session can run it as-is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # ~100 s: every step is a fresh process (torch, pymatgen imports)
def test_gpu_check_rehearsal_writes_every_figure(tmp_path):
    """The shell entry point, CPU rehearsal: every step but the slow DDP one (tested in
    test_recipe_rehearsal) and pytest -m gpu; the JSON lands in $OUT."""
    env = dict(os.environ, OUT=str(tmp_path), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--cpu-rehearsal", "--work",
                           str(tmp_path / "work"), "--steps", "env", "parity", "throughput", "data", "train_1",
                           "predict"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    steps = report["steps"]
    assert proc.returncode == 0, (proc.stdout[-2000:], json.dumps(steps, indent=1)[-4000:])
    assert report["mode"] == "cpu-rehearsal" and report["all_ok"] and list(steps) == [
        "env", "parity", "throughput", "data", "train_1", "predict"]
    assert all(s["status"] == "ok" for s in steps.values())
    assert steps["parity"]["pass"] and steps["parity"]["n_lines"] > 100
    assert steps["throughput"]["cpu"]["patterns_per_s"] > 0 and steps["throughput"]["n_points"] == 8501
    assert steps["data"]["n_patterns"] > 0
    trip = steps["train_1"]["roundtrip"]
    assert trip["weights_equal"] and trip["pass"] and steps["train_1"]["precision"] == "bf16-mixed"
    assert steps["predict"]["pass"] and steps["predict"]["crystal_system"]


def test_a_failing_step_is_reported_and_the_rest_still_run(tmp_path):
    """``train_1`` without a data set raises; ``env`` after it still runs and the JSON says which."""
    out = tmp_path / "g.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--cpu-rehearsal", "--out",
                           str(out), "--work", str(tmp_path / "w"), "--steps", "train_1", "env"],
                          cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=300)
    report = json.loads(out.read_text())
    assert proc.returncode == 1 and not report["all_ok"]
    assert report["steps"]["env"]["status"] == "ok"
    failed = report["steps"]["train_1"]
    assert failed["status"] == "failed" and "not found" in failed["error"] and "Traceback" in failed["traceback"]


@pytest.mark.parametrize("flag", ["--help"])
def test_gpu_check_script_parses(flag):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), flag], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "--cpu-rehearsal" in proc.stdout

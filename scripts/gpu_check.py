"""The GPU check: one run on a GPU node, one JSON of figures (``scripts/gpu_check.sh`` calls this).

Steps, each in its own process with its own timeout (a crash or hang in one still leaves the others
and the JSON, which is rewritten after every step):

1. ``env``        torch / CUDA / GPUs / bf16 support;
2. ``parity``     sticks and profiled patterns of stored real structures (the bundled Materials
                  Project + AMCSD CIFs) on CUDA against the CPU;
3. ``throughput`` simulator patterns/s (sticks + profiles, paper grid and profile ranges), CPU vs CUDA;
4. ``data``       ``xrdnet simulate`` with the paper config on bundled structures, rendered on the GPU;
5. ``train_1``    the paper recipe (``configs/paper.yaml`` train section: compile, bf16-mixed,
                  on-the-fly rendering, structure-type split) on 1 GPU, in process: samples/s, and the
                  checkpoint round trip (loaded logits vs the trained model's, CPU and GPU);
6. ``train_all``  the same through ``xrdnet train`` on all GPUs (DDP, NCCL), checkpoint loads;
7. ``predict``    ``xrdnet predict`` of a genuine instrument file with that run;
8. ``pytest_gpu`` ``pytest -m gpu``.

``--cpu-rehearsal`` runs the same logic on the CPU at toy size (GPU replaced by the CPU, DDP over
gloo with 2 processes, compile off), so the test suite knows the script works before a GPU is lent.

    python scripts/gpu_check.py --out gpu_check.json [--cpu-rehearsal] [--budget-s 420]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("env", "parity", "throughput", "data", "train_1", "train_all", "predict", "pytest_gpu")
# Per-step limits (seconds) on a GPU node; the whole run also stops at --budget-s.
STEP_TIMEOUT = {"env": 60, "parity": 90, "throughput": 90, "data": 120, "train_1": 180, "train_all": 180,
                "predict": 60, "pytest_gpu": 150}
REHEARSAL_TIMEOUT = {"env": 60, "parity": 60, "throughput": 60, "data": 120, "train_1": 120, "train_all": 180,
                     "predict": 60, "pytest_gpu": 60}
INSTRUMENT_FILE = ROOT / "tests" / "data" / "formats" / "xrdml" / "datalab_HL1-2_5-90_60min.xrdml"


def sizes(rehearsal: bool) -> dict:
    if rehearsal:
        return dict(parity_structures=12, throughput_structures=16, throughput_k=2, data_structures=40, data_k=2,
                    epochs=1, max_train=48, batch=8, tiny=True)
    return dict(parity_structures=256, throughput_structures=512, throughput_k=8, data_structures=3000, data_k=4,
                epochs=1, max_train=0, batch=256, tiny=False)


def _device(rehearsal: bool) -> str:
    return "cpu" if rehearsal else "cuda"


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bundled_batch(n: int, workers: int = 4):
    """The first ``n`` usable bundled real structures as one StructureBatch."""
    from xrdnet.data.records import StructureRecords
    from xrdnet.structures.jsonl import iter_jsonl, resolve_structure_files

    workers = max(1, min(workers, (os.cpu_count() or 2) - 1))
    parts = [records for _, records in iter_jsonl(resolve_structure_files(["bundled"]), stop=int(n * 1.2) + 4,
                                                   workers=workers)]
    records = StructureRecords.concatenate(parts)
    keep = min(n, len(records.space_group))
    return records.select(list(range(keep))).to_batch()


def paper_profile():
    from xrdnet.config import load_stage_config
    from xrdnet.data.build import SimulateConfig

    return load_stage_config(ROOT / "configs" / "paper.yaml", SimulateConfig, "simulate").simulator


# ----------------------------------------------------------------------------------------- steps
def step_env(args, work: Path) -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
            "cuda_version": torch.version.cuda, "n_gpus": torch.cuda.device_count(), "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["bf16_supported"] = bool(torch.cuda.is_bf16_supported())
        info["memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    try:
        import xrdnet

        info["xrdnet"] = xrdnet.__version__
    except Exception as exc:  # noqa: BLE001
        info["xrdnet_error"] = repr(exc)
    if not args.cpu_rehearsal and not torch.cuda.is_available():
        raise RuntimeError("no CUDA device visible to torch (CPU build of torch, or no driver)")
    return info


def step_parity(args, work: Path) -> dict:
    import numpy as np
    import torch

    from xrdnet.simulate import XRDSimulator

    s = sizes(args.cpu_rehearsal)
    batch = bundled_batch(s["parity_structures"])
    cfg = paper_profile()
    ref = XRDSimulator.from_config(cfg, device="cpu")
    # rehearsal: the CPU against itself in a different memory budget (chunking), the same comparison code
    other = XRDSimulator.from_config(cfg, device=_device(args.cpu_rehearsal),
                                     **({"max_entries": 1 << 14} if args.cpu_rehearsal else {}))
    peaks_ref, peaks_dev = ref.peaks(batch), other.peaks(batch.to(other.device) if hasattr(batch, "to") else batch)
    count_mismatch, pos_diff, int_diff = 0, 0.0, 0.0
    for a, b in zip(peaks_ref, peaks_dev):
        if len(a.two_theta_deg) != len(b.two_theta_deg):
            count_mismatch += 1
            continue
        if len(a.two_theta_deg):
            pos_diff = max(pos_diff, float(np.max(np.abs(a.two_theta_deg - b.two_theta_deg))))
            int_diff = max(int_diff, float(np.max(np.abs(a.intensity - b.intensity))))
    pat_ref = ref.patterns(batch, seed=3, patterns_per_structure=2)
    pat_dev = other.patterns(batch.to(other.device) if hasattr(batch, "to") else batch, seed=3,
                             patterns_per_structure=2).cpu()
    diff = (pat_ref - pat_dev).abs()
    out = {"device": str(other.device), "n_structures": len(peaks_ref),
           "n_lines": int(sum(len(p.two_theta_deg) for p in peaks_ref)),
           "peak_count_mismatches": count_mismatch, "max_abs_two_theta_diff_deg": pos_diff,
           "max_abs_intensity_diff_0_100": int_diff, "pattern_max_abs_diff": float(diff.max()),
           "pattern_mean_abs_diff": float(diff.mean()), "patterns_finite": bool(torch.isfinite(pat_dev).all())}
    out["pass"] = bool(count_mismatch == 0 and pos_diff < 1e-6 and int_diff < 1e-2 and out["pattern_max_abs_diff"] < 5e-3)
    return out


def step_throughput(args, work: Path) -> dict:
    import torch

    from xrdnet.simulate import XRDSimulator

    s = sizes(args.cpu_rehearsal)
    batch = bundled_batch(s["throughput_structures"])
    cfg = paper_profile()
    out = {"n_structures": s["throughput_structures"], "patterns_per_structure": s["throughput_k"],
           "n_points": None, "cpu_threads": torch.get_num_threads()}
    devices = ["cpu"] + ([] if args.cpu_rehearsal else ["cuda"])
    for device in devices:
        sim = XRDSimulator.from_config(cfg, device=device)
        b = batch.to(sim.device) if hasattr(batch, "to") else batch
        sim.patterns(b, seed=0, patterns_per_structure=s["throughput_k"])  # warm-up (kernels, caches)
        _sync(device)
        reps = 1 if device == "cpu" else 3
        t0 = time.perf_counter()
        for r in range(reps):
            pats = sim.patterns(b, seed=r + 1, patterns_per_structure=s["throughput_k"])
        _sync(device)
        seconds = (time.perf_counter() - t0) / reps
        t0 = time.perf_counter()
        sim.peaks(b)
        _sync(device)
        out[device] = {"patterns_per_s": round(pats.shape[0] / seconds, 1), "seconds_per_batch": round(seconds, 4),
                       "structures_per_s_sticks": round(len(b.space_group) / (time.perf_counter() - t0), 1)
                       if hasattr(b, "space_group") else None}
        out["n_points"] = int(pats.shape[1])
    if "cuda" in out:
        out["cuda_speedup"] = round(out["cuda"]["patterns_per_s"] / out["cpu"]["patterns_per_s"], 2)
    return out


def _paper_yaml(work: Path, args, devices, strategy: str, name: str) -> Path:
    import yaml

    s = sizes(args.cpu_rehearsal)
    config = yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())
    train = config["train"]
    train["data"].update(batch_size=s["batch"], max_train=s["max_train"])
    train["trainer"].update(max_epochs=s["epochs"], devices=devices, strategy=strategy, progress_bar=False,
                            early_stopping_patience=0, log_every_n_steps=5)
    if args.cpu_rehearsal:
        train["data"].update(num_workers=0)
        train["cnn"].update(channels=[8, 8, 16], hidden=32, compile=False)
        train["trainer"].update(accelerator="cpu", precision="bf16-mixed")
    else:
        train["trainer"].update(accelerator="gpu")
    path = work / name
    path.write_text(yaml.safe_dump(config))
    return path


def step_data(args, work: Path) -> dict:
    s = sizes(args.cpu_rehearsal)
    from xrdnet.structures.jsonl import resolve_structure_files

    files = [str(p) for p in resolve_structure_files(["bundled"])]
    cmd = [sys.executable, "-m", "xrdnet.cli", "simulate", "--config", str(ROOT / "configs" / "paper.yaml"),
           "--structures-jsonl", *files, "--n-structures", str(s["data_structures"]),
           "--patterns-per-structure", str(s["data_k"]), "--workers", str(min(16, os.cpu_count() or 1)),
           "--device", _device(args.cpu_rehearsal), "--out", str(work / "paper.h5"), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"xrdnet simulate failed: {proc.stderr[-2000:]}")
    from xrdnet.data.reader import PatternDataset

    with PatternDataset(work / "paper.h5") as ds:
        n_patterns, n_structures = len(ds.structure_index), len(ds.space_group)
        n_train = len(ds.indices("train", "structure_type"))
    return {"seconds": round(time.perf_counter() - t0, 2), "n_structures": n_structures, "n_patterns": n_patterns,
            "n_train_structure_type": n_train, "stdout": proc.stdout.strip().splitlines()[:3]}


def step_train_1(args, work: Path) -> dict:
    import numpy as np
    import torch

    from xrdnet.config import load_stage_config
    from xrdnet.data.reader import PatternDataset
    from xrdnet.models.cnn import CNNClassifier
    from xrdnet.train import TrainConfig, train

    config = load_stage_config(_paper_yaml(work, args, 1, "auto", "paper_1.yaml"), TrainConfig, "train")
    run = train(config, work / "paper.h5", work / "run_1", keep_model=True)
    model = run.pop("model")
    device = next(model.parameters()).device
    with PatternDataset(work / "paper.h5") as ds:
        x = torch.from_numpy(ds.read_patterns(np.arange(min(16, len(ds.structure_index)))))
    model.eval()
    loaded = CNNClassifier.from_checkpoint(work / "run_1" / "model.ckpt", map_location="cpu")
    with torch.no_grad():
        trained = torch.compiler.disable(model.net.forward)(x.to(device)).float().cpu()
        on_cpu = loaded(x)
        loaded_dev = CNNClassifier.from_checkpoint(work / "run_1" / "model.ckpt", map_location=str(device))
        on_dev = loaded_dev(x.to(device)).float().cpu()
    equal_weights = all(torch.equal(a.cpu(), b.cpu()) for a, b in
                        zip(loaded.state_dict().values(), model.state_dict().values()))
    n_seen = run["n_train"] * max(1, run["epochs"] + (0 if run["epochs"] else 1))
    return {
        "device": str(device), "precision": (loaded.provenance or {}).get("precision"),
        "compiled": config.cnn.compile, "train_seconds": round(run["train_seconds"], 2),
        "n_train": run["n_train"], "epochs": run["epochs"], "global_step": run["global_step"],
        "samples_per_s_incl_compile": round(n_seen / run["train_seconds"], 1),
        "n_parameters": run["n_parameters"], "best_val_loss": run.get("best_val_loss"),
        "val": {k: v for k, v in run.get("last_metrics", {}).items() if k.startswith("val")},
        "roundtrip": {"weights_equal": equal_weights,
                      "max_abs_logit_diff_trained_vs_loaded_same_device": float((trained - on_dev).abs().max()),
                      "max_abs_logit_diff_loaded_cpu_vs_device": float((on_cpu - on_dev).abs().max()),
                      "pass": bool(equal_weights and float((trained - on_dev).abs().max()) <= 1e-4
                                   and float((on_cpu - on_dev).abs().max()) <= 1e-2 and np.isfinite(on_cpu.numpy()).all())},
    }


def step_train_all(args, work: Path) -> dict:
    import torch

    devices = 2 if args.cpu_rehearsal else -1  # -1: every GPU of the node
    config = _paper_yaml(work, args, devices, "ddp", "paper_all.yaml")
    out = work / "run_all"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    if args.cpu_rehearsal:
        env["OMP_NUM_THREADS"] = "1"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "xrdnet.cli", "train", "--config", str(config), "--data",
                           str(work / "paper.h5"), "--out", str(out)], capture_output=True, text=True, env=env)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"xrdnet train (DDP) failed: {log[-3000:]}")
    run = json.loads((out / "run.json").read_text())
    from xrdnet.models.cnn import CNNClassifier

    model = CNNClassifier.from_checkpoint(out / "model.ckpt")
    with torch.no_grad():
        finite = bool(torch.isfinite(model(torch.rand(2, model.hparams["n_points"]))).all())
    ranks = sorted({int(line.split("GLOBAL_RANK: ")[1].split(",")[0]) for line in log.splitlines()
                    if "GLOBAL_RANK: " in line})
    backend = next((line.split("=")[1].strip() for line in log.splitlines() if "distributed_backend=" in line), None)
    return {"world_size": run["world_size"], "ranks_started": ranks, "backend": backend,
            "wall_seconds": round(time.perf_counter() - t0, 2), "train_seconds": round(run["train_seconds"], 2),
            "global_step": run["global_step"], "n_train": run["n_train"],
            "samples_per_s_incl_compile": round(run["n_train"] / run["train_seconds"], 1),
            "checkpoint_loads": True, "logits_finite": finite,
            "pass": bool(finite and run["world_size"] == len(ranks) >= 1)}


def step_predict(args, work: Path) -> dict:
    target = INSTRUMENT_FILE if INSTRUMENT_FILE.is_file() else next(iter(sorted((ROOT.parent / "shared" / "data" /
                                                                                  "rruff").glob("*.xy"))), None)
    if target is None:
        return {"skipped": "no instrument file"}
    proc = subprocess.run([sys.executable, "-m", "xrdnet.cli", "predict", str(target), "--checkpoint",
                           str(work / "run_1"), "--json"], capture_output=True, text=True)
    result = json.loads(proc.stdout)[0] if proc.stdout.strip().startswith("[") else {"error": proc.stderr[-1000:]}
    return {"file": target.name, "rc": proc.returncode, "answer_status": result.get("status"),
            "crystal_system": (result.get("crystal_system") or {}).get("name"), "error": result.get("error"),
            "pass": "error" not in result}


def step_pytest_gpu(args, work: Path) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", str(ROOT / "tests")]
    if args.cpu_rehearsal:
        cmd.insert(3, "--collect-only")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    return {"rc": proc.returncode, "summary": tail[0] if tail else "", "collect_only": args.cpu_rehearsal,
            "failures": [line for line in proc.stdout.splitlines() if line.startswith("FAILED")][:20],
            "pass": proc.returncode == 0}


STEP_FUNCS = {name: globals()[f"step_{name}"] for name in STEPS}
NEEDS = {"train_1": "data", "train_all": "data", "predict": "train_1"}


# ------------------------------------------------------------------------------------- orchestration
def run_step(args) -> int:
    work = Path(args.work)
    result_file = work / f"{args.step}.json"
    try:
        result = {"status": "ok", **STEP_FUNCS[args.step](args, work)}
    except Exception as exc:  # noqa: BLE001 - reported in the JSON
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:3000],
                  "traceback": traceback.format_exc()[-3000:]}
    result_file.write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["status"] == "ok" else 1


def orchestrate(args) -> dict:
    t_start = time.perf_counter()
    deadline = t_start + args.budget_s
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out_path = Path(args.out)
    report = {"mode": "cpu-rehearsal" if args.cpu_rehearsal else "gpu", "host": platform.node(),
              "started_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "budget_s": args.budget_s, "install_seconds": args.install_seconds, "steps": {}}
    limits = REHEARSAL_TIMEOUT if args.cpu_rehearsal else STEP_TIMEOUT
    wanted = [s for s in STEPS if not args.steps or s in args.steps]

    def write():
        report["total_seconds"] = round(time.perf_counter() - t_start, 1)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(report, indent=2, default=str))

    for name in wanted:
        need = NEEDS.get(name)
        if need and need in wanted and report["steps"].get(need, {}).get("status") != "ok":
            report["steps"][name] = {"status": "skipped", "reason": f"step {need} did not succeed"}
            write()
            continue
        remaining = deadline - time.perf_counter()
        if remaining < 15:
            report["steps"][name] = {"status": "skipped", "reason": "time budget spent"}
            write()
            continue
        limit = min(limits[name], remaining)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--step", name, "--work", str(work), "--out", args.out,
               "--budget-s", str(args.budget_s)] + (["--cpu-rehearsal"] if args.cpu_rehearsal else [])
        t0 = time.perf_counter()
        print(f"[gpu_check] {name} (limit {limit:.0f} s) ...", flush=True)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, cwd=ROOT,
                                  start_new_session=True)
            result_file = work / f"{name}.json"
            if result_file.is_file():
                result = json.loads(result_file.read_text())
            else:
                result = {"status": "failed", "error": f"step process exited {proc.returncode}",
                          "stderr_tail": proc.stderr[-3000:]}
        except subprocess.TimeoutExpired as exc:
            result = {"status": "timeout", "limit_s": round(limit, 1),
                      "stderr_tail": (exc.stderr or b"")[-2000:].decode(errors="replace")
                      if isinstance(exc.stderr, bytes) else str(exc.stderr or "")[-2000:]}
            _kill_group(exc)
        result["seconds"] = round(time.perf_counter() - t0, 2)
        report["steps"][name] = result
        print(f"[gpu_check] {name}: {result['status']} in {result['seconds']} s", flush=True)
        write()
    report["all_ok"] = all(r.get("status") == "ok" and r.get("pass", True) for r in report["steps"].values())
    write()
    return report


def _kill_group(exc) -> None:
    """subprocess.run killed the step's own process; its children (DDP ranks) go with its session."""
    import signal

    pid = getattr(getattr(exc, "process", None), "pid", None)
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = str(Path(os.environ["OUT"]) / "gpu_check.json") if os.environ.get("OUT") else "gpu_check.json"
    parser.add_argument("--out", default=default_out)
    parser.add_argument("--work", default=None, help="scratch folder (default: a temporary folder)")
    parser.add_argument("--cpu-rehearsal", action="store_true", help="run the logic on the CPU at toy size")
    parser.add_argument("--budget-s", type=float, default=420.0, help="stop starting steps after this many seconds")
    parser.add_argument("--install-seconds", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps", nargs="*", default=None, help=f"subset of {STEPS}")
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        return run_step(args)
    if args.work is None:
        import tempfile

        args.work = tempfile.mkdtemp(prefix="gpu_check_")
    report = orchestrate(args)
    print(json.dumps({k: (v.get("status"), v.get("pass")) for k, v in report["steps"].items()}))
    print(f"[gpu_check] wrote {args.out}")
    return 0 if report["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

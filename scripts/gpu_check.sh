#!/usr/bin/env bash
# One prepared GPU check, run as-is from the repository root on a fresh GPU machine:
#
#   bash scripts/gpu_check.sh                 # writes $OUT/gpu_check.json (./gpu_check.json when $OUT is unset)
#   bash scripts/gpu_check.sh --cpu-rehearsal # the same logic on the CPU at toy size (the test suite runs this)
#
# Installs into .venv when there is none (torch==2.13.0: pip picks the CUDA build on a GPU node), then
# runs scripts/gpu_check.py: CUDA vs CPU parity of sticks and patterns on the bundled real structures,
# simulator throughput CPU vs CUDA, the paper recipe (configs/paper.yaml) trained on 1 GPU and on all
# GPUs (DDP), checkpoint round trip, xrdnet predict on a genuine instrument file, pytest -m gpu.
# Every step has its own timeout and the JSON is rewritten after each one, so one failure still
# leaves the figures of the others. Sized for under 8 minutes on one H200 (install included when pip
# has a local wheel cache; --budget-s bounds the checks themselves).
set -u
cd "$(dirname "$0")/.."
T0=$(date +%s)
if [ ! -x .venv/bin/python ]; then
  echo "[gpu_check] installing into .venv ..."
  python3 -m venv .venv && . .venv/bin/activate && pip install -q torch==2.13.0 -e ".[dev]" \
    || { echo "[gpu_check] install failed" >&2; mkdir -p "${OUT:-.}";
         echo '{"mode": "gpu", "install_failed": true}' > "${OUT:-.}/gpu_check.json"; exit 2; }
else
  . .venv/bin/activate
fi
INSTALL_S=$(( $(date +%s) - T0 ))
BUDGET=${GPU_CHECK_BUDGET_S:-$(( 450 - INSTALL_S ))}
[ "$BUDGET" -lt 120 ] && BUDGET=120
OUT_JSON="${OUT:-.}/gpu_check.json"
# the whole run cannot outlive its budget by more than a minute, whatever hangs
timeout --kill-after=10 $(( BUDGET + 60 )) python scripts/gpu_check.py --out "$OUT_JSON" --budget-s "$BUDGET" \
  --install-seconds "$INSTALL_S" "$@"
rc=$?
echo "[gpu_check] exit $rc, $(( $(date +%s) - T0 )) s in all; figures in $OUT_JSON"
exit $rc

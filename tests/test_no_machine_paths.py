"""Shipped package data and configs hold no path of the machine they were made on (issue 21).

A record such as ``rules/summary.json`` or ``mixture/detector.json`` travels with the package; an
absolute ``/work/...`` or ``/tmp/...`` in it is wrong on every other machine. The writers record paths
as given, relative to where the command ran (``xrdnet.config.recorded_path``); this walks every text file
of the package data and ``configs/`` to keep it that way.
"""

from __future__ import annotations

import ast
import gzip
import os
import re
from pathlib import Path

import pytest

from xrdnet.config import recorded_command, recorded_path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [ROOT / "xrdnet" / "checkpoints", ROOT / "xrdnet" / "data" / "bundled", ROOT / "configs"]
TEXT_SUFFIXES = {".json", ".jsonl", ".md", ".yaml", ".yml", ".txt", ".csv", ".tsv", ".tex", ".svg"}
MACHINE_PATH = re.compile(r"(?<![\w.~/\\-])(?:/work/|/home/|/tmp/|/root/|/Users/|[Cc]:\\)")
"""An absolute path of one machine; ``../../tmp/x`` (relative) and ``https://host/home/`` are not."""
WRITERS = ["scripts/calibrate_checks.py", "xrdnet/checkpoint/calibrate.py", "xrdnet/cli.py",
           "scripts/train_mixture_detector.py"]


def _text_files() -> list[Path]:
    files = []
    for folder in SCANNED:
        for path in sorted(folder.rglob("*")):
            suffixes = [s.lower() for s in path.suffixes]
            if suffixes and suffixes[-1] == ".gz":
                suffixes.pop()
            if path.is_file() and suffixes and suffixes[-1] in TEXT_SUFFIXES:
                files.append(path)
    return files


def _text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace")


def test_the_scan_sees_the_shipped_records():
    names = {p.relative_to(ROOT).as_posix() for p in _text_files()}
    assert {"xrdnet/checkpoints/xrdnet-cnn-real/rules/summary.json", "xrdnet/checkpoints/xrdnet-cnn-real.md",
            "xrdnet/checkpoints/xrdnet-cnn-real/mixture/detector.json",
            "xrdnet/checkpoints/xrdnet-cnn-real/mixture/figures.json", "configs/real.yaml"} <= names


@pytest.mark.parametrize("path", _text_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_machine_path_in_package_data(path):
    found = [f"line {n}: {line.strip()[:120]}" for n, line in enumerate(_text(path).splitlines(), start=1)
             if MACHINE_PATH.search(line)]
    assert not found, f"{path.relative_to(ROOT)} names a machine path (write it relative to the repository): {found[:3]}"


@pytest.mark.parametrize("script", WRITERS)
def test_writer_scripts_default_to_no_machine_path(script):
    """A default such as ``--data /work/data/real.h5`` works on one machine only: defaults hang off the checkout."""
    tree = ast.parse((ROOT / script).read_text(encoding="utf-8"))
    literals = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert not [s for s in literals if MACHINE_PATH.match(s.strip())], script


def test_recorded_paths_are_relative_as_given():
    assert recorded_path("data/real.h5") == "data/real.h5"  # as given
    assert recorded_path(Path.cwd() / "runs" / "cnn-real") == "runs/cnn-real"
    outside = Path.cwd().parent / "shared" / "data" / "rruff"
    assert recorded_path(outside) == "../shared/data/rruff"
    for path in ("/work/data/real.h5", "/tmp/mix/run4"):
        assert not os.path.isabs(recorded_path(path)) and not MACHINE_PATH.search(recorded_path(path))
    command = recorded_command(["scripts/x.py", "--data", str(Path.cwd() / "data" / "real.h5"),
                                f"--out={Path.cwd() / 'mix' / 'run4'}", "--lr", "1e-3"])
    assert command == "scripts/x.py --data data/real.h5 --out=mix/run4 --lr 1e-3"

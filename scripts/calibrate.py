"""Kept for the commands in earlier notes: ``scripts/calibrate.py ARGS`` is ``xrdnet calibrate ARGS``
(``xrdnet/checkpoint/calibrate.py``, the one writer of calibration and card)."""

from __future__ import annotations

import sys

from xrdnet.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["calibrate", *sys.argv[1:]]))

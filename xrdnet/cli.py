"""The ``xrdnet`` command: one sub-command per pipeline stage."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from xrdnet import __version__


def _quickstart(args: argparse.Namespace) -> int:
    from xrdnet.config import load_config
    from xrdnet.quickstart import QuickstartConfig, run_quickstart

    config = load_config(args.config, QuickstartConfig) if args.config else QuickstartConfig()
    if args.n_structures is not None or args.seed is not None:
        from dataclasses import replace

        config = replace(
            config,
            n_structures=args.n_structures if args.n_structures is not None else config.n_structures,
            seed=args.seed if args.seed is not None else config.seed,
        )
    report = run_quickstart(args.out, config, progress=not args.quiet)
    print(report.read_text())
    print(f"wrote {report.parent}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xrdnet", description="Crystal-symmetry prediction from powder XRD.")
    parser.add_argument("--version", action="version", version=f"xrdnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("quickstart", help="run the pipeline small enough for a laptop on synthetic structures")
    p.add_argument("--out", default="quickstart", help="output folder (default: quickstart/)")
    p.add_argument("--config", default=None, help="YAML config (default: built-in = configs/quickstart.yaml)")
    p.add_argument("--n-structures", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_quickstart)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xrdnet`` console script."""
    warnings.filterwarnings("ignore", module="pymatgen")
    warnings.filterwarnings("ignore", module="spglib")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"xrdnet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

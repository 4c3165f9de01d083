"""Every rules export of one run in one command: all targets (crystal system, space group, cubic).

    python scripts/export_rules.py --run runs/cnn --data data/train.h5 --out rules/cnn [--config rules.yaml]

Writes ``OUT/<target>/`` (rules.txt/.md/.tex, tree.json/.png/.svg, sweep, Suzuki experiment,
summary.json, config.yaml) for each target and ``OUT/index.md``. All logic lives in
``xrdnet.explain.command.export_all_rules``; this is only its command line.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from xrdnet.config import load_stage_config
from xrdnet.explain.command import RulesConfig, export_all_rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="run folder from xrdnet train")
    parser.add_argument("--data", required=True, help="HDF5 data set (fit on train, judged on test)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--config", default=None, help="YAML rules config (or a file with a rules: section)")
    parser.add_argument("--max-depth", type=int, default=None)
    parser.add_argument("--max-patterns", type=int, default=None, help="cap per split (0 = all)")
    args = parser.parse_args(argv)
    config = load_stage_config(args.config, RulesConfig, "rules") if args.config else RulesConfig()
    overrides = {"max_depth": args.max_depth, "max_patterns": args.max_patterns}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    summaries = export_all_rules(args.run, args.data, args.out, config)
    print(f"best one-line rule: {next(iter(summaries.values()))['best_one_line_rule']['text']}")
    print(f"wrote {args.out}/ ({', '.join(summaries)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

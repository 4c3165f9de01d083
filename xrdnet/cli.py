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

    from dataclasses import replace

    config = load_config(args.config, QuickstartConfig) if args.config else QuickstartConfig()
    if args.n_structures is not None:
        config = replace(config, simulate=replace(config.simulate, n_structures=args.n_structures))
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    report = run_quickstart(args.out, config, progress=not args.quiet)
    print(report.read_text())
    print(f"wrote {report.parent}/")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from xrdnet.config import load_stage_config, save_config
    from xrdnet.data.build import SimulateConfig, build_dataset, describe_simulator, rerender_config, with_overrides
    from xrdnet.structures.sources import SOURCES

    config = load_stage_config(args.config, SimulateConfig, "simulate") if args.config else SimulateConfig()
    if args.structures_from is not None and not args.config:
        # Re-render with the file's own simulator and profile ranges, not the clean defaults.
        config = rerender_config(args.structures_from, config)
        used = f"the simulator config stored in {args.structures_from} (pass --config to choose another)"
    elif args.config:
        used = f"the simulator config of {args.config}"
    else:
        used = "the default simulator config (clean profile; pass --config for augmentation)"
    # The source whose flag was given (the registry names each source's flag; none: the config's source).
    source = next((name for name, entry in SOURCES.items()
                   if entry.flag and getattr(args, entry.flag.lstrip("-").replace("-", "_"), None)), None)
    config = with_overrides(
        config,
        n_structures=args.n_structures,
        patterns_per_structure=args.patterns_per_structure,
        seed=args.seed,
        device=args.device,
        workers=args.workers,
        dtype=args.dtype,
        cif_dir=args.cif_dir,
        structures_file=args.structures_from,
        jsonl_files=tuple(args.structures_jsonl) if args.structures_jsonl else None,
        source=source,
    )
    print(f"simulate: rendering with {used}: {describe_simulator(config)}")
    report = build_dataset(config, args.out, resume=args.resume, shard=args.shard, progress=not args.quiet)
    save_config(config, Path(args.out).with_suffix(".config.yaml"))
    gen = report.generation
    print(f"wrote {report.path}: {report.n_patterns} patterns of {report.n_structures} structures"
          + (f" ({report.resumed_chunks} chunks kept from the interrupted run)" if report.resumed_chunks else ""))
    if config.source == "synthetic" and gen:
        print(f"pyxtal: {gen.get('units', 0)} indices, dropped attempts: {gen.get('dropped_mismatch', 0)} space-group "
              f"mismatch, {gen.get('dropped_timeout', 0)} timeout, {gen.get('dropped_error', 0)} error; "
              f"{gen.get('exhausted', 0)} space-group draws given up and redrawn")
    if report.seconds:
        print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in report.seconds.items()))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from xrdnet.checkpoint.calibrate import calibrate_checkpoint, format_report

    report = calibrate_checkpoint(args.run, args.data, real=args.real, real_name=args.real_name,
                                  split_kind=args.split_kind, max_val=args.max_val, max_test=args.max_test,
                                  write=args.write, out=args.out)
    print("\n" + format_report(report))
    print(f"\nwrote {Path(args.out) / 'calibration_report.json'}, {report['reliability_diagram']}"
          + (f"; stored in {args.run}" if args.write else " (pass --write to store it in the run)"))
    return 0


def _merge(args: argparse.Namespace) -> int:
    from xrdnet.data.merge import merge_shards

    out = merge_shards(args.out, args.shards, overwrite=args.overwrite)
    print(f"wrote {out}: virtual data set over {len(args.shards)} shards")
    return 0


def _info(args: argparse.Namespace) -> int:
    import json

    from xrdnet.data.reader import PatternDataset, format_summary

    status = 0
    for path in args.files:
        try:
            with PatternDataset(path) as ds:
                summary = ds.summary()
        except (ValueError, FileNotFoundError) as exc:
            print(f"xrdnet info: error: {exc}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(format_summary(summary))
    return status


def _max_seconds(text: str | None) -> float | None:
    """``--max-time``: minutes (``90``), or ``H:MM`` / ``H:MM:SS``."""
    if text is None:
        return None
    try:
        parts = [float(p) for p in str(text).split(":")]
    except ValueError:
        raise SystemExit(f"xrdnet train: --max-time {text!r} is not minutes or H:MM[:SS]") from None
    if len(parts) == 1:
        seconds = parts[0] * 60.0
    elif len(parts) in (2, 3):
        seconds = parts[0] * 3600.0 + parts[1] * 60.0 + (parts[2] if len(parts) == 3 else 0.0)
    else:
        raise SystemExit(f"xrdnet train: --max-time {text!r} is not minutes or H:MM[:SS]")
    if seconds < 0:
        raise SystemExit(f"xrdnet train: --max-time must not be negative, got {text!r}")
    return seconds


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from xrdnet.config import load_stage_config
    from xrdnet.train import TrainConfig, resume_run, train

    max_seconds = _max_seconds(args.max_time)
    if args.resume:
        ignored = [flag for flag, value in (("--config", args.config), ("--model", args.model), ("--out", args.out),
                                            ("--seed", args.seed), ("--max-epochs", args.max_epochs))
                   if value is not None]
        if ignored:
            raise SystemExit(f"xrdnet train --resume: the run's own config is used; drop {', '.join(ignored)}")
        run = resume_run(args.resume, args.data, max_seconds)
        print(_train_summary(args.resume, run))
        return 0
    if args.data is None or args.out is None:
        raise SystemExit("xrdnet train: --data and --out are required (or --resume RUN)")
    config = load_stage_config(args.config, TrainConfig, "train") if args.config else TrainConfig()
    overrides = {"model": args.model, "seed": args.seed}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    if args.seed is not None:
        # a forest's randomness is its random_state: without this, --seed would change nothing in a forest run
        config = replace(config, forest=replace(config.forest, seed=args.seed))
    if args.split_kind or args.max_train is not None or args.include_sources:
        data = config.data
        if args.split_kind:
            data = replace(data, split_kind=args.split_kind)
        if args.max_train is not None:
            data = replace(data, max_train=args.max_train)
        if args.include_sources:
            data = replace(data, include_sources=tuple(args.include_sources))
        config = replace(config, data=data)
    if args.max_epochs is not None:
        config = replace(config, trainer=replace(config.trainer, max_epochs=args.max_epochs))
    run = train(config, args.data, args.out, max_seconds=max_seconds)
    if "name" in run:
        print(_train_summary(args.out, run))
    return 0


def _train_summary(out, run: dict) -> str:
    shown = {k: run[k] for k in ("kind", "n_train", "train_seconds", "best_val_loss", "best_score", "val_metrics")
             if k in run and run[k] is not None}
    text = f"wrote run {out}: " + ", ".join(f"{k} {v}" for k, v in shown.items())
    if run.get("complete") is False:
        text += f"\nleg ended on time after epoch {run.get('epochs')}; continue with: xrdnet train --resume {out}"
    return text


def _compare(args: argparse.Namespace) -> int:
    from xrdnet.compare import compare_runs

    result = compare_runs(args.runs, args.data, args.out, split_kind=args.split_kind, max_test=args.max_test,
                          real_dir=args.real, real_background=args.real_background)
    print(Path(result["paths"]["md"]).read_text())
    print(f"wrote {args.out}/")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import json

    from xrdnet.predict import format_header, format_result, predict_files

    wavelength = args.wavelength
    if wavelength is not None:
        try:
            wavelength = float(wavelength)
        except ValueError:
            pass
    checkpoint = args.checkpoint if args.checkpoint and len(args.checkpoint) > 1 else (
        args.checkpoint[0] if args.checkpoint else None)
    results, errors = predict_files(args.files, checkpoint, wavelength, args.top_k, args.background, args.plot,
                                    x_unit=args.x_unit, force=args.force, min_confidence=args.min_confidence,
                                    prior=args.prior, combine_indexing=False if args.no_indexing else None)
    if args.json:
        # one object per file in the order given; a file that failed carries its one-line "error"
        by_file = {r["file"]: r for r in results}
        by_file.update({str(path): {"file": str(path), "error": message} for path, message in errors})
        order = [str(Path(f)) for f in args.files]
        listed = [by_file.pop(f) for f in order if f in by_file]
        print(json.dumps(listed + list(by_file.values()), indent=2))
    elif results:
        print(format_header(results[0]["model"]))
        print()
        print("\n\n".join(format_result(r) for r in results))
    for path, message in errors:
        print(f"xrdnet predict: error: {message if str(path) in message else f'{path}: {message}'}", file=sys.stderr)
    return 1 if errors else 0


def _convert_forest(args: argparse.Namespace) -> int:
    if not args.trust:
        raise SystemExit(f"xrdnet convert-forest: {args.run}/forest.joblib is a pickle, and unpickling it runs any "
                         "code it holds; pass --trust only for a run you made or trust")
    from xrdnet.models.forest_legacy import convert_joblib_run

    path = convert_joblib_run(args.run)
    print(f"wrote {path} (loads without unpickling); the old forest.joblib can be deleted")
    return 0


def _rules(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from xrdnet.config import load_stage_config
    from xrdnet.explain.command import RulesConfig, make_rules

    config = load_stage_config(args.config, RulesConfig, "rules") if args.config else RulesConfig()
    overrides = {"target": args.target, "max_depth": args.max_depth, "max_patterns": args.max_patterns,
                 "split_kind": args.split_kind, "seed": args.seed, "features": args.features,
                 "answers": args.answers}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    summary = make_rules(args.run, args.data, args.out, config, real_dir=args.real)
    tree = summary["tree"]
    print(f"headline rule: {summary['best_one_line_rule']['text']}")
    print(f"{summary['target']} tree, depth {tree['depth']}, {tree['leaves']} leaves: held-out fidelity "
          f"{tree['held_out']['fidelity']:.3f}, accuracy {tree['held_out']['accuracy']:.3f} "
          f"(n = {summary['n_held_out']}, fitted on {summary['n_fit']})")
    print((Path(args.out) / "sweep.md").read_text())
    print(f"wrote {args.out}/")
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

    p = sub.add_parser("simulate", help="structures -> rendered patterns -> an HDF5 data set")
    p.add_argument("--config", default=None, help="YAML config (e.g. configs/experimental.yaml); flags override it")
    p.add_argument("--out", required=True, help="output HDF5 file, e.g. data/train.h5")
    p.add_argument("--n-structures", type=int, default=None, help="structures (generation indices / CIF files)")
    p.add_argument("--patterns-per-structure", type=int, default=None, help="K patterns per structure")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 or auto (default from config: auto)")
    p.add_argument("--workers", type=int, default=None, help="pyxtal worker processes")
    p.add_argument("--dtype", choices=["float16", "float32"], default=None)
    p.add_argument("--cif-dir", default=None, help="read structures from this folder of CIF files (recursive)")
    p.add_argument("--structures-from", default=None, help="re-render the structures of an xrdnet HDF5 file")
    p.add_argument("--structures-jsonl", nargs="+", default=None, metavar="FILE",
                   help="JSON-lines files of CIF strings (.jsonl, .jsonl.gz; Materials Project, AMCSD, ...)")
    p.add_argument("--resume", action="store_true", help="complete an interrupted run with the same config")
    p.add_argument("--shard", default=None, help="make shard I of N (I/N); join shards with xrdnet merge")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_simulate)

    from xrdnet.models.registry import kind_names

    p = sub.add_parser("train", help=f"train a model ({', '.join(kind_names())}) on a data set")
    p.add_argument("--config", default=None, help="YAML train config (e.g. configs/train_cpu.yaml)")
    p.add_argument("--data", default=None, help="HDF5 data set from xrdnet simulate")
    p.add_argument("--model", choices=kind_names(), default=None, help="model kind (default from config: cnn)")
    p.add_argument("--out", default=None, help="run folder, e.g. runs/cnn")
    p.add_argument("--max-time", default=None, metavar="MIN|H:MM",
                   help="end this leg cleanly at an epoch boundary before this much time (models trained in legs: "
                        "the CNN); continue with --resume")
    p.add_argument("--resume", default=None, metavar="RUN",
                   help="continue run folder RUN where its last leg stopped (weights, optimizer, schedule, epoch)")
    p.add_argument("--split-kind", choices=["structure", "structure_type", "compound"], default=None)
    p.add_argument("--max-train", type=int, default=None, help="cap on training patterns (seeded subset)")
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--include-sources", nargs="+", default=None, metavar="DB",
                   help="train only on structures from these databases (e.g. mp_structures)")
    p.add_argument("--seed", type=int, default=None,
                   help="the run's seed (network initialisation and dropout; a forest's random_state)")
    p.set_defaults(func=_train)

    p = sub.add_parser("compare", help="evaluate runs on the same test split; tables and confusion matrices")
    p.add_argument("runs", nargs="+", help="run folders from xrdnet train")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--split-kind", choices=["structure", "structure_type", "compound"], default="structure")
    p.add_argument("--max-test", type=int, default=0, help="cap on test patterns (seeded subset, 0 = all)")
    p.add_argument("--real", default=None, help="folder of measured patterns + labels.csv: adds real-data columns")
    p.add_argument("--real-background", action="store_true", help="subtract a background from the real patterns")
    p.set_defaults(func=_compare)

    p = sub.add_parser("predict", help="crystal system and space group of measured pattern files")
    p.add_argument("files", nargs="+", help=".xy/.xye/.dat/.txt/.csv/.xrdml files")
    p.add_argument("--checkpoint", action="append", default=None,
                   help="run folder (CNN or forest), checkpoint folder or shipped name (default: the shipped "
                        "xrdnet-cnn-real); "
                        "repeat it for an ensemble that averages the calibrated probabilities")
    p.add_argument("--wavelength", default=None, help="radiation name (CuKa, MoKa1, ...) or Å, when the file has none")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--background", action="store_true", help="subtract a smooth background first")
    p.add_argument("--json", action="store_true", help="print one JSON list, one object per file (failed files as {file, error})")
    p.add_argument("--plot", default=None, help="PNG of the pattern, its peaks and the prediction")
    p.add_argument("--x-unit", choices=["2theta", "q", "d"], default=None,
                   help="what the first column is, for files whose header does not say (2θ °, Q 1/Å, d Å)")
    p.add_argument("--force", action="store_true", help="answer even where a check refuses (the warnings stay)")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                   help="below this crystal-system probability answer 'uncertain' with the candidates")
    p.add_argument("--prior", default=None, metavar="FILE|minerals|uniform",
                   help="re-weight for a sample population: p ∝ p_model · prior / training prior")
    p.add_argument("--no-indexing", action="store_true",
                   help="report a confident indexing cell, do not mix it in (the default mixes it in unless the "
                        "checkpoint's forest pool already reads the indexing features)")
    p.set_defaults(func=_predict)

    p = sub.add_parser("rules", help="surrogate decision-tree rules fitted to a run's predictions, for papers")
    p.add_argument("--run", required=True, help="run folder from xrdnet train (the model to explain)")
    p.add_argument("--data", required=True, help="HDF5 data set: rules are fitted on its train split, judged on test")
    p.add_argument("--out", required=True, help="output folder, e.g. rules/cnn")
    p.add_argument("--config", default=None, help="YAML rules config (flags override it)")
    p.add_argument("--target", choices=["crystal_system", "space_group", "cubic"], default=None,
                   help="what the trees predict (default crystal_system: multi-class + one-vs-rest per system)")
    p.add_argument("--max-depth", type=int, default=None, help="depth of the exported tree; sweep 1..D (default 4)")
    p.add_argument("--real", default=None, metavar="FOLDER",
                   help="measured patterns with labels.csv (e.g. RRUFF): every rule is checked on them, never fitted")
    p.add_argument("--max-patterns", type=int, default=None, help="cap per split (seeded subset, 0 = all; default 10000)")
    p.add_argument("--split-kind", choices=["structure", "structure_type", "compound"], default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--features", choices=["interpretable", "interpretable_indexing"], default=None,
                   help="features the rules are written in (default interpretable: peak-list features; "
                        "interpretable_indexing adds each lattice family's indexed share and M)")
    p.add_argument("--answers", choices=["run", "predict"], default=None,
                   help="explain the run's own model (default) or what xrdnet predict answers with this "
                        "checkpoint folder (its ensemble and forest pool)")
    p.set_defaults(func=_rules)

    p = sub.add_parser("calibrate", help="fit a run's temperatures on simulated validation data; measure it; "
                                         "write calibration and card")
    p.add_argument("run", help="run or checkpoint folder")
    p.add_argument("--data", required=True, help="the HDF5 data set the run was trained on")
    p.add_argument("--split-kind", choices=["structure", "structure_type", "compound"], default=None,
                   help="default: the run's (run.json)")
    p.add_argument("--real", default=None, metavar="FOLDER",
                   help="measured patterns with labels.csv: measured, never fitted on")
    p.add_argument("--real-name", default="RRUFF", help="name of the measured set in the card (default RRUFF)")
    p.add_argument("--max-val", type=int, default=0, help="cap on validation patterns (seeded subset, 0 = all)")
    p.add_argument("--max-test", type=int, default=0, help="cap on test patterns (seeded subset, 0 = all)")
    p.add_argument("--write", action="store_true",
                   help="store calibration.json (each member's), the ensemble's temperatures, card.json and "
                        "calibration.png in the run")
    p.add_argument("--out", default="reports/calibration", help="report folder (default reports/calibration)")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("convert-forest", help="re-save a trusted old forest run (forest.joblib, a pickle) safely")
    p.add_argument("run", help="run folder holding forest.joblib, written by xrdnet before 2026-12")
    p.add_argument("--trust", action="store_true",
                   help="required: you made this run or trust its source (the old file is unpickled once)")
    p.set_defaults(func=_convert_forest)

    p = sub.add_parser("merge", help="join simulate shards into one virtual data set (no copy)")
    p.add_argument("out", help="merged output file")
    p.add_argument("shards", nargs="+", help="shard files from xrdnet simulate --shard I/N")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_merge)

    p = sub.add_parser("info", help="counts per crystal system and space group, grid and config of a data set")
    p.add_argument("files", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xrdnet`` console script."""
    warnings.filterwarnings("ignore", module="pymatgen")
    warnings.filterwarnings("ignore", module="spglib")
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # `xrdnet predict ... | head`: the reader went away; stop quietly, as Unix tools do
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, RuntimeError) as exc:
        print(f"xrdnet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

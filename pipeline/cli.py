"""The ``brainrecon`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import BrainreconError, describe_os_error
from pipeline.logs import setup_logging


def _results(args: argparse.Namespace) -> None:
    from pipeline.evaluation.generation.report import format_generation
    from pipeline.evaluation.report import format_crossval, format_results
    from pipeline.io import read_json

    formatters = {"evaluate.json": format_results, "generation.json": format_generation,
                  "crossval.json": format_crossval}
    paths = (
        sorted((path for name in formatters for path in args.metrics.glob(f"*/{name}")),
               key=lambda path: (path.parent.name, list(formatters).index(path.name)))
        if args.metrics.is_dir() else [args.metrics]
    )
    if not paths or paths[0].name not in formatters:
        raise BrainreconError(
            f"{args.metrics}: no */evaluate.json or */crossval.json; run `dvc repro` first"
        )
    for path in paths:
        sys.stdout.write(f"## {path.parent.name}\n\n" if len(paths) > 1 else "")
        sys.stdout.write(formatters[path.name](read_json(path)) + "\n\n")


def _serve(args: argparse.Namespace) -> None:
    from pipeline.serving.processes import serve

    serve(args.bundle, args.host, args.port, args.api_key_env, int(args.max_upload_mb * 2**20),
          args.threads, args.workers)


def _evaluate(args: argparse.Namespace) -> None:
    from pipeline.evaluation.report import format_results
    from pipeline.serving.bundle import load_bundle
    from pipeline.serving.offline import evaluate_bundle

    results = evaluate_bundle(load_bundle(args.bundle), args.data, args.out,
                              targets=args.targets)
    sys.stdout.write(f"bundle {results['bundle']} on {results['data']} "
                     f"(metrics in {args.out / 'evaluate.json'})\n\n{format_results(results)}\n")


def _list(args: argparse.Namespace) -> None:
    from pipeline.catalogue import LISTINGS, format_listing

    kinds = [args.kind] if args.kind else LISTINGS.names()
    sys.stdout.write("\n\n".join(format_listing(kind) for kind in kinds) + "\n")


def _add_studies(args: argparse.Namespace) -> None:
    from pipeline.more_studies import add_studies

    new = add_studies(args.more, args.params)
    sys.stdout.write(f"{args.params}: studies {', '.join(new)} added\n" if new else
                     f"{args.params}: already has every study of {args.more}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brainrecon", description="brainrecon command line")
    commands = parser.add_subparsers(dest="command", required=True)
    results = commands.add_parser("results", help="print the evaluation table of a dvc repro")
    results.add_argument("--metrics", type=Path, default=Path("metrics"),
                         help="an evaluate.json or crossval.json, or a folder of <study>/")
    results.set_defaults(run=_results)
    serve = commands.add_parser("serve", help="serve decoder bundles over HTTP, with a web viewer")
    serve.add_argument("--bundle", type=Path, action="append", required=True,
                       help="a bundle folder, or a folder of bundles (models/decoders); repeatable")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key-env", default="BRAINRECON_API_KEY",
                       help="environment variable holding the API key (unset: no key needed)")
    serve.add_argument("--max-upload-mb", type=float, default=64.0,
                       help="largest request body accepted, in MiB")
    serve.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes sharing the port (each loads the bundles)")
    serve.set_defaults(run=_serve)
    offline = commands.add_parser(
        "evaluate", help="score a bundle on held-out recordings (the evaluate stage's metrics)")
    offline.add_argument("--bundle", type=Path, required=True, help="a bundle folder")
    offline.add_argument("--data", type=Path, required=True,
                         help="a preprocessed folder, or a BIDS root (preprocessed as the bundle)")
    offline.add_argument("--targets", type=Path, default=None,
                         help="target latents of the data's stimuli (default: the bundle's)")
    offline.add_argument("--out", type=Path, required=True,
                         help="folder for evaluate.json, topk.csv and plots/")
    offline.set_defaults(run=_evaluate)
    listing = commands.add_parser(
        "list", help="the registered components (the names params.yaml takes), their options "
        "and defaults")
    listing.add_argument("kind", nargs="?", default=None,
                         choices=["studies", "steps", "targets", "encoders", "generators",
                                  "metrics"], help="one kind of component (default: every kind)")
    listing.set_defaults(run=_list)
    studies = commands.add_parser(
        "add-studies", help="add studies (meg, seeg, fmri of more-studies.yaml) to params.yaml")
    studies.add_argument("more", type=Path, nargs="?", default=Path("more-studies.yaml"),
                         help="a mapping of study keys to their overrides")
    studies.add_argument("--params", type=Path, default=Path("params.yaml"))
    studies.set_defaults(run=_add_studies)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``brainrecon`` console script."""
    args = _parser().parse_args(argv)
    setup_logging("brainrecon", logging.WARNING)
    try:
        args.run(args)
    except BrainreconError as exc:
        sys.stderr.write(f"brainrecon: error: {exc}\n")
        raise SystemExit(1) from None
    except OSError as exc:
        sys.stderr.write(f"brainrecon: error: {describe_os_error(exc)}\n")
        raise SystemExit(1) from None

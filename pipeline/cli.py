"""The ``brainrecon`` command line, and the runner shared by every stage script."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import BrainreconError
from pipeline.logs import setup_logging


def run_stage(name: str, main: Callable[[], object]) -> None:
    """Run a stage's ``main`` and turn user-input errors into one line and exit status 1.

    Parameters
    ----------
    name : str
        The stage name, shown in front of log lines and errors.
    main : callable
        The stage body; it parses its own arguments.
    """
    setup_logging(name)
    try:
        main()
    except BrainreconError as exc:
        sys.stderr.write(f"[{name}] error: {exc}\n")
        raise SystemExit(1) from None


def _results(args: argparse.Namespace) -> None:
    from pipeline.evaluation.report import format_results
    from pipeline.io import read_json

    sys.stdout.write(format_results(read_json(args.metrics)) + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brainrecon", description="brainrecon command line")
    commands = parser.add_subparsers(dest="command", required=True)
    results = commands.add_parser("results", help="print the evaluation table of a dvc repro")
    results.add_argument("--metrics", type=Path, default=Path("metrics/evaluate.json"))
    results.set_defaults(run=_results)
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

"""The ``brainrecon`` command line, and the runner shared by every stage script."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import BrainreconError
from pipeline.logs import setup_logging
from pipeline.numerics import keep_freed_memory


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
    keep_freed_memory()  # fewer page faults; the same results
    try:
        main()
    except BrainreconError as exc:
        sys.stderr.write(f"[{name}] error: {exc}\n")
        raise SystemExit(1) from None


def stage_parser(description: str) -> argparse.ArgumentParser:
    """The argument parser of a stage script, with ``--params`` and ``--study`` already added.

    ``--study KEY`` merges the overrides of ``studies.KEY`` (or ``classification_studies.KEY``)
    onto the stage's params section (:func:`pipeline.config.load_section`).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="the params file")
    parser.add_argument("--study", default=None,
                        help="a key of studies / classification_studies in the params file")
    return parser


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
    import os

    import torch
    import uvicorn

    from pipeline.serving.app import create_app
    from pipeline.serving.bundle import find_bundles, load_bundle

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    api_key = os.environ.get(args.api_key_env) or None
    bundles = {name: load_bundle(path) for name, path in find_bundles(args.bundle).items()}
    sys.stderr.write(f"serving {', '.join(bundles)} on http://{args.host}:{args.port} "
                     f"(API key {'required' if api_key else 'off'})\n")
    app = create_app(bundles, api_key, int(args.max_upload_mb * 2**20))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def _evaluate(args: argparse.Namespace) -> None:
    from pipeline.evaluation.report import format_results
    from pipeline.serving.bundle import load_bundle
    from pipeline.serving.offline import evaluate_bundle

    results = evaluate_bundle(load_bundle(args.bundle), args.data, args.out,
                              targets=args.targets)
    sys.stdout.write(f"bundle {results['bundle']} on {results['data']} "
                     f"(metrics in {args.out / 'evaluate.json'})\n\n{format_results(results)}\n")


def add_studies(more: Path, params: Path = Path("params.yaml")) -> list[str]:
    """Append the studies of ``more`` to the ``studies`` of ``params``; return their keys.

    ``more`` maps study keys to their overrides, as under ``studies:``. Its text is inserted,
    indented, after the last indented line of the block that ``studies:`` opens in
    ``params``, so both files keep their comments and layout. Nothing is written when
    ``params`` already has every study of ``more``; the result is validated (every section
    of every added study) before it replaces ``params``.

    Raises
    ------
    ParamsError
        If a file is missing or malformed, ``params`` has no block ``studies:`` of entries,
        it has some of the studies of ``more`` only, or an added study does not validate.
    """
    import yaml

    from pipeline.config import STUDY_GROUPS, load_section
    from pipeline.errors import ParamsError

    for path in (more, params):
        if not path.is_file():
            raise ParamsError(f"{path}: file not found")
    text, extra = params.read_text(), more.read_text()
    try:
        current, entries = yaml.safe_load(text) or {}, yaml.safe_load(extra) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{params} or {more}: not valid YAML ({exc})".replace("\n", " ")
                          ) from None
    if not isinstance(entries, dict) or not entries:
        raise ParamsError(f"{more}: expected a mapping of study keys to their overrides")
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "studies:"), None)
    if start is None or not isinstance(current, dict) or not isinstance(
            current.get("studies"), dict):
        raise ParamsError(f"{params}: expected a line 'studies:' opening the block of studies "
                          f"(the studies of {more} are inserted in it)")
    end = start  # the block's last indented line: comments at column 0 belong to the next key
    for i in range(start + 1, len(lines)):
        if lines[i][:1] not in ("", " "):
            break
        if lines[i].strip():
            end = i
    present = [key for key in entries if key in current["studies"]]
    if len(present) == len(entries):
        return []
    if present:
        raise ParamsError(f"{params}: has {', '.join(present)} of {more} but not the others; "
                          f"expected all or none of {', '.join(entries)}")
    indented = [f"  {line}".rstrip() for line in extra.rstrip("\n").split("\n")]
    tmp = params.with_name(f".{params.name}.adding")
    tmp.write_text("\n".join(lines[:end + 1] + indented + lines[end + 1:]))
    try:
        for key in entries:
            for section in STUDY_GROUPS["studies"]:
                load_section(section, tmp, key)
    except BrainreconError as exc:
        tmp.unlink()
        raise ParamsError(str(exc).replace(str(tmp), f"{params} with {more}")) from None
    tmp.replace(params)
    return list(entries)


def _add_studies(args: argparse.Namespace) -> None:
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

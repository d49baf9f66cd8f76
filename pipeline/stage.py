"""What every stage script shares: its argument parser and the runner that reports errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pipeline.errors import BrainreconError, describe_os_error
from pipeline.logs import setup_logging
from pipeline.numerics import keep_freed_memory


def run_stage(name: str, main: Callable[[], object]) -> None:
    """Run a stage's ``main``; user-input and disk errors become one line and exit status 1.

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
    except OSError as exc:
        # stages write through pipeline.io.atomic_output_dir: the old outputs are intact
        sys.stderr.write(f"[{name}] error: {describe_os_error(exc)}; nothing was half-written: "
                         "outputs are replaced only once complete (free disk space or fix "
                         "permissions, then rerun)\n")
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

"""Plain-text table of an evaluation's metrics, for the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = ("metric", "decoder [CI]", "baseline [CI]", "oracle [CI]", "chance",
           "ratio to oracle", "ratio to baseline")


def _value(value: float | None) -> str:
    """A score with three decimals, or "n/a"."""
    return "n/a" if value is None else f"{value:.3f}"


def _with_ci(value: float | None, ci: Sequence[float] | None) -> str:
    """"value [low, high]", or "n/a"."""
    if value is None:
        return "n/a"
    if ci is None:
        return _value(value)
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _header(metrics: Mapping[str, Any]) -> str:
    """One line naming the encoder, the target, the test size and the averaging."""
    if metrics.get("average_repetitions"):
        averaging = f"averaged over {metrics.get('n_repetitions', '?')} repetitions"
    else:
        averaging = "single trials"
    return (
        f"encoder: {metrics.get('encoder', '?')} (baseline: {metrics.get('baseline_encoder', '?')})"
        f" | target: {metrics.get('target', '?')}"
        f" | test stimuli: {metrics.get('n_test_stimuli', '?')}"
        f" | queries: {metrics.get('n_queries', '?')}, {averaging}"
        f" | CI: {metrics.get('confidence', 0.95):.0%} bootstrap over stimuli"
    )


def format_results(metrics: Mapping[str, Any]) -> str:
    """Format the metrics written by ``evaluate`` as an aligned text table.

    Parameters
    ----------
    metrics : mapping
        The content of the metrics JSON: settings, and one mapping per metric key.

    Returns
    -------
    str
        A header line, then one row per metric: decoder [CI] | baseline [CI] | oracle [CI] |
        chance | ratio to oracle | ratio to baseline. A "*" marks a decoder score whose CI
        lies entirely on the better side of chance (``above_chance``).
    """
    rows = [
        (
            key,
            _with_ci(entry.get("decoder"), entry.get("decoder_ci"))
            + (" *" if entry.get("above_chance") else ""),
            _with_ci(entry.get("baseline"), entry.get("baseline_ci")),
            _with_ci(entry.get("oracle"), entry.get("oracle_ci")),
            _value(entry.get("chance")),
            _value(entry.get("ratio_to_oracle")),
            _value(entry.get("ratio_to_baseline")),
        )
        for key, entry in metrics.items()
        if isinstance(entry, Mapping)
    ]
    widths = [max(len(row[i]) for row in (COLUMNS, *rows)) for i in range(len(COLUMNS))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in (COLUMNS, *rows)]
    rule = "-+-".join("-" * width for width in widths)
    footer = "* the decoder's CI lies entirely on the better side of chance"
    return "\n".join([_header(metrics), lines[0], rule, *lines[1:], footer])

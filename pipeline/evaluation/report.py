"""Plain-text table of an evaluation's metrics, for the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = ("metric", "decoder [CI]", "baseline [CI]", "oracle [CI]", "chance",
           "ratio to oracle", "ratio to baseline")


def format_value(value: float | None) -> str:
    """A score with three decimals, or "n/a"."""
    return "n/a" if value is None else f"{value:.3f}"


def format_with_ci(value: float | None, ci: Sequence[float] | None) -> str:
    """"value [low, high]", or "n/a"."""
    if value is None:
        return "n/a"
    if ci is None:
        return format_value(value)
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
        + (f" | held-out subjects: {', '.join(metrics['held_out_subjects'])} (_held_out rows)"
           if metrics.get("held_out_subjects") else "")
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
            format_with_ci(entry.get("decoder"), entry.get("decoder_ci"))
            + (" *" if entry.get("above_chance") else ""),
            format_with_ci(entry.get("baseline"), entry.get("baseline_ci")),
            format_with_ci(entry.get("oracle"), entry.get("oracle_ci")),
            format_value(entry.get("chance")),
            format_value(entry.get("ratio_to_oracle")),
            format_value(entry.get("ratio_to_baseline")),
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


def format_crossval(metrics: Mapping[str, Any]) -> str:
    """Return the cross-validated accuracy table of a ``crossval.json``, one row per model.

    Each accuracy carries its CI; a ``*`` marks a CI entirely above chance.
    """
    header = (
        f"target: {metrics['target']} | folds: {metrics['folds']} ({metrics['n_folds']}) | "
        f"trials: {metrics['n_trials']} | blocks: {metrics['n_blocks'] or 'none'} | "
        f"CI: {metrics['confidence']:.0%} {metrics['ci']}"
    )
    rows = [("model", "per trial [CI]", "per block [CI]", "chance")]
    for kind in ("encoders", "baselines"):
        for name, entry in metrics[kind].items():
            cells = []
            for level in ("trial", "block"):
                score = entry.get(level)
                if not score:
                    cells.append("n/a")
                    continue
                mark = " *" if score["ci"][0] > metrics["chance"] else ""
                cells.append(format_with_ci(score["accuracy"], score["ci"]) + mark)
            rows.append((f"{name} ({kind[:-1]})", *cells, format_value(metrics["chance"])))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join([header, *lines])

"""Plain-text table of the generation metrics, for the terminal (``brainrecon results``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.evaluation.report import format_value, format_with_ci

COLUMNS = ("kind", "metric", "decoder [CI]", "baseline [CI]", "ceiling [CI]", "chance",
           "of ceiling")
KINDS = ("image", "text", "shape")


def format_generation(metrics: Mapping[str, Any]) -> str:
    """Format the metrics written by ``evaluate_generated`` as an aligned text table.

    Parameters
    ----------
    metrics : mapping
        The content of ``generation.json``: one mapping per kind, each with one entry per
        metric (see :func:`pipeline.evaluation.generation.score.metric_entry`).

    Returns
    -------
    str
        A header line, then one row per metric. "*" marks a decoder score whose CI lies wholly
        on the better side of chance; "(lower is better)" follows distances; "of ceiling" is
        (decoder - chance) / (ceiling - chance).
    """
    rows = []
    for kind in KINDS:
        entries = metrics.get(kind, {})
        for name, entry in entries.items():
            if not isinstance(entry, Mapping):
                continue
            label = name if entry.get("higher_is_better", True) else f"{name} (lower is better)"
            rows.append((
                f"{kind} ({entries.get('generator', '?')})", label,
                format_with_ci(entry.get("decoder"), entry.get("decoder_ci"))
                + (" *" if entry.get("beats_chance") else ""),
                format_with_ci(entry.get("baseline"), entry.get("baseline_ci")),
                format_with_ci(entry.get("ceiling"), entry.get("ceiling_ci")),
                format_value(entry.get("chance")), format_value(entry.get("of_ceiling")),
            ))
    widths = [max(len(row[i]) for row in (COLUMNS, *rows)) for i in range(len(COLUMNS))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in (COLUMNS, *rows)]
    header = (f"generation | test stimuli: {metrics.get('n_test_stimuli', '?')} | ceiling: "
              "generated from the true latents | chance: "
              f"{metrics.get('chance', '?')} | CI: {metrics.get('confidence', 0.95):.0%} "
              "bootstrap over stimuli")
    footer = "* the decoder's CI lies entirely on the better side of chance"
    return "\n".join([header, lines[0], "-+-".join("-" * w for w in widths), *lines[1:], footer])

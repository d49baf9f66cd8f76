"""Where a study's data come from: its BIDS description, and the credit line figures carry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.io import read_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CREDIT_MARGIN = 0.06  # fraction of a figure's height kept free for its credit line

DESCRIPTION_KEYS = {
    "Name": "name",
    "License": "license",
    "Authors": "authors",
    "ReferencesAndLinks": "references",
}


def read_source(bids_root: str | Path) -> dict[str, Any]:
    """The name, licence, authors and references of a BIDS root's ``dataset_description.json``.

    Parameters
    ----------
    bids_root : str or Path
        A BIDS root.

    Returns
    -------
    dict
        The keys of ``DESCRIPTION_KEYS`` that the description sets; empty without one.
    """
    path = Path(bids_root) / "dataset_description.json"
    if not path.is_file():
        return {}
    description = read_json(path)
    return {key: description[field] for field, key in DESCRIPTION_KEYS.items()
            if description.get(field)}


def credit_line(source: dict[str, Any]) -> str | None:
    """The attribution a figure derived from licensed data must carry, or None.

    Data under a licence (``source["license"]``) are credited by name, first author,
    first reference and licence, as attribution licences (CC BY, ODC-By) require.

    Examples
    --------
    >>> credit_line({"name": "Study", "license": "CC BY-SA 3.0", "authors": ["A. B", "C. D"]})
    'Data: Study (A. B et al.), CC BY-SA 3.0'
    """
    if not source.get("license"):
        return None
    authors = source.get("authors") or []
    who = "" if not authors else f" ({authors[0]}{' et al.' if len(authors) > 1 else ''})"
    references = source.get("references") or []
    where = f", {references[0]}" if references else ""
    return f"Data: {source.get('name', 'unnamed dataset')}{who}{where}, {source['license']}"


def draw_credit(figure: Figure, credit: str | None) -> None:
    """Print ``credit`` along the bottom of a laid-out ``figure`` (nothing when None)."""
    if credit:
        figure.subplots_adjust(bottom=figure.subplotpars.bottom + CREDIT_MARGIN)
        figure.text(0.01, 0.005, credit, fontsize=6, color="#444444", ha="left", va="bottom",
                    wrap=True)

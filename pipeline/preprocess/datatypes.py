"""Which recordings a BIDS root holds, and which preprocessing pipeline reads them."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import DataError


def find_datatypes(raw_dir: Path) -> list[str]:
    """Return the BIDS datatypes (``eeg``, ``meg``, ``ieeg``, ``func``, ...) under ``sub-*``.

    Sessions are looked through; derivatives are not searched.
    """
    found = set()
    for subject in Path(raw_dir).glob("sub-*/"):
        for folder in [*subject.iterdir(), *subject.glob("ses-*/*")]:
            if folder.is_dir() and not folder.name.startswith("ses-"):
                found.add(folder.name)
    return sorted(found)


def choose_datatype(raw_dir: Path, requested: str | None, known: list[str]) -> str:
    """Return the datatype to preprocess: ``requested``, or the one the root holds.

    Parameters
    ----------
    raw_dir : Path
        The BIDS root.
    requested : str or None
        ``preprocess.datatype`` from params.yaml; None detects it.
    known : list of str
        The datatypes a preprocessing pipeline is registered for.

    Raises
    ------
    DataError
        If the root holds none of ``known``, or several and none was requested.
    """
    present = [datatype for datatype in find_datatypes(raw_dir) if datatype in known]
    if requested is not None:
        if requested not in present:
            raise DataError(
                f"{raw_dir}: no {requested}/ recordings (preprocess.datatype); found "
                f"{', '.join(present) or 'none'} under sub-*/"
            )
        return requested
    if not present:
        raise DataError(
            f"{raw_dir}: no recording found; expected a BIDS root with sub-*/<datatype>/ "
            f"for one of {', '.join(known)}"
        )
    if len(present) > 1:
        raise DataError(
            f"{raw_dir}: holds {', '.join(present)} recordings; set preprocess.datatype to "
            "the one to preprocess"
        )
    return present[0]

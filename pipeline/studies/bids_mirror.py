"""Mirror part of a BIDS dataset: check the root, select files by subject and task, link
them, and rename trial types of events.tsv to stimulus ids (in new files, never in place)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from pipeline.errors import DataError, ParamsError
from pipeline.io import read_json, write_tsv
from pipeline.studies.bids_output import link_or_copy
from pipeline.studies.trial_events import NOT_TRIALS

SKIPPED = ("sourcedata",)  # top-level folders never mirrored (vendor files, not BIDS)
EVENTS_SUFFIX = "_events.tsv"
NOT_APPLICABLE = "n/a"
DESCRIPTION_COLUMNS = ("trial_type", "stim_type", "value")  # as mne-bids reads them
RENAMED = {column: f"source_{column}" for column in DESCRIPTION_COLUMNS}


def check_root(root: Path, option: str) -> Path:
    """Return ``root`` after checking it is a BIDS root.

    Raises
    ------
    DataError
        If it is not a folder, or lacks a valid ``dataset_description.json`` or ``sub-*/``.
    """
    if not root.is_dir():
        raise DataError(f"{root}: not a folder ({option}); expected the root of a BIDS dataset")
    description = root / "dataset_description.json"
    if not description.is_file():
        raise DataError(f"{root}: no dataset_description.json; expected the root of a BIDS "
                        f"dataset ({option})")
    if not isinstance(read_json(description), dict):
        raise DataError(f"{description}: not a JSON object; expected BIDS dataset metadata")
    if not any(path.is_dir() for path in root.glob("sub-*")):
        raise DataError(f"{root}: no sub-*/ folder; expected one folder per subject ({option})")
    return root


def entities(name: str) -> dict[str, str]:
    """Return the BIDS entities of a file name: ``sub-01_task-x_eeg.vhdr`` -> sub, task."""
    parts = name.split(".")[0].split("_")
    return dict(part.split("-", 1) for part in parts if "-" in part)


def _keep_folder(folder: str, parent: Path, subjects: set[str], tasks: list[str] | None
                 ) -> bool:
    """Whether to walk ``folder``: not hidden or skipped, of a selected subject, and, for a
    recording stored as a folder (CTF ``.ds``), of a selected task."""
    if folder.startswith("."):
        return False
    if parent == Path(".") and folder in SKIPPED:
        return False
    labels = entities(folder)  # sub-01/, or sub-01_task-x_meg.ds/
    if tasks is not None and "task" in labels and labels["task"] not in tasks:
        return False
    return "sub" not in labels or labels["sub"] in subjects


def select_files(root: Path, subjects: list[str] | None, tasks: list[str] | None,
                 option: str) -> list[Path]:
    """Return the files to mirror, relative to ``root``, in a stable order.

    Files (and ``sub-*`` folders, at any depth) of other subjects, and files of other
    tasks, are left out; so are hidden files and ``sourcedata/``.

    Raises
    ------
    ParamsError
        If a selected subject or task is not in the dataset.
    DataError
        If no file of a subject is left.
    """
    found = sorted(path.name[4:] for path in root.glob("sub-*") if path.is_dir())
    unknown = [label for label in subjects or [] if label not in found]
    if unknown:
        raise ParamsError(f"{option}.subjects: got {', '.join(unknown)}; expected labels of "
                          f"{root}: {', '.join(found)}")
    keep = set(subjects or found)
    selected, found_tasks = [], set()
    for folder, folders, names in os.walk(root):
        parent = Path(folder).relative_to(root)
        found_tasks.update(entities(name)["task"] for name in folders
                           if "task" in entities(name))
        folders[:] = sorted(name for name in folders if _keep_folder(name, parent, keep, tasks))
        for name in sorted(names):
            labels = entities(name)
            if name.startswith(".") or ("sub" in labels and labels["sub"] not in keep):
                continue
            found_tasks.update([labels["task"]] if "task" in labels else [])
            if tasks is None or "task" not in labels or labels["task"] in tasks:
                selected.append(parent / name)
    missing = [task for task in tasks or [] if task not in found_tasks]
    if missing:
        raise ParamsError(f"{option}.tasks: got {', '.join(missing)}; expected tasks of "
                          f"{root}: {', '.join(sorted(found_tasks)) or 'none'}")
    if not any(path.parts[0].startswith("sub-") for path in selected):
        raise DataError(f"{root}: no file for subjects {', '.join(sorted(keep))} and tasks "
                        f"{', '.join(tasks or ['any'])}; expected recordings under sub-*/")
    return selected


def read_events(path: Path) -> pd.DataFrame:
    """Read an events.tsv as text (``n/a`` kept as is).

    Raises
    ------
    DataError
        If it is unreadable or has no ``onset`` column.
    """
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable TSV table ({exc})") from None
    if "onset" not in table:
        raise DataError(f"{path}: no onset column; found {', '.join(table.columns)}")
    return table


def descriptions(table: pd.DataFrame) -> pd.Series:
    """Return the annotation description mne-bids gives each row of an events table.

    As ``mne_bids.read_raw_bids`` does: ``trial_type`` (else ``stim_type``, else
    ``value``; ``value`` too when every trial type is ``n/a``), and ``<type>/<value>``
    when one trial type comes with several values. ``n/a`` marks rows that are no event.
    """
    column = next((name for name in DESCRIPTION_COLUMNS if name in table), None)
    if column is None:
        return pd.Series(NOT_APPLICABLE, index=table.index)
    if (column != "value" and "value" in table and (table[column] == NOT_APPLICABLE).all()
            and (table["value"] != NOT_APPLICABLE).any()):
        column = "value"
    names = table[column].where(~table["onset"].isin([NOT_APPLICABLE, "nan", "NaN", ""]),
                                NOT_APPLICABLE)
    if column != "value" and "value" in table:
        events = names != NOT_APPLICABLE
        several = table[events].groupby(column)["value"].nunique()
        nested = names.isin(several[several > 1].index)
        values = table["value"].where(table["value"] != NOT_APPLICABLE, "na")
        names = names.where(~nested, names + "/" + values)
    return names


def _trials(names: pd.Series, events: Mapping[str, str]) -> list[str]:
    """Return the descriptions (after renaming) that are trials."""
    if events:
        return [name for name in names if name in set(events.values())]
    return [name for name in names
            if name != NOT_APPLICABLE and not name.upper().startswith(NOT_TRIALS)]


def mirror_files(root: Path, files: list[Path], out_dir: Path, events: Mapping[str, str],
                 option: str) -> list[str]:
    """Link ``files`` from ``root`` into ``out_dir``; rename trial types where ``events`` says.

    With a mapping, each subject's ``*_events.tsv`` is written anew: ``trial_type`` holds
    the renamed descriptions and the columns it came from are kept as ``source_*``.

    Returns
    -------
    list of str
        The trials (stimulus ids) of every subject's events.tsv, in file order.

    Raises
    ------
    ParamsError
        If a key of ``events`` is the description of no event.
    """
    tables = {path: read_events(root / path) for path in files
              if path.name.endswith(EVENTS_SUFFIX) and path.parts[0].startswith("sub-")}
    names = {path: descriptions(table) for path, table in tables.items()}
    seen = set().union(*names.values()) - {NOT_APPLICABLE}
    unknown = [key for key in events if key not in seen]
    if unknown:
        raise ParamsError(f"{option}.events: got {', '.join(unknown)}; expected trial types of "
                          f"{root}: {', '.join(sorted(seen)[:20]) or 'none'}")
    trials = []
    for path in files:
        if path not in tables or not events:
            link_or_copy(root / path, out_dir / path)
        if path not in tables:
            continue
        renamed = names[path].map(lambda name: events.get(name, name))
        trials += _trials(renamed, events)
        if events:
            table = tables[path].rename(columns=RENAMED)
            table.insert(min(2, len(table.columns)), "trial_type", renamed)
            (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
            write_tsv(table, out_dir / path)
    return trials

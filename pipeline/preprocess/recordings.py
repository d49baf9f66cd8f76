"""Find and read the M/EEG/iEEG recordings of a BIDS root, their stimulus table and trials."""

from __future__ import annotations

from pathlib import Path

import mne
import mne_bids
import pandas as pd

from pipeline.errors import DataError
from pipeline.io import read_tsv
from pipeline.read_errors import reading

RAW_EXTENSIONS = {  # the files mne-bids reads, by BIDS datatype
    "eeg": (".vhdr", ".edf", ".bdf", ".set", ".fif"),
    "meg": (".fif", ".ds", ".sqd", ".con"),
    "ieeg": (".vhdr", ".edf", ".set", ".nwb", ".mefd"),
}
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = {"train": 0.75, "val": 0.125, "test": 0.125}
STIMULI_TABLE = Path("stimuli") / "stimuli.tsv"


def find_recordings(raw_dir: Path, datatype: str = "eeg") -> list[mne_bids.BIDSPath]:
    """Return the ``datatype`` recordings of the BIDS root ``raw_dir`` by subject, session, run.

    Parameters
    ----------
    raw_dir : Path
        The BIDS root.
    datatype : str
        The BIDS datatype ("eeg", "meg", "ieeg"): files ``sub-*/[ses-*/]<datatype>/
        *_<datatype>.<ext>`` with an extension of ``RAW_EXTENSIONS[datatype]``; of a
        recording split in several files (``split-01``, ``split-02``), the first.

    Raises
    ------
    DataError
        If ``raw_dir`` holds no such recording (derivatives are not searched).
    """
    extensions = RAW_EXTENSIONS.get(datatype, ())
    recordings = []
    if raw_dir.is_dir() and extensions:
        recordings = [
            path for path in mne_bids.find_matching_paths(
                raw_dir, datatypes=datatype, suffixes=datatype, extensions=list(extensions)
            )
            if path.fpath.relative_to(raw_dir).parts[0].startswith("sub-")
            and path.split in (None, "01")
        ]
    if not recordings:
        raise DataError(
            f"{raw_dir}: no {datatype} recording found (expected "
            f"sub-*/{datatype}/*_{datatype}{'|'.join(extensions) or '.<ext>'} in a BIDS root)"
        )
    return sorted(recordings, key=lambda path: (path.subject, path.session or "",
                                                path.run or "", path.basename))


def read_recording(path: mne_bids.BIDSPath) -> mne.io.BaseRaw:
    """Read one recording into memory with ``mne_bids.read_raw_bids``.

    Raises
    ------
    DataError
        One line naming the file and what is wrong: a file it needs is missing, it is
        truncated (the data end before its header or events.tsv say), or it is corrupted.
    """
    with reading(path.fpath):
        raw = mne_bids.read_raw_bids(path, verbose=False)
        return raw.load_data(verbose=False)


def read_stimuli(raw_dir: Path, seed: int) -> pd.DataFrame:
    """Read the stimulus table and give every stimulus its split.

    Parameters
    ----------
    raw_dir : Path
        The BIDS root; the table is ``stimuli/stimuli.tsv`` (columns ``stimulus_id`` and,
        optionally, ``split``).
    seed : int
        Seed of the split by stimulus when the table has no ``split`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``stimulus_id`` and ``split``, one row per stimulus.

    Raises
    ------
    DataError
        If the table is missing or empty, has duplicate stimulus ids or unknown split names.
    """
    from pipeline.evaluation.splits import assign_splits

    path = raw_dir / STIMULI_TABLE
    table = read_tsv(path, required=["stimulus_id"])
    if table.empty:
        raise DataError(f"{path}: no stimuli; expected one row per stimulus")
    duplicated = table["stimulus_id"][table["stimulus_id"].duplicated()].unique()
    if len(duplicated):
        raise DataError(f"{path}: duplicate stimulus_id {', '.join(duplicated[:5])}; "
                        "expected one row per stimulus")
    if "split" not in table.columns:
        splits = assign_splits(table["stimulus_id"].tolist(), SPLIT_FRACTIONS, seed)
        return pd.DataFrame({"stimulus_id": table["stimulus_id"],
                             "split": table["stimulus_id"].map(splits)})
    unknown = sorted(set(table["split"].astype(str)) - set(SPLITS))
    if unknown:
        raise DataError(f"{path}: split {', '.join(unknown)}; expected one of {', '.join(SPLITS)}")
    return table[["stimulus_id", "split"]].astype(str).reset_index(drop=True)


def stimulus_events(raw: mne.io.BaseRaw, stimulus_ids: pd.Series) -> pd.DataFrame:
    """Return the trials of ``raw``: annotations whose description is a stimulus id.

    Returns
    -------
    pandas.DataFrame
        Columns ``onset`` (seconds from the first sample, on the sample grid) and
        ``stimulus_id``, in time order; other annotations are ignored.
    """
    annotations = raw.annotations
    descriptions = pd.Series([str(description) for description in annotations.description])
    keep = descriptions.isin(set(stimulus_ids)).to_numpy()  # (n_annotations,)
    samples = raw.time_as_index(annotations.onset[keep], use_rounding=True,
                                origin=annotations.orig_time)
    events = pd.DataFrame({"onset": samples / raw.info["sfreq"],
                           "stimulus_id": descriptions[keep].to_numpy()})
    return events.sort_values("onset", kind="stable").reset_index(drop=True)

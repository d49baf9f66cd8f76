"""Write into a study's BIDS root: recordings (copied or converted by mne-bids), files
mirrored from elsewhere (hard links), and the stimulus table ``stimuli/stimuli.tsv``."""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.errors import DataError
from pipeline.io import read_tsv, write_tsv

if TYPE_CHECKING:
    import mne
    from mne_bids import BIDSPath

logger = logging.getLogger(__name__)

CONVERSIONS = {"eeg": "BrainVision", "ieeg": "BrainVision", "meg": "FIF"}  # datatype -> format
STIMULI_TABLE = Path("stimuli") / "stimuli.tsv"
STIMULUS_FILE_COLUMNS = ("image",)  # columns naming files relative to the table's folder
NOT_A_FILE = ("", "n/a")
SPLIT_SEED = 0


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` at ``target`` (a copy where links are impossible).

    A symbolic link is followed; the source is never modified. A file already at
    ``target`` is replaced (unlinked first, never written through).

    Raises
    ------
    DataError
        If ``source`` is missing or a broken link (e.g. git-annex content not fetched).
    """
    if not source.exists():
        raise DataError(f"{source}: file not found or a broken link; expected a readable file "
                        "(for a DataLad dataset, run `datalad get` first)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source.resolve(), target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)


def write_recording(raw: mne.io.BaseRaw, is_file: bool, path: BIDSPath, source: Path) -> Path:
    """Write one recording at ``path`` with mne-bids; return the written data file.

    The file is copied when it is stored as is (``is_file``) in a format BIDS allows for
    the datatype (BrainVision, EDF, BDF, EEGLAB for EEG and iEEG; FIF, CTF, KIT, BTi for
    MEG); otherwise it is converted: to BrainVision for EEG/iEEG, to FIF for MEG.
    Annotations become ``events.tsv``, channel types ``channels.tsv``.

    Raises
    ------
    DataError
        If mne-bids cannot write it (the message names ``source``).
    """
    from mne_bids import write_raw_bids
    from mne_bids.config import ALLOWED_DATATYPE_EXTENSIONS

    # mne-bids names a format by every suffix of the name (rec.ds_raw.fif: ".ds_raw.fif")
    copy = is_file and "".join(source.suffixes) in ALLOWED_DATATYPE_EXTENSIONS[path.datatype]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting data files")
        try:
            if copy:
                written = write_raw_bids(raw, path, overwrite=True, verbose=False)
            else:
                written = write_raw_bids(raw.copy().load_data(verbose=False), path,
                                         format=CONVERSIONS[path.datatype], allow_preload=True,
                                         overwrite=True, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            message = " ".join(str(exc).split())
            raise DataError(f"{source}: cannot write it as BIDS {path.datatype} ({message})"
                            ) from None
    logger.info("%s -> %s (%s)", source.name, written.basename,
                "copied" if copy else f"converted to {CONVERSIONS[path.datatype]}")
    return written.fpath


def write_stimulus_table(out_dir: Path, stimulus_ids: Sequence[str]) -> pd.DataFrame:
    """Write ``stimuli/stimuli.tsv`` with one row per distinct stimulus id (sorted).

    Columns: ``stimulus_id``; ``split``, drawn by stimulus (seed 0, the preprocess
    fractions; pass a table of your own to choose); ``image`` (``n/a``); ``caption``,
    the stimulus id itself, so a text target has something to embed.
    """
    from pipeline.evaluation.splits import assign_splits
    from pipeline.preprocess.recordings import SPLIT_FRACTIONS

    ids = sorted(set(stimulus_ids))
    splits = assign_splits(ids, SPLIT_FRACTIONS, SPLIT_SEED)
    table = pd.DataFrame({"stimulus_id": ids, "split": [splits[name] for name in ids],
                          "image": "n/a", "caption": ids})
    (out_dir / STIMULI_TABLE).parent.mkdir(parents=True, exist_ok=True)
    write_tsv(table, out_dir / STIMULI_TABLE)
    return table


def copy_stimulus_table(table_path: Path, out_dir: Path, option: str) -> pd.DataFrame:
    """Mirror a stimulus table, and the files its ``image`` column names, into ``stimuli/``.

    Parameters
    ----------
    table_path : Path
        A TSV with a ``stimulus_id`` column; file names in it are relative to its folder.
    out_dir : Path
        The BIDS root.
    option : str
        The option that named the table, for errors.

    Raises
    ------
    DataError
        If the table is missing, lacks ``stimulus_id``, repeats an id, or names a missing file.
    """
    if not table_path.is_file():
        raise DataError(f"{table_path}: file not found; expected the stimulus table ({option})")
    table = read_tsv(table_path, required=["stimulus_id"])
    repeated = table["stimulus_id"][table["stimulus_id"].duplicated()].unique()
    if len(repeated):
        raise DataError(f"{table_path}: stimulus_id {', '.join(map(str, repeated[:5]))} repeated; "
                        "expected one row per stimulus")
    target = out_dir / STIMULI_TABLE
    link_or_copy(table_path, target)
    for column in STIMULUS_FILE_COLUMNS:
        names = table[column].dropna().astype(str) if column in table else pd.Series([], dtype=str)
        for name in names[~names.isin(NOT_A_FILE)]:
            source = table_path.parent / name
            if not source.is_file():
                raise DataError(f"{table_path}: {column} {name!r} is not a file in "
                                f"{table_path.parent}; expected paths relative to the table")
            link_or_copy(source, target.parent / name)
    return table


def check_stimuli_cover(table: pd.DataFrame, trials: Sequence[str], where: Path) -> None:
    """Check that trials name stimuli of ``table``; log the trials left out.

    Raises
    ------
    DataError
        If no trial names a stimulus of the table.
    """
    known = set(table["stimulus_id"].astype(str))
    outside = sorted({name for name in trials if name not in known})
    if outside and len(outside) == len(set(trials)):
        raise DataError(f"{where}: no trial names a stimulus_id of the table (trials name "
                        f"{', '.join(outside[:5])}); expected ids such as "
                        f"{', '.join(sorted(known)[:3])}")
    if outside:
        logger.warning("%s: trials of %s are not in the stimulus table; they will be left out",
                       where, ", ".join(outside[:10]))

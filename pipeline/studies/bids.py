"""A study read from an existing BIDS dataset (EEG, MEG, iEEG through mne-bids; fMRI too).

Example (``params.yaml``)::

    study:
      name: bids
      options:
        bids:
          root: ../datasets/ds003825          # never modified; mirrored by hard links
          subjects: ["01", "02"]              # optional; default every sub-*
          tasks: [rsvp]                       # optional; default every task
          events: {"stim/face": face}         # optional: trial_type -> stimulus id
          stimuli: ../datasets/stimuli.tsv    # optional; default the dataset's own, or
                                              # one row per trial type
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import Field

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.studies import STUDIES
from pipeline.studies.rawfiles import Label, StimulusId

logger = logging.getLogger(__name__)

OPTION = "study.options.bids"


class BidsOptions(Section):
    """``study.options.bids``: the dataset, which part of it, and how trials name stimuli."""

    root: str = Field(description="the BIDS root, relative to the project root or absolute")
    subjects: list[Label] | None = Field(None, min_length=1, description="labels, no 'sub-'")
    tasks: list[Label] | None = Field(None, min_length=1)
    events: dict[str, StimulusId] = Field(
        {}, description="trial type (events.tsv trial_type, as mne-bids reads it) -> stimulus "
                        "id; empty: every trial type is a stimulus")
    stimuli: str | None = Field(None, description="stimulus table (TSV with stimulus_id); "
                                                  "None: the dataset's stimuli/stimuli.tsv, "
                                                  "else one row per trial type")


@STUDIES.register("bids")
class BidsStudy:
    """Any BIDS dataset: the selected files mirrored, trial types renamed to stimulus ids."""

    options = BidsOptions

    def generate(self, options: BidsOptions, out_dir: Path) -> None:
        """Mirror the selected part of the dataset into ``out_dir`` and name its stimuli.

        Files are hard-linked (copied across file systems); ``sourcedata/`` and hidden
        folders are left out, and so are files of subjects or tasks not selected. With an
        events mapping, each ``*_events.tsv`` is written anew (never through a link) with
        ``trial_type`` renamed. ``stimuli/stimuli.tsv`` is the given table, else the
        dataset's own, else one row per trial type.

        Raises
        ------
        DataError
            If the root is not a BIDS dataset or holds no recording for the selection.
        ParamsError
            If a selected subject or task, or an events key, is not in the dataset.
        """
        from pipeline.studies.bids_mirror import check_root, mirror_files, select_files
        from pipeline.studies.bids_output import (
            STIMULI_TABLE,
            check_stimuli_cover,
            copy_stimulus_table,
            write_stimulus_table,
        )

        root, out_dir = check_root(Path(options.root), f"{OPTION}.root"), Path(out_dir)
        if options.stimuli is not None and not Path(options.stimuli).is_file():
            raise DataError(f"{options.stimuli}: file not found; expected the stimulus table "
                            f"({OPTION}.stimuli)")
        files = select_files(root, options.subjects, options.tasks, OPTION)
        trials = mirror_files(root, files, out_dir, options.events, OPTION)
        if options.stimuli is not None:
            table = copy_stimulus_table(Path(options.stimuli), out_dir, f"{OPTION}.stimuli")
            check_stimuli_cover(table, trials, Path(options.stimuli))
        elif (out_dir / STIMULI_TABLE).is_file():
            logger.info("stimuli: the dataset's own %s", root / STIMULI_TABLE)
        elif not trials:
            raise DataError(f"{root}: no events.tsv trial type in the selection; expected "
                            f"trials to name stimuli (or a table in {OPTION}.stimuli)")
        else:
            write_stimulus_table(out_dir, trials)
        logger.info("%s: %d files mirrored, %d trials", root, len(files), len(trials))

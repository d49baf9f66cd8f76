"""A study made of recording files in any format MNE reads, with an events mapping.

Example (``params.yaml``)::

    study:
      name: rawfiles
      options:
        rawfiles:
          files:
            - {path: recordings/s01.vhdr, subject: "01"}
            - {path: recordings/s02.edf, subject: "02", session: "1", run: 2}
            - {path: recordings/ecog.lay, channel_types: {eeg: ecog}}
            - {path: recordings/s03.ds, subject: "03"}          # a CTF directory
            - {path: recordings/s04.cnt, reader_kwargs: {data_format: int32}}
          channel_types: {"EXG*": eog, EMG: emg}   # every file; a file's own win key by key
          rename_channels: {"EEG *-REF": "*"}      # after the types; '*' = what it matched
          events: {"Stimulus/S  1": face, "Stimulus/S  2": house, 5: car}
          stimuli: recordings/stimuli.tsv   # optional
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from pipeline.config import Section
from pipeline.errors import DataError, ParamsError
from pipeline.preprocess.channel_maps import RenameRules, TypeRules
from pipeline.studies import STUDIES

logger = logging.getLogger(__name__)

OPTION = "study.options.rawfiles"


def _as_text(value: Any) -> Any:
    """Read YAML numbers given as labels (``run: 1``, ``subject: 01`` unquoted) as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _bids_label(value: str) -> str:
    if not value.isascii() or not value.isalnum():
        raise ValueError(f"got {value!r}; expected a BIDS label: letters and digits only "
                         "(no 'sub-', 'ses-' or 'task-' prefix)")
    return value


def _bids_index(value: str) -> str:
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"got {value!r}; expected a run number such as 1 or 01")
    return value


Label = Annotated[str, BeforeValidator(_as_text), AfterValidator(_bids_label)]
Run = Annotated[str, BeforeValidator(_as_text), AfterValidator(_bids_index)]
StimulusId = Annotated[str, BeforeValidator(_as_text), Field(min_length=1)]


class RawFile(Section):
    """One file of ``study.options.rawfiles.files`` and the BIDS labels it gets."""

    path: str = Field(description="the file (its header where the format has one) or the "
                                  "directory (CTF .ds, EGI .mff), relative to the project root "
                                  "or absolute")
    subject: Label = "01"
    session: Label | None = None
    task: Label = "rawfiles"
    run: Run | None = Field(None, description="unset: numbered in list order when several "
                                              "recordings share subject, session and task")
    kind: str = Field("auto", description="raw | evoked | auto (evoked for *-ave.fif[.gz])")
    channel_types: TypeRules = Field(
        {}, description="channel name, pattern (EXG*) or current type -> new type, e.g. "
                        "{eeg: ecog}; wins over the study's channel_types key by key")
    rename_channels: RenameRules = Field(
        {}, description="channel name or pattern -> new name; wins over the study's")
    reader_kwargs: dict[str, Any] = Field(
        {}, description="arguments of MNE's reader of this file, e.g. {data_format: int32} "
                        "for a 32-bit Neuroscan .cnt; win over the study's reader_kwargs")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        from pipeline.studies.file_kinds import AUTO, FILE_KINDS

        if value != AUTO:
            FILE_KINDS.get(value)
        return value


def _as_file(value: Any) -> Any:
    """Accept a bare path for a file entry."""
    return {"path": value} if isinstance(value, str) else value


class RawFilesOptions(Section):
    """``study.options.rawfiles``: recording files, how their events name stimuli, stimuli."""

    files: list[Annotated[RawFile, BeforeValidator(_as_file)]] = Field(min_length=1)
    events: dict[int | str, StimulusId] = Field(
        {}, description="annotation description (text) or stim-channel event code (integer) "
                        "-> stimulus id; empty: every annotation is a trial named by itself")
    stim_channel: str | None = Field(None, description="None: MNE finds the stim channel")
    stimuli: str | None = Field(None, description="stimulus table (TSV with stimulus_id); "
                                                  "None: one row per stimulus id of the trials")
    line_freq: float | None = Field(None, gt=0, description="power line frequency (Hz)")
    channel_types: TypeRules = Field(
        {}, description="every file: channel name, pattern or current type -> new type, e.g. "
                        "{EXG*: eog, EMG: emg} (then pick [eeg] drops them)")
    rename_channels: RenameRules = Field(
        {}, description="every file: channel name or pattern -> new name, e.g. "
                        "{'EEG *-REF': '*'}; applied after channel_types")
    reader_kwargs: dict[str, Any] = Field(
        {}, description="every file: arguments of MNE's reader (mne.io.read_raw_<format>)")


def _check_files_exist(options: RawFilesOptions) -> list[Path]:
    """Return the files' paths; raise one DataError naming every missing file or directory."""
    paths = [Path(entry.path) for entry in options.files]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise DataError(f"{', '.join(missing)}: file not found ({OPTION}.files; relative paths "
                        f"are from the project root, {Path.cwd()}); expected recordings")
    return paths


def number_runs(labels: list[dict[str, str | None]]) -> list[dict[str, str | None]]:
    """Give a run to recordings that share subject, session and task but have none.

    Runs are numbered 1, 2, ... in list order, skipping the runs given explicitly.

    Raises
    ------
    ParamsError
        If two recordings end with the same subject, session, task and run.
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    for index, entry in enumerate(labels):
        groups[(entry["subject"], entry["session"], entry["task"])].append(index)
    out = [dict(entry) for entry in labels]
    for indices in groups.values():
        taken = {out[index]["run"] for index in indices if out[index]["run"] is not None}
        free = (str(run) for run in range(1, len(indices) + len(taken) + 1)
                if str(run) not in taken)
        for index in indices:
            if out[index]["run"] is None and len(indices) > 1:
                out[index]["run"] = next(free)
    keys = [tuple(entry.values()) for entry in out]
    repeated = sorted({key for key in keys if keys.count(key) > 1}, key=str)
    if repeated:
        name = "_".join(f"{entity}-{label}" for entity, label
                        in zip(("sub", "ses", "task", "run"), repeated[0], strict=True) if label)
        raise ParamsError(
            f"{OPTION}.files: several recordings are {name}; expected distinct labels (leave "
            "run unset to number them; an evoked file gives one recording per condition)"
        )
    return out


@STUDIES.register("rawfiles")
class RawFilesStudy:
    """Recordings in any format MNE reads, written as BIDS with trials named by stimulus."""

    options = RawFilesOptions

    def generate(self, options: RawFilesOptions, out_dir: Path) -> None:
        """Read every file, rename its events to stimulus ids and write the BIDS root.

        Each file is read (with its ``reader_kwargs``) and checked to its last sample, and
        its channels retyped and renamed (:class:`~pipeline.studies.channel_rules.ChannelRules`),
        before anything is written. The datatype follows the channel types (MEG, else iEEG,
        else EEG); files that BIDS allows are copied, others, and files read with reader
        arguments or renamed channels, converted (BrainVision for EEG/iEEG, FIF for MEG).
        An evoked file gives one recording per condition, holding one trial at the
        average's time zero (:func:`pipeline.studies.file_kinds.FILE_KINDS` ``evoked``).

        Raises
        ------
        DataError
            Naming the file that is missing, truncated, corrupted or has no trial, or a
            channel rule that matches no channel.
        ParamsError
            If two recordings get the same BIDS labels, or a reader takes none of the
            ``reader_kwargs``.
        """
        from mne_bids import BIDSPath, make_dataset_description

        from pipeline.studies.bids_output import (
            check_stimuli_cover,
            copy_stimulus_table,
            write_recording,
            write_stimulus_table,
        )
        from pipeline.studies.channel_rules import ChannelRules, check_study_rules_used
        from pipeline.studies.file_kinds import read_file
        from pipeline.studies.trial_events import datatype_of, stimulus_annotations, trial_ids

        out_dir = Path(out_dir)
        paths = _check_files_exist(options)
        recordings, labels, used = [], [], set()
        for entry, path in zip(options.files, paths, strict=True):
            rules = ChannelRules.merge(options.channel_types, options.rename_channels,
                                       entry.channel_types, entry.rename_channels)
            reader_kwargs = {**options.reader_kwargs, **entry.reader_kwargs}
            for recording in read_file(path, entry.kind, reader_kwargs):
                raw, used_here = rules.apply(recording.raw, path, f"{OPTION}.files")
                used |= used_here
                raw.set_annotations(stimulus_annotations(raw, options.events,
                                                         options.stim_channel, path))
                if options.line_freq is not None:
                    raw.info["line_freq"] = options.line_freq
                # BIDS readers take no reader arguments and keep the file's own names
                as_stored = recording.is_file and not reader_kwargs and not rules.renames
                recordings.append((raw, as_stored, recording.source, datatype_of(raw, path)))
                labels.append({"subject": entry.subject, "session": entry.session,
                               "task": entry.task, "run": entry.run})
        check_study_rules_used({"channel_types": options.channel_types,
                                "rename_channels": options.rename_channels}, used, paths, OPTION)
        trials: list[str] = []
        for (raw, as_stored, source, datatype), label in zip(recordings, number_runs(labels),
                                                             strict=True):
            names = trial_ids(raw.annotations, options.events)
            if not names:
                logger.warning("%s: no trial (no annotation or event in %s.events)", source,
                               OPTION)
            trials += names
            write_recording(raw, as_stored, BIDSPath(root=out_dir, datatype=datatype, **label),
                            source)
        if not trials:
            raise DataError(f"{', '.join(map(str, paths))}: no trial; expected annotations or "
                            f"stim-channel events named in {OPTION}.events")
        if options.stimuli is None:
            write_stimulus_table(out_dir, trials)
        else:
            table = copy_stimulus_table(Path(options.stimuli), out_dir, f"{OPTION}.stimuli")
            check_stimuli_cover(table, trials, Path(options.stimuli))
        make_dataset_description(path=out_dir, name="brainrecon rawfiles study",
                                 dataset_type="raw", overwrite=True, verbose=False)
        logger.info("%d recordings, %d trials of %d stimuli", len(recordings), len(trials),
                    len(set(trials)))

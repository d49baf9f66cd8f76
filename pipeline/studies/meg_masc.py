"""MEG-MASC (Gwilliams et al. 2023): 27 subjects, 2 sessions of 208-channel KIT MEG, heard stories.

Read from a local copy of the BIDS release (OSF ag3kj; never downloaded)::

    <root>/dataset_description.json
    <root>/sub-01/ses-0/meg/sub-01_ses-0_task-0_meg.con       # KIT; task = story 0..3
    <root>/sub-01/ses-0/meg/sub-01_ses-0_task-0_events.tsv    # trial_type: a Python dict
    <root>/stimuli/audio/lw1_0.wav ...                        # the sounds heard

Each events row describes one event as a dict literal (``{'kind': 'sound', 'sound':
'stimuli/audio/lw1_0.0.wav', ...}``, ``{'kind': 'word', 'word': 'Tara', ...}``, phonemes).
Every sound is cut into back-to-back segments of ``segment`` seconds (a trailing part shorter
than that is left out), the trials of Défossez et al. (2023): each run's ``events.tsv`` is
written anew with one row per segment heard, ``trial_type`` the segment id
(``<sound>_s<k>``). A segment's caption is the words whose onset falls inside it
(``stimuli/words.tsv`` has each word's onset and offset in its segment); its audio is cut
from the sound at 16 kHz. Splits are drawn by sound, so no sound lends segments to two
splits and every subject and session hears the test segments.
"""

from __future__ import annotations

import ast
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.io import read_json, write_json, write_tsv
from pipeline.studies import STUDIES
from pipeline.studies.rawfiles import Label

logger = logging.getLogger(__name__)

OPTION = "study.options.meg_masc"
RELEASE_STIMULI = "stimuli"  # the release's own sound folder: read, never mirrored
SOUND, WORD = "sound", "word"
WORD_COLUMNS = ("stimulus_id", "word", "onset", "offset")
FLOAT_INDEX = re.compile(r"_(\d+)\.0(\.wav)$", re.IGNORECASE)  # lw1_0.0.wav names lw1_0.wav
SPLIT_SEED = 0
NOT_NUMBERS = ("n/a", "")  # how a BIDS table leaves a time out
NON_LITERAL_NAMES = {"nan": math.nan, "inf": math.inf}  # names a dict literal may hold
DESCRIPTION = {
    "License": "CC BY 4.0",
    "Authors": ["Laura Gwilliams", "Graham Flick", "Alec Marantz", "Liina Pylkkänen",
                "David Poeppel", "Jean-Rémi King"],
    "ReferencesAndLinks": ["https://doi.org/10.1038/s41597-023-02752-5",
                           "https://osf.io/ag3kj/"],
}


class MegMascOptions(Section):
    """``study.options.meg_masc``: the BIDS root, which subjects and stories, the segments."""

    root: str = Field(description="the BIDS root of MEG-MASC (sub-*/, stimuli/audio/)")
    subjects: list[Label] | None = Field(None, min_length=1,
                                         description="labels such as 01; None: every one")
    tasks: list[Label] | None = Field(None, min_length=1,
                                      description="stories 0 to 3; None: every one")
    segment: float = Field(3.0, gt=0, description="seconds of sound a trial holds")
    val_fraction: float = Field(0.1, gt=0, lt=0.5, description="sounds drawn for validation")
    test_fraction: float = Field(0.1, gt=0, lt=0.5, description="sounds drawn for testing")


class _NamedNumbers(ast.NodeTransformer):
    """Replace the names ``nan`` and ``inf`` by their numbers, so the tree is a literal."""

    def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 (the visitor's name)
        if node.id in NON_LITERAL_NAMES:
            return ast.Constant(NON_LITERAL_NAMES[node.id])
        return node


def _literal(text: str) -> object:
    """A Python literal from ``text``, where ``nan`` and ``inf`` may stand for numbers."""
    return ast.literal_eval(_NamedNumbers().visit(ast.parse(text.strip(), mode="eval")))


def read_event_dicts(path: Path) -> pd.DataFrame:
    """Read a run's events: onset, duration and the keys of each row's ``trial_type`` dict.

    Raises
    ------
    DataError
        If the table lacks onset or trial_type, or a trial type is not a dict literal.
    """
    from pipeline.studies.bids_mirror import read_events

    table = read_events(path)
    if "trial_type" not in table:
        raise DataError(f"{path}: no trial_type column; expected MEG-MASC's events, one dict "
                        "per row")
    rows = []
    for index, (onset, duration, text) in enumerate(zip(
            table["onset"], table.get("duration", pd.Series("0", index=table.index)),
            table["trial_type"], strict=True)):
        try:
            event = _literal(text)
        except (SyntaxError, ValueError) as exc:
            raise DataError(f"{path}, row {index + 1}: trial_type {text[:60]!r} is not a dict "
                            f"literal ({exc.__class__.__name__})") from None
        if not isinstance(event, dict):
            raise DataError(f"{path}, row {index + 1}: trial_type {text[:60]!r} is not a dict")
        if onset in NOT_NUMBERS:  # a row of no time: no event
            continue
        rows.append({**event, "onset": float(onset),
                     "duration": float(duration) if duration not in NOT_NUMBERS else 0.0})
    return pd.DataFrame(rows)


def sound_file(root: Path, name: str, where: Path) -> Path:
    """The file a sound event names, relative to ``root`` (``lw1_0.0.wav`` is ``lw1_0.wav``).

    Raises
    ------
    DataError
        If neither the name, its lower case, nor it without the float index is a file.
    """
    candidates = [name, name.lower(), FLOAT_INDEX.sub(r"_\1\2", name),
                  FLOAT_INDEX.sub(r"_\1\2", name.lower())]
    for candidate in candidates:
        if (root / candidate).is_file():
            return root / candidate
    raise DataError(f"{where}: sound {name!r} not found under {root}; expected the release's "
                    f"stimuli/audio/ ({OPTION}.root)")


@dataclass(frozen=True)
class Sound:
    """One sound file, cut into segments.

    Attributes
    ----------
    path : Path
    waveform : ndarray, shape (n_samples,)
        At :data:`pipeline.audio.RATE`.
    """

    path: Path
    waveform: np.ndarray

    def segment_ids(self, seconds: float) -> list[str]:
        """``<stem>_s<k>`` of each whole segment of ``seconds`` the sound holds."""
        from pipeline.audio import RATE

        count = int(len(self.waveform) // round(seconds * RATE))
        return [f"{self.path.stem}_s{index:03d}" for index in range(count)]

    def cut(self, index: int, seconds: float) -> np.ndarray:
        """Segment ``index``'s samples."""
        from pipeline.audio import RATE

        length = round(seconds * RATE)
        return self.waveform[index * length:(index + 1) * length]


def read_sounds(root: Path, runs: dict[Path, pd.DataFrame]) -> dict[str, Sound]:
    """Read every sound the runs play; add ``sound_stem`` to each run's sound events.

    Raises
    ------
    DataError
        If a run's events lack the ``kind`` or ``sound`` key, or a sound is missing.
    """
    from pipeline.audio import read_wav

    sounds: dict[str, Sound] = {}
    for path, events in runs.items():
        missing = [key for key in ("kind", "sound") if key not in events]
        if missing:
            raise DataError(f"{root / path}: no {' or '.join(map(repr, missing))} key in "
                            "trial_type; expected MEG-MASC's sound, word and phoneme events")
        stems = []
        for kind, name in zip(events["kind"], events["sound"], strict=True):
            file = sound_file(root, str(name), root / path) if kind == SOUND else None
            if file is not None and file.stem not in sounds:
                sounds[file.stem] = Sound(file, read_wav(file))
            stems.append(file.stem if file is not None else None)
        events["sound_stem"] = stems
    return sounds


def segment_events(events: pd.DataFrame, sounds: dict[str, Sound], seconds: float,
                   where: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run's segment trials and the words heard in them.

    A word belongs to the sound started last before it, and to that sound's segment its
    onset falls in.

    Parameters
    ----------
    events : DataFrame
        The run's events (:func:`read_event_dicts`); its sound events carry the stem of the
        file they name in ``sound_stem``.
    sounds : dict of str to Sound
        Sound stem -> sound.
    seconds : float
        Segment length.
    where : Path
        The events file, named in errors.

    Returns
    -------
    trials : DataFrame
        onset, duration, trial_type (segment id), sound: one row per segment heard.
    words : DataFrame
        stimulus_id, word, onset, offset (seconds from the segment's start).

    Raises
    ------
    DataError
        If the run has no sound event.
    """
    starts = events[events["kind"] == SOUND].sort_values("onset")
    if starts.empty:
        raise DataError(f"{where}: no event of kind 'sound'; expected one per sound played")
    trials = [{"onset": round(onset + index * seconds, 6), "duration": seconds,
               "trial_type": segment_id, "sound": sounds[stem].path.name}
              for onset, stem in zip(starts["onset"], starts["sound_stem"], strict=True)
              for index, segment_id in enumerate(sounds[stem].segment_ids(seconds))]
    heard = events[events["kind"] == WORD].sort_values("onset")
    if "word" not in heard or heard.empty:
        return pd.DataFrame(trials), pd.DataFrame(columns=list(WORD_COLUMNS))
    playing = pd.merge_asof(heard[["onset", "duration", "word"]],
                            starts[["onset", "sound_stem"]].rename(columns={"onset": "start"}),
                            left_on="onset", right_on="start").dropna(subset=["start"])
    index = ((playing["onset"] - playing["start"]) // seconds).astype(int)
    segments = {stem: sound.segment_ids(seconds) for stem, sound in sounds.items()}
    ids = [segments[stem][k] if k < len(segments[stem]) else None
           for stem, k in zip(playing["sound_stem"], index, strict=True)]
    begin = playing["start"] + index * seconds
    words = pd.DataFrame({"stimulus_id": ids, "word": playing["word"].astype(str).str.strip(),
                          "onset": (playing["onset"] - begin).round(4),
                          "offset": np.minimum(playing["onset"] + playing["duration"] - begin,
                                               seconds).round(4)})
    return pd.DataFrame(trials), words.dropna(subset=["stimulus_id"]).reset_index(drop=True)


def stimulus_table(sounds: dict[str, Sound], words: pd.DataFrame, seconds: float,
                   fractions: dict[str, float]) -> pd.DataFrame:
    """One row per segment: stimulus_id, split (by sound), audio, caption, n_words, sound."""
    from pipeline.evaluation.splits import assign_splits

    splits = assign_splits(sorted(sounds), fractions, SPLIT_SEED)
    rows = []
    for stem in sorted(sounds):
        for segment_id in sounds[stem].segment_ids(seconds):
            heard = words.loc[words["stimulus_id"] == segment_id, "word"].tolist()
            rows.append({"stimulus_id": segment_id, "split": splits[stem],
                         "audio": f"audio/{segment_id}.wav", "caption": " ".join(heard),
                         "n_words": len(heard), "sound": sounds[stem].path.name})
    return pd.DataFrame(rows)


@STUDIES.register("meg_masc")
class MegMascStudy:
    """MEG-MASC's BIDS dataset, its sounds cut into segments that are the trials."""

    options = MegMascOptions

    def generate(self, options: MegMascOptions, out_dir: Path) -> None:
        """Mirror the selected runs, one trial per segment heard, and write the segments.

        Raises
        ------
        DataError
            If the root, an events file or a sound is missing or unreadable.
        ParamsError
            If a selected subject or story is not in the dataset.
        """
        from pipeline.audio import RATE, write_wav
        from pipeline.studies.bids_mirror import EVENTS_SUFFIX, check_root, select_files
        from pipeline.studies.bids_output import STIMULI_TABLE, link_or_copy

        root, out_dir = check_root(Path(options.root), f"{OPTION}.root"), Path(out_dir)
        files = [path for path in select_files(root, options.subjects, options.tasks, OPTION)
                 if path.parts[0] != RELEASE_STIMULI]
        runs = {path: read_event_dicts(root / path) for path in files
                if path.name.endswith(EVENTS_SUFFIX)}
        sounds = read_sounds(root, runs)
        trials, words, described = {}, [], set()
        for path, events in runs.items():  # a segment's words as the first run heard them
            trials[path], heard = segment_events(events, sounds, options.segment, root / path)
            words.append(heard[~heard["stimulus_id"].isin(described)])
            described.update(heard["stimulus_id"])
        heard_words = pd.concat(words, ignore_index=True).sort_values(
            ["stimulus_id", "onset"], kind="stable").reset_index(drop=True)
        fractions = {"train": 1 - options.val_fraction - options.test_fraction,
                     "val": options.val_fraction, "test": options.test_fraction}
        stimuli = stimulus_table(sounds, heard_words, options.segment, fractions)
        for path in files:
            if path in trials:
                (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
                write_tsv(trials[path], out_dir / path)
            else:
                link_or_copy(root / path, out_dir / path)
        audio = out_dir / "stimuli" / "audio"
        audio.mkdir(parents=True, exist_ok=True)
        for sound in sounds.values():
            for index, segment_id in enumerate(sound.segment_ids(options.segment)):
                write_wav(audio / f"{segment_id}.wav", sound.cut(index, options.segment), RATE)
        write_tsv(stimuli, out_dir / STIMULI_TABLE)
        write_tsv(heard_words, out_dir / "stimuli" / "words.tsv")
        description = read_json(root / "dataset_description.json")
        write_json({**description, **DESCRIPTION,
                    "Name": description.get("Name") or "MEG-MASC (Gwilliams et al. 2023)"},
                   out_dir / "dataset_description.json")
        logger.info("MEG-MASC: %d runs, %d sounds, segments %s", len(runs), len(sounds),
                    stimuli["split"].value_counts().to_dict())

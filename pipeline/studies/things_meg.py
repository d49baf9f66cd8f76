"""THINGS-MEG (Hebart et al. 2023): 4 subjects, 12 sessions of CTF MEG, 22,448 THINGS images.

Read from two local folders (never downloaded): the BIDS dataset (OpenNeuro ds004212) and the
THINGS image database::

    <root>/dataset_description.json
    <root>/sub-BIGMEG1/ses-01/meg/sub-BIGMEG1_ses-01_task-main_run-01_meg.ds/   # CTF
    <root>/sub-BIGMEG1/ses-01/meg/sub-BIGMEG1_ses-01_task-main_run-01_events.tsv
    <root>/sourcedata/sample_attributes_P1.csv   # one row per trial: trial_type (exp, test,
                                                 # catch), session_nr, run_nr, image_path
    <images>/aardvark/aardvark_01b.jpg ...       # THINGS object_images/<concept>/<file>

The selected subjects' files are mirrored by hard links; each run's ``events.tsv`` is written
anew with ``trial_type`` the image shown (its file stem), row by row from the subject's
``sample_attributes_P<n>.csv`` rows of that session and run. Catch trials are left out of the
stimuli. The published split is kept: the 200 test images (``trial_type`` test, each shown
once per session) test; the other images train, but for a fraction of whole concepts drawn
for validation.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd
from pydantic import Field

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.io import read_json, write_json, write_tsv
from pipeline.studies import STUDIES
from pipeline.studies.rawfiles import Label
from pipeline.studies.things_concepts import caption_of, concept_of, split_by_concept

logger = logging.getLogger(__name__)

OPTION = "study.options.things_meg"
TASK = "main"
ATTRIBUTES = Path("sourcedata") / "sample_attributes_P{}.csv"
ATTRIBUTE_COLUMNS = ("trial_type", "session_nr", "run_nr", "image_path")
CATCH = "catch"
TEST = "test"
SUBJECT_NUMBER = re.compile(r"(\d+)$")  # BIGMEG1 -> 1
DESCRIPTION = {
    "License": "CC0 1.0 (MEG); images from the THINGS database, under its own terms",
    "Authors": ["Martin N. Hebart", "Oliver Contier", "Lina Teichmann", "Adam H. Rockter",
                "Charles Y. Zheng", "Alexis Kidder", "Anna Corriveau", "Maryam Vaziri-Pashkam",
                "Chris I. Baker"],
    "ReferencesAndLinks": ["https://doi.org/10.7554/eLife.82580",
                           "https://doi.org/10.1371/journal.pone.0223792 (THINGS images)"],
}


class ThingsMegOptions(Section):
    """``study.options.things_meg``: the BIDS root, the THINGS images, which subjects."""

    root: str = Field(description="the BIDS root of ds004212 (sub-BIGMEG*/, sourcedata/)")
    images: str = Field(description="THINGS object_images: one folder per concept")
    subjects: list[Label] | None = Field(None, min_length=1,
                                         description="labels such as BIGMEG1; None: every one")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="training concepts (all their "
                                "images) drawn for validation, seed 0")


def read_attributes(root: Path, subject: str) -> pd.DataFrame:
    """Read ``sourcedata/sample_attributes_P<n>.csv`` of a subject (``BIGMEG<n>``).

    Raises
    ------
    DataError
        If the file is missing or lacks a column of ``ATTRIBUTE_COLUMNS``.
    """
    from pipeline.io import read_tsv

    number = SUBJECT_NUMBER.search(subject)
    path = root / str(ATTRIBUTES).format(number.group(1) if number else subject)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected the trial attributes of "
                        f"sub-{subject} ({OPTION}.root)")
    return read_tsv(path, required=list(ATTRIBUTE_COLUMNS), sep=",")


def stimulus_table(attributes: pd.DataFrame, images: Path, val_fraction: float
                   ) -> pd.DataFrame:
    """One row per image shown in a non-catch trial: id, split, image, caption, concept.

    Raises
    ------
    DataError
        If an image is missing from ``images``.
    """
    shown = attributes[attributes["trial_type"] != CATCH]
    table = shown.assign(name=shown["image_path"].map(lambda path: path.rsplit("/", 1)[-1]),
                         test=shown["trial_type"] == TEST)
    table = table.groupby("name", sort=True).agg(test=("test", "any")).reset_index()
    table["concept"] = table["name"].map(concept_of)
    table["image"] = table["concept"] + "/" + table["name"]
    missing = [name for name in table["image"] if not (images / name).is_file()]
    if missing:
        raise DataError(f"{images}: {len(missing)} images missing, e.g. {missing[0]}; expected "
                        f"the THINGS object images, one folder per concept ({OPTION}.images)")
    return pd.DataFrame({
        "stimulus_id": table["name"].map(lambda name: name.rsplit(".", 1)[0]),
        "split": split_by_concept(table, val_fraction),
        "image": table["image"],
        "caption": table["concept"].map(caption_of),
        "concept": table["concept"],
    })


def name_trials(events: pd.DataFrame, attributes: pd.DataFrame, where: Path) -> pd.DataFrame:
    """Return ``events`` with ``trial_type`` the image shown, the old columns as ``source_*``.

    Raises
    ------
    DataError
        If the run's events and its attribute rows differ in number.
    """
    if len(events) != len(attributes):
        raise DataError(f"{where}: {len(events)} events but {len(attributes)} rows of "
                        "sample_attributes for this session and run; expected one per trial")
    shown = attributes["image_path"].map(lambda path: path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    names = shown.where(attributes["trial_type"] != CATCH, CATCH).to_numpy()
    renamed = events.rename(columns={column: f"source_{column}" for column in events
                                     if column in ("trial_type", "value", "stim_type")})
    renamed.insert(min(2, len(renamed.columns)), "trial_type", names)
    return renamed


@STUDIES.register("things_meg")
class ThingsMegStudy:
    """THINGS-MEG's BIDS dataset, its trials named by the image shown, with the images."""

    options = ThingsMegOptions

    def generate(self, options: ThingsMegOptions, out_dir: Path) -> None:
        """Mirror the selected subjects, name every trial by its image, copy the images.

        Raises
        ------
        DataError
            If the root, an attributes file, an events file or an image is missing or
            inconsistent.
        ParamsError
            If a selected subject is not in the dataset.
        """
        from pipeline.studies.bids_mirror import (
            EVENTS_SUFFIX,
            check_root,
            entities,
            read_events,
            select_files,
        )
        from pipeline.studies.bids_output import STIMULI_TABLE, link_or_copy

        root, out_dir = check_root(Path(options.root), f"{OPTION}.root"), Path(out_dir)
        images = Path(options.images)
        if not images.is_dir():
            raise DataError(f"{images}: not a folder ({OPTION}.images); expected the THINGS "
                            "object images (see docs/datasets.md)")
        files = select_files(root, options.subjects, [TASK], OPTION)
        subjects = sorted({entities(path.name)["sub"] for path in files if "sub" in
                           entities(path.name)})
        attributes = {subject: read_attributes(root, subject) for subject in subjects}
        for path in files:
            labels = entities(path.name)
            if not path.name.endswith(EVENTS_SUFFIX) or "sub" not in labels:
                link_or_copy(root / path, out_dir / path)
                continue
            table = attributes[labels["sub"]]
            rows = table[(table["session_nr"].astype(int) == int(labels.get("ses", 1)))
                         & (table["run_nr"].astype(int) == int(labels.get("run", 1)))]
            named = name_trials(read_events(root / path), rows.reset_index(drop=True),
                                root / path)
            (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
            write_tsv(named, out_dir / path)
        stimuli = stimulus_table(pd.concat(attributes.values(), ignore_index=True), images,
                                 options.val_fraction)
        for image in stimuli["image"]:
            link_or_copy(images / image, out_dir / "stimuli" / image)
        write_tsv(stimuli, out_dir / STIMULI_TABLE)
        description = read_json(root / "dataset_description.json")
        write_json({**description, **DESCRIPTION,
                    "Name": description.get("Name") or "THINGS-MEG (Hebart et al. 2023)"},
                   out_dir / "dataset_description.json")
        logger.info("THINGS-MEG: %d subjects, %d files, stimuli %s", len(subjects), len(files),
                    stimuli["split"].value_counts().to_dict())

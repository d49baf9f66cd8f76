"""THINGS-EEG2 (Gifford et al. 2022): 10 subjects seeing 16,740 THINGS images, preprocessed.

Read from the dataset's own release (never downloaded), as two local folders::

    <eeg>/sub-01/preprocessed_eeg_training.npy   # dict: preprocessed_eeg_data (16540 images,
    <eeg>/sub-01/preprocessed_eeg_test.npy       #   4 repetitions, 17 channels, 100 samples),
    ...                                          #   ch_names, times; test: 200 images x 80
    <images>/image_metadata.npy                  # dict: train_img_concepts, train_img_files,
                                                 #   test_img_concepts, test_img_files
    <images>/training_images/00001_aardvark/aardvark_01b.jpg ...
    <images>/test_images/00001_aircraft_carrier/aircraft_carrier_06s.jpg ...

The published split is kept: the 1654 training concepts (10 images each) train, except a
fraction of whole concepts drawn for validation; the 200 test concepts (one image each,
none of them a training concept) test. Every repetition is one trial. The study writes one
MNE epochs file per subject and part (``sub-01/epochs/sub-01_task-train_epo.fif``), read by
the ``epochs`` preprocessing pipeline, and ``stimuli/`` with every image, its concept as
caption, and the dataset's licence and citation in ``dataset_description.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from pipeline.config import Section
from pipeline.errors import DataError, ParamsError
from pipeline.io import write_json, write_tsv
from pipeline.studies import STUDIES
from pipeline.studies.rawfiles import Label
from pipeline.studies.things_concepts import caption_of, split_by_concept

logger = logging.getLogger(__name__)

OPTION = "study.options.things_eeg2"
PARTS = {"train": ("training", "train"), "test": ("test", "test")}  # part -> file, metadata
EEG_FILE = "preprocessed_eeg_{}.npy"
EEG_KEYS = ("preprocessed_eeg_data", "ch_names", "times")
METADATA_FILE = "image_metadata.npy"
IMAGE_FOLDERS = {"train": "training_images", "test": "test_images"}
DESCRIPTION = {
    "Name": "THINGS-EEG2 (Gifford et al. 2022), preprocessed release",
    "BIDSVersion": "1.9.0",
    "DatasetType": "raw",
    "License": "CC BY 4.0 (EEG); images from the THINGS database, under its own terms",
    "Authors": ["Alessandro T. Gifford", "Kshitij Dwivedi", "Gemma Roig", "Radoslaw M. Cichy"],
    "ReferencesAndLinks": ["https://doi.org/10.1016/j.neuroimage.2022.119754",
                           "https://doi.org/10.1371/journal.pone.0223792 (THINGS images)"],
}


class ThingsEeg2Options(Section):
    """``study.options.things_eeg2``: the two release folders and what to take from them."""

    eeg: str = Field(description="folder of the preprocessed EEG: sub-XX/preprocessed_eeg_"
                                 "training.npy and preprocessed_eeg_test.npy")
    images: str = Field(description="folder of the image set: image_metadata.npy, "
                                    "training_images/ and test_images/")
    subjects: list[Label] | None = Field(None, min_length=1,
                                         description="labels such as 01; None: every sub-*")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="training concepts (all their "
                                "images) drawn for validation, seed 0")


def _folder(path: str, option: str, what: str) -> Path:
    folder = Path(path).resolve()
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder ({option}); expected {what} "
                        "(real recordings are never downloaded, see docs/datasets.md)")
    return folder


def read_image_table(images: Path, val_fraction: float) -> pd.DataFrame:
    """Read ``image_metadata.npy`` into the stimulus table, one row per image.

    Returns
    -------
    pandas.DataFrame
        ``stimulus_id`` (the file's stem), ``split`` (train, val or test), ``image``
        (``images/<folder>/<concept>/<file>``), ``caption`` (the concept's name),
        ``concept``.

    Raises
    ------
    DataError
        If the metadata lacks a key, its lists differ in length, or an image is missing.
    """
    from pipeline.npy_dict import read_npy_dict

    metadata = read_npy_dict(images / METADATA_FILE, "the THINGS-EEG2 image metadata")
    rows = []
    for part, (_, key) in PARTS.items():
        concepts, files = (metadata.get(f"{key}_img_{name}") for name in ("concepts", "files"))
        if concepts is None or files is None or len(concepts) != len(files):
            raise DataError(f"{images / METADATA_FILE}: {key}_img_concepts and {key}_img_files "
                            "missing or of different lengths; expected one entry per image")
        for concept, name in zip(concepts, files, strict=True):
            rows.append({"stimulus_id": Path(str(name)).stem, "part": part,
                         "image": f"{IMAGE_FOLDERS[part]}/{concept}/{name}",
                         "concept": str(concept)})
    table = pd.DataFrame(rows)
    repeated = table["stimulus_id"][table["stimulus_id"].duplicated()].unique()
    if len(repeated):
        raise DataError(f"{images / METADATA_FILE}: image {repeated[0]} listed twice; expected "
                        "every image file once")
    missing = [name for name in table["image"] if not (images / name).is_file()]
    if missing:
        raise DataError(f"{images}: {len(missing)} images of {METADATA_FILE} missing, e.g. "
                        f"{missing[0]}; expected the release's image set")
    table["split"] = split_by_concept(table.assign(test=table["part"] == "test"), val_fraction)
    table["caption"] = table["concept"].map(caption_of)
    return table


def read_subject_part(path: Path, n_images: int) -> dict[str, Any]:
    """Read one subject's training or test file, checked against the image count.

    Returns
    -------
    dict
        ``data`` (images, repetitions, channels, times), ``ch_names``, ``times``.

    Raises
    ------
    DataError
        If a key is missing or the shapes disagree with the metadata.
    """
    from pipeline.npy_dict import read_npy_dict

    saved = read_npy_dict(path, "THINGS-EEG2 preprocessed EEG")
    missing = [key for key in EEG_KEYS if key not in saved]
    if missing:
        raise DataError(f"{path}: no {', '.join(missing)}; expected the keys {EEG_KEYS}")
    data = np.asarray(saved["preprocessed_eeg_data"])
    names, times = [str(name) for name in saved["ch_names"]], np.asarray(saved["times"], float)
    if data.ndim != 4 or data.shape[0] != n_images or data.shape[2:] != (len(names), len(times)):
        raise DataError(f"{path}: preprocessed_eeg_data of shape {data.shape}; expected "
                        f"({n_images} images, repetitions, {len(names)} channels, "
                        f"{len(times)} times) as image_metadata.npy, ch_names and times say")
    return {"data": data, "ch_names": names, "times": times}


def write_epochs(part: dict[str, Any], stimulus_ids: list[str], path: Path) -> int:
    """Write one subject's part as MNE epochs, one per image and repetition; return how many.

    No positions are stored: preprocessing takes them from ``preprocess.montage`` by name.
    """
    import mne

    data = part["data"]  # (n_images, n_repetitions, n_chans, n_times)
    n_images, n_repetitions = data.shape[:2]
    times = part["times"]
    sfreq = float(np.round(1.0 / np.median(np.diff(times)), 6))
    info = mne.create_info(part["ch_names"], sfreq, "eeg")
    metadata = pd.DataFrame({"stimulus_id": np.repeat(stimulus_ids, n_repetitions),
                             "repetition": np.tile(np.arange(n_repetitions), n_images)})
    epochs = mne.EpochsArray(data.reshape(n_images * n_repetitions, *data.shape[2:]), info,
                             tmin=float(times[0]), metadata=metadata, baseline=None,
                             verbose=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    epochs.save(path, overwrite=True, verbose=False)
    return len(epochs)


@STUDIES.register("things_eeg2")
class ThingsEeg2Study:
    """THINGS-EEG2's preprocessed release as epochs files, with its images and splits."""

    options = ThingsEeg2Options

    def generate(self, options: ThingsEeg2Options, out_dir: Path) -> None:
        """Write every subject's epochs, the stimulus table with the images, the licence.

        Raises
        ------
        DataError
            If a folder, file or image is missing, or the arrays disagree with the metadata.
        ParamsError
            If a selected subject is not in the EEG folder.
        """
        from pipeline.studies.bids_output import STIMULI_TABLE, link_or_copy

        eeg = _folder(options.eeg, f"{OPTION}.eeg", "the preprocessed EEG (sub-XX/)")
        images = _folder(options.images, f"{OPTION}.images", "the image set")
        table = read_image_table(images, options.val_fraction)
        found = sorted(path.name[4:] for path in eeg.glob("sub-*") if path.is_dir())
        if not found:
            raise DataError(f"{eeg}: no sub-XX folder ({OPTION}.eeg); expected the "
                            "preprocessed EEG, one folder per subject")
        unknown = [label for label in options.subjects or [] if label not in found]
        if unknown:
            raise ParamsError(f"{OPTION}.subjects: got {', '.join(unknown)}; expected "
                              f"subjects of {eeg}: {', '.join(found)}")
        out_dir = Path(out_dir)
        for subject in options.subjects or found:
            for part, (name, _) in PARTS.items():
                ids = table.loc[table["part"] == part, "stimulus_id"].tolist()
                saved = read_subject_part(eeg / f"sub-{subject}" / EEG_FILE.format(name),
                                          len(ids))
                target = out_dir / f"sub-{subject}" / "epochs" / \
                    f"sub-{subject}_task-{part}_epo.fif"
                logger.info("sub-%s %s: %d epochs", subject, part,
                            write_epochs(saved, ids, target))
        for image in table["image"]:
            link_or_copy(images / image, out_dir / "stimuli" / image)
        write_tsv(table[["stimulus_id", "split", "image", "caption", "concept"]],
                  out_dir / STIMULI_TABLE)
        write_json(DESCRIPTION, out_dir / "dataset_description.json")
        counts = table["split"].value_counts().to_dict()
        logger.info("THINGS-EEG2: %d subjects, stimuli %s", len(options.subjects or found),
                    counts)

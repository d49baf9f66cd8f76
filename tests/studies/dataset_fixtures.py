"""Miniature copies of public datasets, written in their release's own layout and formats.

Each writer lays out a few trials and channels exactly as the release does (folder and file
names, file formats, keys, shapes), with a stimulus-locked response that depends on the
image, so a decoder trained on the miniature can beat chance.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

THINGS_EEG2_CHANNELS = ["Pz", "P3", "P7", "O1", "Oz", "O2", "P4", "P8", "P1", "P5", "PO7",
                        "PO3", "POz", "PO4", "PO8", "P6", "P2"]  # the release's 17 channels
THINGS_EEG2_TIMES = np.round(np.arange(-0.2, 0.8, 0.01), 2)  # (100,) 100 Hz, -0.2 to 0.79 s
THINGS_CONCEPTS = ["aardvark", "ice_cream", "bat2", "abacus", "accordion", "acorn",
                   "aircraft_carrier", "airplane", "alarm_clock", "alligator", "anchor", "ant"]


def _image(path: Path, colour: np.ndarray) -> None:
    """Write a small JPEG of one colour with a lighter square whose place follows it."""
    pixels = np.tile(colour, (32, 32, 1)).astype(np.uint8)  # (32, 32, 3)
    corner = int(colour[0]) % 16
    pixels[corner:corner + 12, corner:corner + 12] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=95)


def write_things_eeg2(root: Path, subjects: tuple[str, ...] = ("01", "02"),
                      train_concepts: int = 6, images_per_concept: int = 3,
                      test_concepts: int = 4, train_repetitions: int = 4,
                      test_repetitions: int = 8, seed: int = 0) -> tuple[Path, Path]:
    """Write a miniature THINGS-EEG2 release: preprocessed EEG and the image set.

    The layout is the release's: ``<root>/eeg/sub-XX/preprocessed_eeg_training.npy`` and
    ``preprocessed_eeg_test.npy`` (dicts saved by ``numpy.save``: ``preprocessed_eeg_data``
    (images, repetitions, 17 channels, 100 times), ``ch_names``, ``times``), and
    ``<root>/images/image_metadata.npy`` (``train_img_concepts``, ``train_img_files``,
    ``test_img_concepts``, ``test_img_files``) with ``training_images/<concept>/<file>.jpg``
    and ``test_images/<concept>/<file>.jpg``. The release has 1654 training concepts of 10
    images (4 repetitions) and 200 test concepts of 1 image (80 repetitions).

    Returns
    -------
    tuple of Path
        The EEG folder and the image folder.
    """
    rng = np.random.default_rng(seed)
    eeg, images = root / "eeg", root / "images"
    metadata, codes = {}, {}
    names = THINGS_CONCEPTS[:train_concepts + test_concepts]
    parts = {"train": (names[:train_concepts], images_per_concept, "training_images"),
             "test": (names[train_concepts:], 1, "test_images")}
    for key, (concepts, per_concept, folder) in parts.items():
        numbered = [f"{index + 1:05d}_{name}" for index, name in enumerate(concepts)
                    for _ in range(per_concept)]
        files = [f"{name}_{index % per_concept + 1:02d}{'b' if key == 'train' else 's'}.jpg"
                 for index, name in enumerate(c for c in concepts for _ in range(per_concept))]
        metadata[f"{key}_img_concepts"] = np.array(numbered)
        metadata[f"{key}_img_files"] = np.array(files)
        codes[key] = rng.standard_normal((len(files), 3))  # (n_images, 3) what each evokes
        for concept, name, code in zip(numbered, files, codes[key], strict=True):
            _image(images / folder / concept / name, 127 + 60 * np.tanh(code))
    images.mkdir(parents=True, exist_ok=True)
    np.save(images / "image_metadata.npy", metadata)
    mixing = rng.standard_normal((len(THINGS_EEG2_CHANNELS), 3))  # (17, 3)
    bump = np.exp(-0.5 * ((THINGS_EEG2_TIMES - 0.15) / 0.05) ** 2)  # (100,)
    for subject in subjects:
        for key, repetitions, name in (("train", train_repetitions, "training"),
                                       ("test", test_repetitions, "test")):
            evoked = (codes[key] @ mixing.T)[:, None, :, None] * bump  # (n, 1, 17, 100)
            noise = rng.standard_normal((len(codes[key]), repetitions,
                                         len(THINGS_EEG2_CHANNELS), len(THINGS_EEG2_TIMES)))
            saved = {"preprocessed_eeg_data": (evoked + 0.5 * noise).astype(np.float32),
                     "ch_names": list(THINGS_EEG2_CHANNELS), "times": THINGS_EEG2_TIMES}
            (eeg / f"sub-{subject}").mkdir(parents=True, exist_ok=True)
            np.save(eeg / f"sub-{subject}" / f"preprocessed_eeg_{name}.npy", saved)
    return eeg, images


def write_things_meg(root: Path, subjects: tuple[str, ...] = ("BIGMEG1",), runs: int = 2,
                     train_concepts: int = 4, images_per_concept: int = 2,
                     test_images: int = 2, seed: int = 0) -> tuple[Path, Path]:
    """Write a miniature THINGS-MEG: the BIDS dataset (ds004212) and THINGS object images.

    The layout is the release's: ``sub-BIGMEG1/ses-01/meg/sub-BIGMEG1_ses-01_task-main_
    run-01_meg.ds`` (CTF) with its ``_events.tsv`` (onset, duration, value, sample, one row
    per trial), and ``sourcedata/sample_attributes_P1.csv`` (comma-separated: trial_type exp,
    test or catch, session_nr, run_nr, image_path, things_image_nr, one row per trial in
    order); the images are ``<images>/<concept>/<concept>_<exemplar>.jpg``. Every run shows
    every training image once, every test image once and one catch image; the MEG carries a
    response to each image 0.1 s after its onset.

    Returns
    -------
    tuple of Path
        The BIDS root and the image folder.
    """
    import mne
    import mne_bids
    import pandas as pd
    from format_writers import write_ctf_ds

    rng = np.random.default_rng(seed)
    bids, images = root / "ds004212", root / "object_images"
    concepts = THINGS_CONCEPTS[:train_concepts]
    shown = [("exp", f"images_meg/{concept}/{concept}_{index + 1:02d}b.jpg")
             for concept in concepts for index in range(images_per_concept)]
    shown += [("test", f"images_test_meg/{concept}/{concept}_{9:02d}s.jpg")
              for concept in concepts[:test_images]]
    shown += [("catch", "images_catch_meg/catch/catch_01.jpg")]
    codes = {path: rng.standard_normal(3) for _, path in shown}
    for _, path in shown:
        if not path.startswith("images_catch"):
            _image(images / "/".join(path.split("/")[1:]), 127 + 60 * np.tanh(codes[path]))
    names = [f"MLC{index:02d}-4408" for index in range(1, 9)]
    mixing = rng.standard_normal((len(names), 3))  # (8, 3)
    sfreq, isi = 200.0, 1.0
    rows = []
    for subject_index, subject in enumerate(subjects, start=1):
        for run in range(1, runs + 1):
            order = rng.permutation(len(shown))
            onsets = 1.0 + isi * np.arange(len(order))  # (n_trials,)
            n_times = int((onsets[-1] + 1.5) * sfreq)
            data = 2e-14 * rng.standard_normal((len(names), n_times))
            for onset, index in zip(onsets, order, strict=True):
                start = int((onset + 0.1) * sfreq)
                data[:, start:start + 20] += 1e-13 * (mixing @ codes[shown[index][1]])[:, None]
            ds = write_ctf_ds(root / "tmp" / f"run{run}.ds", names, sfreq, data)
            raw = mne.io.read_raw_ctf(ds, verbose=False)
            path = mne_bids.BIDSPath(subject=subject, session="01", task="main",
                                     run=f"{run:02d}", datatype="meg", root=bids)
            with warnings.catch_warnings():  # events come next, from the attributes
                warnings.filterwarnings("ignore", "No events found or provided")
                mne_bids.write_raw_bids(raw, path, overwrite=True, verbose=False)
            events = pd.DataFrame({"onset": onsets, "duration": 0.5,
                                   "value": [int(index) + 1 for index in order],
                                   "sample": np.round(onsets * sfreq).astype(int)})
            events.to_csv(path.copy().update(suffix="events", extension=".tsv").fpath,
                          sep="\t", index=False)
            rows += [{"trial_type": shown[index][0], "session_nr": 1, "run_nr": run,
                      "image_path": shown[index][1], "things_image_nr": int(index) + 1,
                      "subject_nr": subject_index} for index in order]
    (bids / "sourcedata").mkdir(exist_ok=True)
    attributes = pd.DataFrame(rows)
    for subject_index, subject in enumerate(subjects, start=1):
        number = subject.removeprefix("BIGMEG")
        attributes[attributes["subject_nr"] == subject_index].drop(columns="subject_nr").to_csv(
            bids / "sourcedata" / f"sample_attributes_P{number}.csv", index=False)
    return bids, images


MEG_MASC_WORDS = ["tara", "stood", "on", "the", "hill", "and", "watched", "river", "a", "boat",
                  "came", "slowly", "down"]
MEG_MASC_AUDIO_RATE = 22_050  # Hz; the study resamples every sound to 16 kHz


def _meg_masc_sound(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A sound of ``seconds``: noise under a slow random envelope. Returns (audio, envelope)."""
    n = int(seconds * MEG_MASC_AUDIO_RATE)
    knots = rng.uniform(0.05, 1.0, int(seconds * 4) + 2)  # 4 envelope steps a second
    envelope = np.interp(np.arange(n) / MEG_MASC_AUDIO_RATE, np.arange(len(knots)) / 4, knots)
    return 0.3 * envelope * rng.uniform(-1, 1, n), envelope


def write_meg_masc(root: Path, subjects: tuple[str, ...] = ("01", "02"),
                   sessions: tuple[str, ...] = ("0", "1"), tasks: tuple[str, ...] = ("0",),
                   sounds_per_task: int = 5, sound_seconds: float = 6.5,
                   seed: int = 0) -> Path:
    """Write a miniature MEG-MASC BIDS release (OSF ag3kj) and return its root.

    The layout is the release's: ``sub-01/ses-0/meg/sub-01_ses-0_task-0_meg.con`` (KIT) with
    its ``_events.tsv`` (onset, duration, trial_type, value, sample; ``trial_type`` the repr
    of a dict of kind ``sound``, ``word`` or ``phoneme`` naming the sound as
    ``stimuli/audio/<story>_<k>.0.wav``, as the release does), ``participants.tsv`` and the
    sounds as ``stimuli/audio/<story>_<k>.wav`` (22.05 kHz here), with the release's
    ``stimuli/text/`` beside them. Each run plays its story's sounds back to back, 1 s apart,
    every subject and session the same sounds; the MEG follows each sound's envelope 0.1 s
    later, through a fixed mixing, under noise.
    """
    import mne
    import mne_bids
    import pandas as pd
    from kit_writer import write_kit_con

    from pipeline.audio import write_wav

    rng = np.random.default_rng(seed)
    stories = {task: ["lw1", "cable_spool_fort", "easy_money", "the_black_willow"][int(task)]
               for task in tasks}
    audio = root / "stimuli" / "audio"
    audio.mkdir(parents=True)
    (root / "stimuli" / "text").mkdir()
    sounds = {}
    for task, story in stories.items():
        (root / "stimuli" / "text" / f"{story}.txt").write_text(" ".join(MEG_MASC_WORDS))
        for index in range(sounds_per_task):
            waveform, envelope = _meg_masc_sound(rng, sound_seconds)
            write_wav(audio / f"{story}_{index}.wav", waveform, MEG_MASC_AUDIO_RATE)
            sounds[task, index] = envelope
    names = [f"MEG {index:03d}" for index in range(1, 9)]
    mixing = rng.standard_normal(len(names))  # (8,)
    sfreq, gap, lag = 200.0, 1.0, 0.1
    for subject in subjects:
        for session in sessions:
            for task, story in stories.items():
                onsets = 1.0 + (sound_seconds + gap) * np.arange(sounds_per_task)
                n_times = int((onsets[-1] + sound_seconds + 1.0) * sfreq)
                data = 2e-14 * rng.standard_normal((len(names), n_times))
                rows = []
                for index, onset in enumerate(onsets):
                    envelope = sounds[task, index][::int(MEG_MASC_AUDIO_RATE / sfreq)]
                    start = int((onset + lag) * sfreq)
                    data[:, start:start + len(envelope)] += 1e-13 * np.outer(mixing, envelope)
                    sound = f"stimuli/audio/{story}_{index}.0.wav"
                    shared = {"story": story, "story_uid": float(task), "sound_id": float(index)}
                    rows.append((onset, 0.0, {**shared, "kind": "sound", "start": 0.0,
                                              "sound": sound}))
                    for number, start_in in enumerate(np.arange(0.2, sound_seconds - 0.3, 0.45)):
                        word = MEG_MASC_WORDS[(index + number) % len(MEG_MASC_WORDS)]
                        rows.append((onset + start_in, 0.3, {
                            **shared, "kind": "word", "start": round(float(start_in), 3),
                            "sound": sound, "word": word, "word_index": number,
                            "condition": "sentence", "phoneme": float("nan")}))
                        rows.append((onset + start_in, 0.1, {
                            **shared, "kind": "phoneme", "start": round(float(start_in), 3),
                            "sound": sound, "phoneme": f"{word[0]}_B"}))
                con = root / "tmp" / f"sub-{subject}_ses-{session}_task-{task}.con"
                con.parent.mkdir(parents=True, exist_ok=True)
                write_kit_con(con, names, sfreq, data)
                raw = mne.io.read_raw_kit(con, verbose=False)
                path = mne_bids.BIDSPath(subject=subject, session=session, task=task,
                                         datatype="meg", root=root)
                with warnings.catch_warnings():  # events come next, from the rows
                    warnings.filterwarnings("ignore", "No events found or provided")
                    mne_bids.write_raw_bids(raw, path, overwrite=True, verbose=False)
                events = pd.DataFrame({
                    "onset": [onset for onset, _, _ in rows],
                    "duration": [duration for _, duration, _ in rows],
                    "trial_type": [repr(event) for _, _, event in rows],  # as released
                    "value": 0,
                    "sample": [int(round(onset * sfreq)) for onset, _, _ in rows]})
                events.to_csv(path.copy().update(suffix="events", extension=".tsv").fpath,
                              sep="\t", index=False)
    for leftover in sorted((root / "tmp").iterdir()):
        leftover.unlink()
    (root / "tmp").rmdir()
    return root

"""EEG Motor Movement/Imagery (Schalk et al. 2004), one subject: both fists vs both feet."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from pipeline.config import Section
from pipeline.errors import DataError
from pipeline.io import write_tsv
from pipeline.studies import STUDIES
from pipeline.studies.local_data import locate_data

if TYPE_CHECKING:
    import mne

logger = logging.getLogger(__name__)

TASKS = {5: "movement", 9: "movement", 13: "movement", 6: "imagery", 10: "imagery", 14: "imagery"}
CUES = {"T1": "fists", "T2": "feet"}  # in runs 5, 6, 9, 10, 13, 14; T0 is rest
CAPTIONS = {
    "fists": "a person opening and closing both fists",
    "feet": "a person moving both feet",
}
MONTAGE = "standard_1005"
LINE_FREQ = 60.0  # recorded in the USA
README = """\
# EEG Motor Movement/Imagery, fists vs feet (brainrecon excerpt)

Runs of one subject of the EEG Motor Movement/Imagery Dataset, converted to BIDS by
brainrecon's `eegmmidb` study: 64 EEG channels (BCI2000, 160 Hz), channel names cleaned to
the 10-05 system. In `task-imagery` runs the subject imagined, in `task-movement` runs
performed, opening and closing both fists (`fists`, cue T1) or both feet (`feet`, cue T2);
rest periods (T0) are left out. stimuli/stimuli.tsv describes the two classes.

Licence: Open Data Commons Attribution License 1.0 (ODC-By 1.0). Cite:
Schalk, G., McFarland, D. J., Hinterberger, T., Birbaumer, N., Wolpaw, J. R. (2004).
BCI2000: a general-purpose brain-computer interface (BCI) system. IEEE Transactions on
Biomedical Engineering 51(6):1034-1043.
Goldberger, A. L., et al. (2000). PhysioBank, PhysioToolkit, and PhysioNet. Circulation
101(23):e215-e220.
"""


class EegmmidbOptions(Section):
    """``study.options.eegmmidb``: where the EDF files are, and which runs to convert."""

    path: str = Field(
        "../shared/data/eegmmidb_S001",
        description="folder of S<subject>R<run>.edf files, relative to the project root",
    )
    subject: int = Field(1, ge=1, le=109)
    runs: list[int] = Field(
        [6, 10, 14], min_length=1,
        description="6, 10, 14: imagined fists/feet; 5, 9, 13: executed",
    )

    @field_validator("runs")
    @classmethod
    def _fists_feet_runs(cls, value: list[int]) -> list[int]:
        unknown = [run for run in value if run not in TASKS]
        if unknown or len(set(value)) != len(value):
            raise ValueError(
                f"got runs {value}; expected distinct runs among {sorted(TASKS)} (the runs "
                "whose cues are both fists vs both feet)"
            )
        return value


def read_run(path: Path) -> mne.io.BaseRaw:
    """Read one EDF run with 10-05 channel names, its cues renamed ``fists`` and ``feet``.

    Returns
    -------
    mne.io.BaseRaw
        The run in memory, montage set, rest (T0) annotations dropped.

    Raises
    ------
    DataError
        If the file cannot be read or has no T1/T2 cue.
    """
    import mne  # imported when generating, not when params are validated

    from pipeline.preprocess.montage import standard_montage

    try:
        raw = mne.io.read_raw_edf(path, preload=True, verbose=False)
    except (OSError, ValueError, RuntimeError) as exc:
        message = " ".join(str(exc).split())
        raise DataError(f"{path}: cannot read the EDF file ({message})") from None
    mne.datasets.eegbci.standardize(raw)  # 'Fc5.' -> 'FC5', ...
    raw.set_montage(standard_montage(MONTAGE), verbose=False)
    raw.info["line_freq"] = LINE_FREQ
    cues = raw.annotations
    keep = np.isin(cues.description, list(CUES))  # (n_annotations,)
    if not keep.any():
        raise DataError(f"{path}: no T1 or T2 annotation; expected the cues of a fists/feet run")
    raw.set_annotations(mne.Annotations(
        onset=cues.onset[keep],
        duration=cues.duration[keep],
        description=[CUES[cue] for cue in cues.description[keep]],
        orig_time=cues.orig_time,
    ))
    return raw


@STUDIES.register("eegmmidb")
class EegmmidbStudy:
    """Imagined (or executed) opening/closing of both fists vs both feet, 64-channel EEG."""

    options = EegmmidbOptions

    def generate(self, options: EegmmidbOptions, out_dir: Path) -> None:
        """Write the selected runs as BIDS EEG (BrainVision), stimuli.tsv and the README.

        Raises
        ------
        DataError
            If the folder or a run's EDF file is missing, corrupt or lacks cues.
        """
        from mne_bids import BIDSPath, make_dataset_description, write_raw_bids

        names = [f"S{options.subject:03d}R{run:02d}.edf" for run in options.runs]
        folder = locate_data(
            options.path, names, "EDF files of the EEG Motor Movement/Imagery dataset",
            "study.options.eegmmidb.path",
        )
        out_dir = Path(out_dir)
        for run, name in zip(options.runs, names, strict=True):
            raw = read_run(folder / name)
            path = BIDSPath(subject=f"{options.subject:03d}", task=TASKS[run], run=run,
                            datatype="eeg", root=out_dir)
            write_raw_bids(raw, path, format="BrainVision", allow_preload=True, overwrite=True,
                           verbose=False)
            counts = pd.Series(raw.annotations.description).value_counts().to_dict()
            logger.info("%s -> %s: %s", name, path.basename, counts)
        make_dataset_description(
            path=out_dir, name="EEG Motor Movement/Imagery: fists vs feet", dataset_type="raw",
            data_license="ODC-By-1.0",
            authors=["Gerwin Schalk", "Dennis J. McFarland", "Thilo Hinterberger",
                     "Niels Birbaumer", "Jonathan R. Wolpaw"],
            references_and_links=["https://doi.org/10.1109/TBME.2004.827072",
                                  "https://doi.org/10.1161/01.CIR.101.23.e215"],
            overwrite=True, verbose=False,
        )
        (out_dir / "README").write_text(README)
        (out_dir / "stimuli").mkdir(exist_ok=True)
        write_tsv(pd.DataFrame({
            "stimulus_id": list(CAPTIONS),
            "split": "train",  # class-level study: every class is in every fold
            "image": "n/a",
            "caption": list(CAPTIONS.values()),
        }), out_dir / "stimuli" / "stimuli.tsv")

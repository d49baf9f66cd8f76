"""``preprocess``: the ordered M/EEG/iEEG steps and the fMRI options."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config import Section, registered

StepName = Annotated[str, registered("pipeline.preprocess.step", "STEPS")]
EstimatorName = Annotated[str, registered("pipeline.preprocess.fmri_glm", "ESTIMATORS")]
MaskName = Annotated[str, registered("pipeline.preprocess.fmri_mask", "MASKS")]


class Step(Section):
    """One preprocessing step: a registered function name and its keyword arguments."""

    fn: StepName
    kwargs: dict[str, Any] = {}


class FmriPreprocessConfig(Section):
    """``preprocess.fmri``: masking, nuisance regression and single-trial estimates (func)."""

    estimator: EstimatorName = Field(
        "lss", description="single-trial estimates: lss (GLM betas) or lagged (volume means)"
    )
    high_pass: float | None = Field(
        0.01, gt=0, description="cosine drift regressors below this frequency (Hz); None: none"
    )
    confounds: list[str] = Field(
        [], description="columns (or fnmatch patterns) of the run's desc-confounds_timeseries.tsv"
    )
    standardize: bool = Field(True, description="z-score each voxel's estimates within a run")
    mask: MaskName = Field(
        "auto", description="brain mask: auto, derivatives, epi or mni152 (pipeline.preprocess)"
    )
    mask_file: str | None = Field(
        None, description="a mask NIfTI, relative to the BIDS root; overrides mask"
    )
    smoothing_fwhm: float | None = Field(None, gt=0, description="spatial smoothing (mm)")
    lag_window: tuple[float, float] = Field(
        (4.0, 8.0), description="lagged: volumes acquired this many seconds after onset"
    )
    split_events: bool = Field(
        False,
        description="lagged: one trial per volume of each event, shifted by lag_window[0] "
        "(blocked designs)",
    )
    trial_type_column: str = Field(
        "trial_type", description="events.tsv column holding the stimulus id"
    )

    @model_validator(mode="after")
    def _window(self) -> FmriPreprocessConfig:
        start, end = self.lag_window
        if not 0 <= start < end:
            raise ValueError(
                f"lag_window: got {list(self.lag_window)}; expected [start, end] with "
                "0 <= start < end (seconds after onset)"
            )
        return self


class PreprocessConfig(Section):
    """``preprocess``: the ordered steps, and the montage every recording must match."""

    section: ClassVar[str] = "preprocess"

    datatype: str | None = Field(
        None, description="BIDS datatype to preprocess (eeg, meg, ieeg, ...); None detects it"
    )
    montage: str = "standard_1020"
    positions: Literal["required", "none"] = Field(
        "required", description="required: every channel's own position, else the montage's "
        "(an error if neither has one); none: no positions (info.json ch_pos null), for "
        "recordings whose channels have none; drop check_montage, and use an encoder that "
        "does not place channels by position (not conv or patch_transformer)"
    )
    split_seed: int = 0
    steps: list[Step] = Field([], description="M/EEG/iEEG steps, in order (fMRI uses fmri)")
    fmri: FmriPreprocessConfig = FmriPreprocessConfig()
    holdout_subjects: list[str] = Field(
        [], description="subjects (01 or sub-01) no fitter sees: their train/val trials get "
        "split 'unused', their test trials stay (leave-one-subject-out)"
    )

    @field_validator("holdout_subjects")
    @classmethod
    def _subject_labels(cls, value: list[str]) -> list[str]:
        labels = [label.removeprefix("sub-") for label in value]
        if len(set(labels)) < len(labels) or not all(labels):
            raise ValueError(f"got {value}; expected distinct, non-empty subject labels")
        return labels


"""Pydantic models of ``params.yaml``: one model per stage section.

Each stage validates only its own section when it starts, so a typo is reported by the
stage that reads it, with the key path, the bad value and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ParamsError


class Section(BaseModel):
    """Base of every params model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoiseConfig(Section):
    """Relative amplitudes of the simulated nuisance, in noise units (RMS at the sensors).

    One unit is 10 microvolts in EEG, 100 fT (magnetometers) and 20 fT/cm (gradiometers)
    in MEG, 20 microvolts in sEEG (``noise_units`` of each array in pipeline.simulate).
    """

    pink: float = Field(1.0, ge=0, description="1/f background noise")
    white: float = Field(0.2, ge=0, description="sensor (white) noise")
    alpha: float = Field(0.5, ge=0, description="posterior 8-12 Hz alpha rhythm")
    line: float = Field(0.5, ge=0, description="line noise at line_freq and harmonics")
    line_freq: float = Field(50.0, gt=0)
    blinks_per_minute: float = Field(8.0, ge=0)
    blink_amplitude: float = Field(5.0, ge=0)
    drift: float = Field(2.0, ge=0, description="slow drift below 0.1 Hz")
    bad_channels: int = Field(2, ge=0, le=16, description="noisy or flat channels per subject")

    @model_validator(mode="after")
    def _some_noise(self) -> NoiseConfig:
        if not any((self.pink, self.white, self.alpha, self.line, self.drift)):
            raise ValueError(
                "got pink=white=alpha=line=drift=0; expected at least one positive amplitude "
                "(snr is relative to the noise)"
            )
        return self


class SplitSizes(Section):
    """Number of distinct stimuli in each split (splits are by stimulus)."""

    train: int = Field(480, ge=2)
    val: int = Field(40, ge=2)
    test: int = Field(40, ge=2)


class OracleConfig(Section):
    """Window and rate of the representation the Bayes-optimal oracle classifies."""

    tmin: float = Field(0.0, ge=-1.0, description="window start, seconds from onset")
    tmax: float = Field(0.5, le=10.0, description="window end (excluded), seconds from onset")
    sfreq: float = Field(50.0, gt=0)
    n_noise_epochs: int = Field(3000, ge=100)

    @model_validator(mode="after")
    def _window(self) -> OracleConfig:
        if round((self.tmax - self.tmin) * self.sfreq) < 1:
            raise ValueError(
                f"got tmin={self.tmin}, tmax={self.tmax} at sfreq={self.sfreq}; expected a "
                "window of at least one sample"
            )
        return self


class SpeechFeatureWeights(Section):
    """RMS weight of each part of the simulated responses to speech (relative to each other)."""

    envelope: float = Field(1.0, ge=0, description="temporal response to the acoustic envelope")
    spectrogram: float = Field(1.0, ge=0, description="temporal responses to frequency bands")
    words: float = Field(1.0, ge=0, description="evoked responses to each word's latent")

    @model_validator(mode="after")
    def _some_weight(self) -> SpeechFeatureWeights:
        if not any((self.envelope, self.spectrogram, self.words)):
            raise ValueError(
                "got envelope=spectrogram=words=0; expected at least one positive weight"
            )
        return self


class SpeechConfig(Section):
    """``study.options.simulated.speech``: heard sentences (``stimulus: speech``)."""

    voice: str = Field("en-us", description="espeak-ng voice")
    words_per_minute: int = Field(150, ge=80, le=450)
    segment_duration: float = Field(
        3.0, gt=0.5, le=10.0, description="seconds of each stimulus, cut from the sentences"
    )
    pause: float = Field(0.3, ge=0, le=2.0, description="silence (s) between two sentences")
    audio_sfreq: int = Field(
        16000, ge=16000, le=48000, description="rate of the written WAVs (the band envelopes "
        "reach 7 kHz)"
    )
    n_bands: int = Field(8, ge=1, le=64, description="frequency bands driving the responses")
    word_latent_dim: int = Field(16, ge=1, description="dimension of each word's latent")
    weights: SpeechFeatureWeights = SpeechFeatureWeights()


class SeegConfig(Section):
    """``study.options.simulated.seeg``: depth shafts of the simulated sEEG (``modality: seeg``)."""

    n_shafts: int = Field(8, ge=1, le=52, description="depth shafts, alternating left and right")
    contacts_per_shaft: int = Field(10, ge=2, le=18, description="contacts per shaft")
    spacing_mm: float = Field(3.5, ge=1.0, le=10.0, description="centre-to-centre contact spacing")

    @model_validator(mode="after")
    def _fits_in_the_brain(self) -> SeegConfig:
        length = (self.contacts_per_shaft - 1) * self.spacing_mm
        if length > 60.0:
            raise ValueError(
                f"got contacts_per_shaft={self.contacts_per_shaft} x spacing_mm="
                f"{self.spacing_mm}: shafts {length:g} mm long; expected at most 60 mm"
            )
        return self


class FmriNoiseConfig(Section):
    """RMS of each simulated fMRI nuisance per voxel, in percent signal change."""

    thermal: float = Field(1.0, ge=0, description="AR(1) thermal noise, independent per voxel")
    ar1: float = Field(0.3, ge=0, lt=1, description="lag-one autocorrelation of thermal noise")
    network: float = Field(0.5, ge=0, description="spatially smooth, slowly varying fluctuations")
    physio: float = Field(0.7, ge=0, description="cardiac and respiratory noise (RETROICOR-like)")
    drift: float = Field(1.5, ge=0, description="low-frequency scanner drift (random walk)")

    @model_validator(mode="after")
    def _some_noise(self) -> FmriNoiseConfig:
        if not any((self.thermal, self.network, self.physio, self.drift)):
            raise ValueError(
                "got thermal=network=physio=drift=0; expected at least one positive amplitude "
                "(snr is relative to the noise)"
            )
        return self


class FmriConfig(Section):
    """``study.options.simulated.fmri``: the simulated fMRI study (``modality: fmri``)."""

    voxel_size: float = Field(
        6.0, ge=2.0, le=20.0, description="isotropic voxel size (mm) of the MNI152 brain grid"
    )
    tr: float = Field(2.0, ge=1.0, le=2.0, description="repetition time (s)")
    isi: tuple[float, float] = Field(
        (3.0, 6.0), description="onset-to-onset interval (s), drawn uniformly"
    )
    event_duration: float = Field(1.0, gt=0, le=10.0, description="stimulus duration (s)")
    run_duration: float = Field(
        540.0, ge=60.0, description="longest run (s); trials are dealt into as few runs as fit"
    )
    hrf_onset_jitter: float = Field(
        0.5, ge=0, description="standard deviation (s) of each subject's HRF onset shift"
    )
    blobs_per_source: int = Field(2, ge=1, description="Gaussian blobs in each response map")
    blob_fwhm: float = Field(12.0, gt=0, description="blob full width at half maximum (mm)")
    map_jitter: float = Field(
        3.0, ge=0, description="standard deviation (mm) of each subject's blob displacement"
    )
    noise: FmriNoiseConfig = FmriNoiseConfig()
    oracle_voxels: int = Field(
        200, ge=2, description="voxels (most responsive to training stimuli) the oracle uses"
    )
    oracle_noise_runs: int = Field(
        6, ge=1, description="extra runs per subject whose single-trial errors give noise_cov"
    )

    @model_validator(mode="after")
    def _design(self) -> FmriConfig:
        low, high = self.isi
        if not 0 < low <= high:
            raise ValueError(
                f"isi: got {list(self.isi)}; expected [low, high] with 0 < low <= high"
            )
        if self.event_duration > low:
            raise ValueError(
                f"event_duration: got {self.event_duration}; expected at most isi low ({low})"
            )
        return self


class SimulateConfig(Section):
    """``study.options.simulated``: the built-in simulator (it writes a BIDS root)."""

    modality: str = Field("eeg", description="the recording simulated (pipeline.simulate)")
    stimulus: str = Field(
        "images", description="what the subjects perceive (pipeline.simulate.stimulus_sets)"
    )
    seed: int = Field(0, ge=0)
    n_subjects: int = Field(3, ge=1)
    stimuli: SplitSizes = SplitSizes()
    test_repetitions: int = Field(4, ge=1)
    image_size: int = Field(64, ge=32)
    sfreq: float = Field(250.0, gt=0)
    n_sources: int = Field(24, ge=1)
    snr: float = Field(
        0.2,
        gt=0,
        description="evoked RMS over total noise RMS at the sensors (pipeline.simulate.recording)",
    )
    isi: tuple[float, float] = (0.9, 1.1)
    noise: NoiseConfig = NoiseConfig()
    oracle: OracleConfig = OracleConfig()
    seeg: SeegConfig = SeegConfig()
    fmri: FmriConfig = FmriConfig()
    speech: SpeechConfig = SpeechConfig()

    @field_validator("modality")
    @classmethod
    def _known_modality(cls, value: str) -> str:
        from pipeline.simulate import SIMULATORS

        SIMULATORS.get(value)
        return value

    @field_validator("stimulus")
    @classmethod
    def _known_stimulus(cls, value: str) -> str:
        from pipeline.simulate.stimulus_sets import STIMULUS_SETS

        STIMULUS_SETS.get(value)
        return value

    @model_validator(mode="after")
    def _consistent_rates(self) -> SimulateConfig:
        low, high = self.isi
        if not 0 < low <= high:
            raise ValueError(
                f"isi: got {list(self.isi)}; expected [low, high] with 0 < low <= high"
            )
        if self.stimulus == "speech" and low < self.speech.segment_duration:
            raise ValueError(
                f"isi: got {list(self.isi)}; expected at least speech.segment_duration "
                f"({self.speech.segment_duration} s) between onsets, so segments do not overlap"
            )
        if self.stimulus == "speech" and self.modality == "fmri":
            raise ValueError(
                "stimulus 'speech' is simulated for the sensor modalities (eeg, meg, seeg); "
                "got modality 'fmri'"
            )
        if self.oracle.sfreq > self.sfreq:
            raise ValueError(
                f"oracle.sfreq: got {self.oracle.sfreq}; expected at most sfreq ({self.sfreq})"
            )
        if self.noise.line_freq >= self.sfreq / 2:
            raise ValueError(
                f"noise.line_freq: got {self.noise.line_freq}; expected below Nyquist "
                f"({self.sfreq / 2})"
            )
        return self


def validate_options(model: type[Section], raw: dict[str, Any], owner: str) -> Section:
    """Validate the options of a registered component against its model.

    Parameters
    ----------
    model : type of Section
        The component's options model.
    raw : dict
        The options as read from params.yaml.
    owner : str
        The component, for the message (``study 'haxby2001'``).

    Raises
    ------
    ValueError
        One line naming the owner, every bad key path, the problem and the value.
    """
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        lines = [_format_error(owner, error) for error in exc.errors()]
        raise ValueError("; ".join(lines)) from None


class StudyConfig(Section):
    """``study``: where the raw BIDS root comes from, and the options of every study."""

    name: str = "simulated"
    options: dict[str, dict[str, Any]] = {}

    @field_validator("name")
    @classmethod
    def _known_study(cls, value: str) -> str:
        from pipeline.studies import STUDIES

        STUDIES.get(value)
        return value

    @field_validator("options")
    @classmethod
    def _known_option_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pipeline.studies import STUDIES

        for name, options in value.items():
            validate_options(STUDIES.get(name).options, options, name)
        return value

    def settings(self) -> Section:
        """Return the validated options of the selected study (defaults where unset)."""
        from pipeline.studies import STUDIES

        return validate_options(
            STUDIES.get(self.name).options, self.options.get(self.name, {}), self.name
        )


class Step(Section):
    """One preprocessing step: a registered function name and its keyword arguments."""

    fn: str
    kwargs: dict[str, Any] = {}

    @field_validator("fn")
    @classmethod
    def _known_step(cls, value: str) -> str:
        from pipeline.preprocess import STEPS

        STEPS.get(value)
        return value


class FmriPreprocessConfig(Section):
    """``preprocess.fmri``: masking, nuisance regression and single-trial estimates (func)."""

    estimator: str = Field(
        "lss", description="single-trial estimates: lss (GLM betas) or lagged (volume means)"
    )
    high_pass: float | None = Field(
        0.01, gt=0, description="cosine drift regressors below this frequency (Hz); None: none"
    )
    confounds: list[str] = Field(
        [], description="columns (or fnmatch patterns) of the run's desc-confounds_timeseries.tsv"
    )
    standardize: bool = Field(True, description="z-score each voxel's estimates within a run")
    mask: str = Field(
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

    @field_validator("estimator")
    @classmethod
    def _known_estimator(cls, value: str) -> str:
        from pipeline.preprocess.fmri_glm import ESTIMATORS

        ESTIMATORS.get(value)
        return value

    @field_validator("mask")
    @classmethod
    def _known_mask(cls, value: str) -> str:
        from pipeline.preprocess.fmri_mask import MASKS

        MASKS.get(value)
        return value

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

    datatype: str | None = Field(
        None, description="BIDS datatype to preprocess (eeg, meg, ieeg, ...); None detects it"
    )
    montage: str = "standard_1020"
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


class TargetsConfig(Section):
    """``targets``: the latent space the encoder learns to predict."""

    name: str = "efficientnet_lite0"
    batch_size: int = Field(32, ge=1)
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")
    options: dict[str, dict[str, Any]] = Field(
        {}, description="options of each target, by name: joint (image-text space trained on "
        "the training stimuli), open_clip and dinov2 (models from a local folder); the "
        "Field descriptions of each target's options model document its keys"
    )

    @field_validator("name")
    @classmethod
    def _known_target(cls, value: str) -> str:
        from pipeline.targets import TARGETS

        TARGETS.get(value)
        return value

    @field_validator("options")
    @classmethod
    def _known_option_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pipeline.targets.base import options_model

        for name, options in value.items():
            validate_options(options_model(name), options, f"targets.options.{name}")
        return value

    def settings(self, name: str | None = None) -> Section:
        """Return the validated options of target ``name`` (default: the selected one)."""
        from pipeline.targets.base import options_model

        name = name or self.name
        return validate_options(
            options_model(name), self.options.get(name, {}), f"targets.options.{name}"
        )


class LossConfig(Section):
    """``train.loss``: a weighted sum of registered loss terms (``pipeline.encoders.losses``)."""

    weights: dict[str, float] = Field(
        {"clip": 1.0}, description="loss name (clip | siglip | mse) -> weight; 0 leaves it out"
    )
    temperature: float = Field(0.1, gt=0, description="initial temperature of clip and siglip, "
                               "learnable")
    siglip_bias: float = Field(-10.0, description="initial logit bias of siglip, learnable")

    @field_validator("weights")
    @classmethod
    def _known_losses(cls, value: dict[str, float]) -> dict[str, float]:
        from pipeline.encoders.losses import LOSSES

        for name in value:
            LOSSES.get(name)
        if any(weight < 0 for weight in value.values()) or not any(value.values()):
            raise ValueError(f"got {value}; expected weights >= 0, at least one of them > 0")
        return value


class EncoderConfig(Section):
    """The encoder to train, and the options of every encoder (keyed by name)."""

    name: str = "conv"
    options: dict[str, dict[str, Any]] = {}

    @field_validator("name")
    @classmethod
    def _known_encoder(cls, value: str) -> str:
        from pipeline.encoders import ENCODERS

        ENCODERS.get(value)
        return value

    @field_validator("options")
    @classmethod
    def _known_option_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pipeline.encoders import ENCODERS

        for name, options in value.items():
            ENCODERS.get(name).parse_options(options)
        return value

    def kwargs(self, name: str | None = None) -> dict[str, Any]:
        """Return the options of encoder ``name`` (default: the selected one)."""
        return dict(self.options.get(name or self.name, {}))


class TrainConfig(Section):
    """``train``: the brain -> latent encoder and how it is fitted (Lightning)."""

    seed: int = 0
    encoder: EncoderConfig = EncoderConfig()
    loss: LossConfig = LossConfig()
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(64, ge=2, description="global batch, split evenly across processes")
    max_epochs: int = Field(40, ge=1)
    patience: int = Field(8, ge=1, description="early stopping on validation loss")
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"] = "cpu"
    strategy: str = Field("auto", description="a Lightning strategy: auto | ddp | ddp_spawn | "
                          "fsdp | deepspeed | ... (lightning.pytorch.strategies.StrategyRegistry)")
    devices: int | Literal["auto"] = Field(
        1, description="processes (devices) per node; auto: every device of the accelerator")
    num_nodes: int = Field(1, ge=1)
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true"] = "32-true"
    sync_batchnorm: bool = Field(True, description="batch norm statistics over the global batch "
                                 "when more than one process trains")
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")
    rescale_predictions: bool = Field(
        True,
        description="give each predicted latent the norm of a real (standardised) latent "
        "before mapping it back to the target space; a contrastive loss fixes only its direction",
    )
    init: Literal["scratch", "pretrained"] = Field(
        "scratch", description="pretrained: start the patch_transformer from the pretrain "
        "stage's backbone (train --pretrained DIR)"
    )
    freeze_pretrained: bool = Field(
        False, description="with init pretrained, train only the head (the backbone is frozen)"
    )

    @field_validator("devices", mode="before")
    @classmethod
    def _positive_or_auto(cls, value: Any) -> Any:
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"got {value!r}; expected a positive integer or auto")
        return value

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        from lightning.pytorch.strategies import StrategyRegistry

        known = ["auto", *StrategyRegistry.available_strategies()]
        if value not in known:
            raise ValueError(f"unknown strategy {value!r}; expected one of {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _batch_splits_evenly(self) -> TrainConfig:
        if self.devices != "auto" and self.batch_size % (self.devices * self.num_nodes):
            raise ValueError(
                f"got batch_size={self.batch_size} for devices={self.devices} x num_nodes="
                f"{self.num_nodes} processes; expected a multiple of the number of processes"
            )
        return self


class CodebookConfig(Section):
    """``pretrain.codebook``: the vector-quantised tokenizer of masked-codebook pretraining."""

    size: int = Field(64, ge=1, description="codes in the codebook")
    dim: int = Field(16, ge=1, description="width of a code")
    hidden: int = Field(128, ge=1, description="hidden width of the tokenizer's MLPs")
    ema_decay: float = Field(0.99, gt=0, lt=1, description="EMA decay of the codebook updates")
    dead_code_threshold: float = Field(
        1.0, ge=0, description="a code whose EMA count of assigned patches per batch falls "
        "below this is restarted from a recent encoder output (0: never)"
    )
    commitment: float = Field(0.25, ge=0, description="weight of the commitment loss")
    collapse_perplexity: float = Field(
        4.0, gt=0, description="a final codebook perplexity below this is reported as collapsed"
    )

    @model_validator(mode="after")
    def _reachable(self) -> CodebookConfig:
        if self.collapse_perplexity > self.size:
            raise ValueError(
                f"got collapse_perplexity={self.collapse_perplexity} with size={self.size}; "
                "expected at most size (the largest perplexity a codebook can reach)"
            )
        return self


class PretrainConfig(Section):
    """``pretrain``: self-supervised pretraining of the patch_transformer backbone.

    The backbone's options are ``train.encoder.options.patch_transformer``; labels are
    never read, and only the trials of ``splits`` are.
    """

    method: str = Field("none", description="none | codebook | mae (pipeline.pretrain)")
    seed: int = 0
    splits: list[str] = Field(["train", "val"], min_length=1,
                              description="trials.tsv splits whose epochs are used")
    tokenizer_epochs: int = Field(10, ge=1, description="codebook: epochs of the tokenizer")
    epochs: int = Field(10, ge=1, description="epochs of masked prediction (codebook, mae)")
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(64, ge=2)
    mask_ratio: float = Field(0.5, gt=0, lt=1, description="fraction of time patches masked")
    codebook: CodebookConfig = CodebookConfig()
    accelerator: Literal["cpu", "gpu", "auto"] = "cpu"
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        from pipeline.pretrain import PRETRAINERS

        PRETRAINERS.get(value)
        return value

    @field_validator("splits")
    @classmethod
    def _never_test(cls, value: list[str]) -> list[str]:
        wrong = [split for split in value if split not in ("train", "val")]
        if wrong:
            raise ValueError(f"got {wrong}; expected train and/or val (pretraining never reads "
                             "test trials)")
        return value


class BaselineConfig(Section):
    """``baseline``: the linear encoder every score is reported beside."""

    encoder: str = "ridge"
    options: dict[str, Any] = {}

    @field_validator("encoder")
    @classmethod
    def _known_encoder(cls, value: str) -> str:
        from pipeline.encoders import ENCODERS

        ENCODERS.get(value)
        return value

    @model_validator(mode="after")
    def _known_options(self) -> BaselineConfig:
        from pipeline.encoders import ENCODERS

        ENCODERS.get(self.encoder).parse_options(self.options)
        return self


class EvaluateConfig(Section):
    """``evaluate``: zero-shot retrieval metrics with chance, CI, baseline and oracle."""

    metrics: list[str] = ["top1", "top5", "two_way"]
    average_repetitions: bool = True
    n_bootstrap: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0
    sheet_rows: int = Field(12, ge=1, description="test stimuli in the reconstruction sheet")
    word_level: bool = Field(
        False, description="also score words: each test stimulus' caption words among all of "
        "the test captions' words (pipeline.evaluation.words)"
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        from pipeline.evaluation import METRICS

        for name in value:
            METRICS.get(name)
        return value


class GeneratorChoice(Section):
    """One kind of generator: the one to fit, and the fitting options of every one (by name)."""

    name: str
    options: dict[str, dict[str, Any]] = {}

    def kwargs(self) -> dict[str, Any]:
        """Return the options of the selected generator."""
        return dict(self.options.get(self.name, {}))


class GeneratorsConfig(Section):
    """``generators``: the image, text and shape generators fitted on the training stimuli."""

    seed: int = 0
    kinds: list[Literal["image", "text", "shape"]] = Field(
        ["image", "text", "shape"], description="the kinds of output this study generates"
    )
    image: GeneratorChoice = GeneratorChoice(name="diffusion")
    text: GeneratorChoice = GeneratorChoice(name="prefix_lm")
    shape: GeneratorChoice = GeneratorChoice(name="parametric")
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")

    @model_validator(mode="after")
    def _known_generators(self) -> GeneratorsConfig:
        from pipeline.generators import GENERATORS, KINDS
        from pipeline.generators.registered import load_all

        load_all()
        for kind in KINDS:
            choice: GeneratorChoice = getattr(self, kind)
            GENERATORS[kind].get(choice.name)
            for name, options in choice.options.items():
                GENERATORS[kind].get(name).parse_options(options)
        return self

    def choice(self, kind: str) -> GeneratorChoice:
        """The generator chosen for ``kind``."""
        return getattr(self, kind)


class LatentPriorConfig(Section):
    """The training-latent prior (:mod:`pipeline.generators.latent_prior`) of ``generate``."""

    temperature: float = Field(0.05, gt=0, description="softmax temperature over cosines")
    kinds: list[Literal["image", "text", "shape"]] = Field(
        ["image"], description="the kinds generated from projected latents")


class GenerateConfig(Section):
    """``generate``: predicted latents -> images, captions and 3D objects.

    Each test stimulus is generated once per source, from the mean of the unit-normalised
    predicted latents of all its test trials (every subject, every repetition).
    """

    seed: int = 0
    sampling: dict[str, dict[str, Any]] = Field(
        {}, description="sampling options of each generator, by name (no refit when changed)"
    )
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")
    latent_prior: LatentPriorConfig | None = Field(
        None, description="project the decoder's and the baseline's latents onto the training "
        "latents before generating (the true latents of the ceiling are not projected)")

    @field_validator("sampling")
    @classmethod
    def _known_sampling(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pipeline.generators.registered import find_generator

        for name, options in value.items():
            find_generator(name).parse_sampling(options)
        return value


class ExportConfig(Section):
    """``export``: what a decoder bundle carries beside the decoder and its gallery."""

    baseline: bool = Field(
        True, description="carry the ridge baseline, scored beside the decoder offline")
    examples: bool = Field(
        True, description="carry the study's test trials (browsed by the web viewer)")


class CrossvalConfig(Section):
    """``crossval``: cross-validated classification of a class-level study, beside baselines.

    Folds are by run or subject (leave one out) or stratified; in each fold every encoder is fitted
    on the training trials into the class latents and classifies the held-out trials by the
    nearest class latent (cosine), beside the baseline classifiers fitted on the same trials.
    """

    folds: Literal["run", "subject", "stratified"] = Field(
        "run", description="run: leave one run out; subject: leave one subject out; "
        "stratified: stratified k-fold"
    )
    n_folds: int = Field(5, ge=2, description="number of stratified folds")
    inner_folds: int = Field(
        5, ge=2, description="folds inside the training folds that select hyperparameters; "
        "encoders are fitted on all but one of them and selected on that one"
    )
    blocks: str | None = Field(
        "block", description="trials.tsv column grouping trials into blocks (per run); "
        "per-block accuracy is reported when the column exists"
    )
    zscore_by_run: bool = Field(
        True, description="z-score every feature within its run before the encoders"
    )
    encoders: dict[str, dict[str, Any] | None] = Field(
        {"ridge": {}}, description="brainrecon encoders (name -> options; null: off) fitted "
        "in each fold"
    )
    train: dict[str, Any] = Field(
        {}, description="train section keys (lr, max_epochs, ...) for gradient-descent encoders"
    )
    baselines: dict[str, dict[str, Any] | None] = Field(
        {"logistic": {}}, description="baseline classifiers (name -> options; null: off), "
        "fitted in the same folds"
    )
    n_bootstrap: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0

    @field_validator("encoders")
    @classmethod
    def _known_encoders(cls, value: dict[str, dict[str, Any] | None]
                        ) -> dict[str, dict[str, Any] | None]:
        from pipeline.encoders import ENCODERS

        for name, options in value.items():
            encoder = ENCODERS.get(name)
            if options is not None:
                encoder.parse_options(options)
        return value

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, value: dict[str, dict[str, Any] | None]
                         ) -> dict[str, dict[str, Any] | None]:
        from pipeline.evaluation.classifiers import CLASSIFIERS

        for name, options in value.items():
            classifier = CLASSIFIERS.get(name)
            if options is not None:
                validate_options(classifier.Options, options, name)
        return value

    @field_validator("train")
    @classmethod
    def _train_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "encoder" in value:
            raise ValueError("got key 'encoder'; expected train keys other than encoder "
                             "(the encoders are crossval.encoders)")
        validate_options(TrainConfig, value, "train")
        return value

    @model_validator(mode="after")
    def _some_model(self) -> CrossvalConfig:
        if not self.active("encoders") and not self.active("baselines"):
            raise ValueError("got no encoders and no baselines; expected at least one model")
        return self

    def active(self, kind: Literal["encoders", "baselines"]) -> dict[str, dict[str, Any]]:
        """The models of ``kind`` that are on (options not null), name -> options."""
        return {name: options for name, options in getattr(self, kind).items()
                if options is not None}

    def train_config(self) -> TrainConfig:
        """The settings gradient-descent encoders are fitted with (seed = ``seed``)."""
        return TrainConfig.model_validate({"seed": self.seed, **self.train})


SECTIONS: dict[str, type[Section]] = {
    "study": StudyConfig,
    "preprocess": PreprocessConfig,
    "targets": TargetsConfig,
    "baseline": BaselineConfig,
    "train": TrainConfig,
    "pretrain": PretrainConfig,
    "evaluate": EvaluateConfig,
    "generators": GeneratorsConfig,
    "generate": GenerateConfig,
    "export": ExportConfig,
    "crossval": CrossvalConfig,
}


def _format_error(section: str, error: dict[str, Any]) -> str:
    """Turn one pydantic error into 'section.key.path: message (got value)'."""
    path = ".".join(str(part) for part in (section, *error["loc"]))
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown key"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] == "missing" or "got " in message or repr(value) in message:
        return f"{path}: {message}"
    return f"{path}: {message} (got {value!r})"


def parse_section(section: str, raw: Any, source: str = "params.yaml") -> Section:
    """Validate one params section.

    Parameters
    ----------
    section : str
        The section name, one of ``SECTIONS``.
    raw : Any
        The section's content as read from YAML.
    source : str
        Where the section came from, for error messages.

    Returns
    -------
    Section
        The validated, frozen section model.

    Raises
    ------
    ParamsError
        One line per problem, each naming the file, the key path and what was expected.
    """
    if section not in SECTIONS:
        raise ParamsError(
            f"{source}: unknown section {section!r}; expected one of {', '.join(SECTIONS)}"
        )
    model = SECTIONS[section]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: {section}: expected a mapping of keys, got {raw!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [_format_error(section, error) for error in exc.errors()]
        if len(lines) == 1:
            raise ParamsError(f"{source}: {lines[0]}") from None
        raise ParamsError(f"{source}: " + "; ".join(lines)) from None


STUDY_GROUPS: dict[str, tuple[str, ...]] = {
    "studies": ("study", "preprocess", "targets", "baseline", "pretrain", "train", "evaluate",
                "generators", "generate", "export"),
    "classification_studies": ("study", "preprocess", "targets", "crossval"),
}  # params key of each group of studies -> the sections every study of it overrides


def merge(base: Any, update: Any) -> Any:
    """Return ``base`` updated by ``update``: mappings merge key by key, anything else replaces."""
    if not (isinstance(base, dict) and isinstance(update, dict)):
        return update
    return {**base, **{key: merge(base.get(key), value) for key, value in update.items()}}


def _read_params(path: Path) -> dict[str, Any]:
    """Read params.yaml into a mapping, with one-line errors."""
    if not path.is_file():
        raise ParamsError(f"{path}: file not found; expected the project's params.yaml")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(params).__name__}")
    return params


def study_overrides(params: dict[str, Any], study: str, section: str, source: str
                    ) -> dict[str, Any]:
    """Return the overrides of ``section`` for study ``study`` (a key of a study group).

    Every study of a group lists every section of the group (``{}`` for none), because DVC
    tracks each as a parameter of that study's stages.

    Raises
    ------
    ParamsError
        If the study is in no group, or its entry is not a mapping of the group's sections.
    """
    groups = {name: params.get(name) or {} for name in STUDY_GROUPS}
    owners = [name for name, entries in groups.items() if study in entries]
    if not owners:
        known = [key for entries in groups.values() for key in entries]
        raise ParamsError(
            f"{source}: unknown study {study!r}; expected one of {', '.join(known) or 'none'} "
            f"(the keys of {' and '.join(STUDY_GROUPS)})"
        )
    if len(owners) > 1:
        raise ParamsError(f"{source}: study {study!r} is in both {' and '.join(owners)}; "
                          "expected each study key in one group (they share data/raw/<key>)")
    group = owners[0]
    entry = groups[group][study]
    expected = STUDY_GROUPS[group]
    if not isinstance(entry, dict) or set(entry) != set(expected):
        found = ", ".join(entry) if isinstance(entry, dict) else repr(entry)
        raise ParamsError(
            f"{source}: {group}.{study}: got keys {found or 'none'}; expected exactly "
            f"{', '.join(expected)} (use {{}} for a section the study does not change)"
        )
    if section not in expected:
        raise ParamsError(f"{source}: {group}.{study} has no {section!r} section; expected one "
                          f"of {', '.join(expected)}")
    overrides = entry[section] or {}
    if not isinstance(overrides, dict):
        raise ParamsError(f"{source}: {group}.{study}.{section}: expected a mapping, got "
                          f"{overrides!r}")
    return overrides


def load_section(section: str, path: str | Path = "params.yaml", study: str | None = None
                 ) -> Section:
    """Read ``path`` and validate its ``section`` (see :func:`parse_section`).

    Parameters
    ----------
    section : str
        The stage's section.
    path : str or Path
        The params file.
    study : str, optional
        A key of ``studies`` or ``classification_studies``: its overrides of ``section``
        are merged onto the section before validation.

    Raises
    ------
    ParamsError
        Naming the file, the key path and what was expected.
    """
    path = Path(path)
    params = _read_params(path)
    if section not in params:
        raise ParamsError(f"{path}: missing section {section!r}")
    if study is None:
        return parse_section(section, params[section], source=str(path))
    overrides = study_overrides(params, study, section, str(path))
    return parse_section(section, merge(params[section] or {}, overrides),
                         source=f"{path} (with the overrides of study {study!r})")

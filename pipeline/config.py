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
    """Relative amplitudes of the simulated nuisance (1 = 10 microvolts RMS at the sensors)."""

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
    tmax: float = Field(0.5, le=1.0, description="window end (excluded), seconds from onset")
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


class SimulateConfig(Section):
    """``study.options.simulated``: the built-in simulator (it writes a BIDS root)."""

    modality: str = Field("eeg", description="the recording simulated (pipeline.simulate)")
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

    @field_validator("modality")
    @classmethod
    def _known_modality(cls, value: str) -> str:
        from pipeline.simulate import SIMULATORS

        SIMULATORS.get(value)
        return value

    @model_validator(mode="after")
    def _consistent_rates(self) -> SimulateConfig:
        low, high = self.isi
        if not 0 < low <= high:
            raise ValueError(
                f"isi: got {list(self.isi)}; expected [low, high] with 0 < low <= high"
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


class PreprocessConfig(Section):
    """``preprocess``: the ordered steps, and the montage every recording must match."""

    datatype: str | None = Field(
        None, description="BIDS datatype to preprocess (eeg, meg, ieeg, ...); None detects it"
    )
    montage: str = "standard_1020"
    split_seed: int = 0
    steps: list[Step]


class TargetsConfig(Section):
    """``targets``: the latent space the encoder learns to predict."""

    name: str = "efficientnet_lite0"
    batch_size: int = Field(32, ge=1)

    @field_validator("name")
    @classmethod
    def _known_target(cls, value: str) -> str:
        from pipeline.targets import TARGETS

        TARGETS.get(value)
        return value


class LossConfig(Section):
    """Weights of the training losses (CLIP-style contrastive + optional MSE)."""

    clip: float = Field(1.0, ge=0)
    mse: float = Field(0.0, ge=0)
    temperature: float = Field(0.1, gt=0, description="initial temperature, learnable")

    @model_validator(mode="after")
    def _some_loss(self) -> LossConfig:
        if self.clip == 0 and self.mse == 0:
            raise ValueError("got clip=0 and mse=0; expected at least one positive loss weight")
        return self


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
    batch_size: int = Field(64, ge=2)
    max_epochs: int = Field(40, ge=1)
    patience: int = Field(8, ge=1, description="early stopping on validation loss")
    accelerator: Literal["cpu", "gpu", "auto"] = "cpu"
    devices: int = Field(1, ge=1)
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")
    rescale_predictions: bool = Field(
        True,
        description="give each predicted latent the norm of a real (standardised) latent "
        "before mapping it back to the target space; a contrastive loss fixes only its direction",
    )


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

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        from pipeline.evaluation import METRICS

        for name in value:
            METRICS.get(name)
        return value


SECTIONS: dict[str, type[Section]] = {
    "study": StudyConfig,
    "preprocess": PreprocessConfig,
    "targets": TargetsConfig,
    "baseline": BaselineConfig,
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
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


def load_section(section: str, path: str | Path = "params.yaml") -> Section:
    """Read ``path`` and validate its ``section`` (see :func:`parse_section`)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found; expected the project's params.yaml")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from None
    if section not in params:
        raise ParamsError(f"{path}: missing section {section!r}")
    return parse_section(section, params[section], source=str(path))

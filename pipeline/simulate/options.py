"""``study.options.simulated``: the simulator's physics, read by :mod:`pipeline.simulate`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from pipeline.config import Section, registered

Modality = Annotated[str, registered("pipeline.simulate.modalities", "SIMULATORS")]
StimulusSetName = Annotated[str, registered("pipeline.simulate.stimulus_sets", "STIMULUS_SETS")]


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


class TrialVariabilityConfig(Section):
    """``study.options.simulated.variability``: trial-to-trial variability of the evoked response.

    Single-trial evoked responses vary in latency (Ouyang, Sommer & Zhou 2015, "Residue
    iteration decomposition (RIDE)", J. Neurosci. Methods 250:7-21) and in amplitude
    (Arieli, Sterkin, Grinvald & Aertsen 1996, Science 273:1868-1871; Truccolo, Ding, Knuth,
    Nakamura & Bressler 2002, Clin. Neurophysiol. 113:206-226). 0 turns each effect off.
    """

    latency_ms: float = Field(
        0.0, ge=0, le=100.0, description="standard deviation (ms) of each trial's latency shift "
        "of the evoked response (Gaussian, mean 0)"
    )
    latency_per_source: bool = Field(
        False, description="draw the latency shift per trial and source (else one per trial)"
    )
    amplitude_sd: float = Field(
        0.0, ge=0, le=2.0, description="standard deviation of the log of each trial's evoked "
        "gain (log-normal, mean 1)"
    )


class InducedConfig(Section):
    """``study.options.simulated.induced``: stimulus-dependent, non-phase-locked band power.

    Each evoked source also emits, after each onset, a burst of oscillation in ``band``
    (one frequency per source) with a random phase per trial, so it averages out of the
    evoked response but its power carries the stimulus: its amplitude is a fixed random
    non-linear readout of the stimulus's evoked source pattern. Induced (non-phase-locked)
    activity: Pfurtscheller & Lopes da Silva 1999, Clin. Neurophysiol. 110:1842-1857
    (event-related (de)synchronisation); Tallon-Baudry & Bertrand 1999, Trends Cogn. Sci.
    3:151-162 (induced gamma).
    """

    amplitude: float = Field(
        0.0, ge=0, le=10.0, description="RMS of the induced activity over the RMS of the evoked "
        "activity at the sources (0: off); it adds to the evoked snr"
    )
    band: tuple[float, float] = Field(
        (13.0, 30.0), description="band (Hz) of the bursts (default beta, which the shipped "
        "0.5-40 Hz preprocessing keeps; gamma above 40 Hz it removes)"
    )
    latency: float = Field(0.25, gt=0, lt=0.6, description="burst centre (s after onset)")
    width: float = Field(0.08, gt=0, le=0.2, description="burst envelope s.d. (s)")

    @model_validator(mode="after")
    def _band(self) -> InducedConfig:
        low, high = self.band
        if not 0 < low <= high:
            raise ValueError(
                f"induced.band: got {list(self.band)}; expected [low, high] with 0 < low <= high"
            )
        return self


class RunDriftConfig(Section):
    """``study.options.simulated.run_drift``: non-stationarity between the runs of a session.

    The trials of each subject are cut, in presentation order, into ``n_runs`` runs of
    consecutive trials; in each run every sensor sees the evoked response through its own
    gain, as when electrode impedances change (Kappenman & Luck 2010, Psychophysiology
    47:888-904) or the head moves between runs under the MEG helmet (Gross et al. 2013,
    NeuroImage 65:349-363; Uutela, Taulu & Hamalainen 2001, NeuroImage 14:1424-1431).
    """

    n_runs: int = Field(4, ge=1, le=100, description="runs of consecutive trials per subject")
    gain_sd: float = Field(
        0.0, ge=0, le=2.0, description="standard deviation of the log of each sensor's evoked "
        "gain in each run (log-normal, mean 1; 0: off)"
    )


class SubjectSourcesConfig(Section):
    """``study.options.simulated.subject_sources``: subject-specific evoked source configurations.

    Each subject's evoked dipoles are displaced and rotated from the shared template
    (inter-subject variability of functional anatomy: Haxby et al. 2011, Neuron 72:404-416;
    of the location of visual areas: Amunts, Malikovic, Mohlberg, Schormann & Zilles 2000,
    NeuroImage 11:66-84), on top of each subject's head position.
    """

    position_mm: float = Field(
        0.0, ge=0, le=30.0, description="standard deviation (mm, per axis) of each evoked "
        "dipole's displacement"
    )
    orientation_deg: float = Field(
        0.0, ge=0, le=90.0, description="standard deviation (degrees, per axis) of each evoked "
        "dipole's rotation"
    )


class SimulateConfig(Section):
    """``study.options.simulated``: the built-in simulator (it writes a BIDS root)."""

    modality: Modality = Field("eeg", description="the recording simulated (pipeline.simulate)")
    stimulus: StimulusSetName = Field(
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
    variability: TrialVariabilityConfig = TrialVariabilityConfig()
    induced: InducedConfig = InducedConfig()
    run_drift: RunDriftConfig = RunDriftConfig()
    subject_sources: SubjectSourcesConfig = SubjectSourcesConfig()

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
        if self.induced.band[1] >= self.sfreq / 2:
            raise ValueError(
                f"induced.band: got {list(self.induced.band)}; expected below Nyquist "
                f"({self.sfreq / 2})"
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

    @model_validator(mode="after")
    def _effects_of_sensors(self) -> SimulateConfig:
        effects = {
            "variability.latency_ms": self.variability.latency_ms,
            "variability.amplitude_sd": self.variability.amplitude_sd,
            "induced.amplitude": self.induced.amplitude,
            "run_drift.gain_sd": self.run_drift.gain_sd,
            "subject_sources.position_mm": self.subject_sources.position_mm,
            "subject_sources.orientation_deg": self.subject_sources.orientation_deg,
        }
        on = [f"{key}={value}" for key, value in effects.items() if value]
        if self.modality == "fmri" and on:
            raise ValueError(
                f"got {', '.join(on)} with modality 'fmri'; expected 0 (these effects are "
                "simulated for the sensor modalities: eeg, meg, seeg)"
            )
        return self

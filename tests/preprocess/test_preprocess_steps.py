"""Every registered preprocessing step does what it says, and never touches its input."""

import mne
import numpy as np
import pytest
from preprocess_fixtures import SFREQ, channel_names, standard_montage
from sensor_fixtures import build_seeg

from pipeline.errors import DataError, ParamsError
from pipeline.preprocess.step import STEPS, Kind
from pipeline.preprocess.steps_epochs import robust_scale_array

EPOCH = {"tmin": -0.2, "tmax": 0.5}


def sines(freqs, duration=20.0, n_chans=4):
    """Unit sines at ``freqs`` (Hz), summed, on the first ``n_chans`` channels."""
    times = np.arange(int(duration * SFREQ)) / SFREQ
    signal = sum(np.sin(2 * np.pi * freq * times) for freq in freqs)
    info = mne.create_info(channel_names(n_chans), SFREQ, "eeg")
    return mne.io.RawArray(np.tile(signal, (n_chans, 1)) * 1e-5, info, verbose=False)


def amplitude(raw, freq):
    """Amplitude of the ``freq`` Hz component of the first channel, edges left out."""
    data = raw.get_data()[0]
    data = data[len(data) // 4 : 3 * len(data) // 4]  # (n_times,)
    spectrum = np.abs(np.fft.rfft(data)) * 2 / len(data)
    freqs = np.fft.rfftfreq(len(data), 1 / raw.info["sfreq"])
    return spectrum[np.argmin(np.abs(freqs - freq))]


def test_filter_removes_what_is_above_the_band():
    raw = sines([5.0, 70.0])
    out = STEPS.get("filter")(raw, None, h_freq=40.0)
    assert amplitude(out, 70.0) < 0.01 * amplitude(raw, 70.0)
    assert amplitude(out, 5.0) > 0.95 * amplitude(raw, 5.0)


def test_notch_removes_line_noise():
    raw = sines([10.0, 50.0])
    out = STEPS.get("notch")(raw, None, freqs=[50.0])
    assert amplitude(out, 50.0) < 0.02 * amplitude(raw, 50.0)
    assert amplitude(out, 10.0) > 0.95 * amplitude(raw, 10.0)


def test_resample_changes_the_rate(make_raw, context):
    raw = make_raw(duration=10.0)
    out = STEPS.get("resample")(raw, context(raw), sfreq=100.0)
    assert out.info["sfreq"] == 100.0
    assert out.n_times == 1000
    assert len(out.annotations) == len(raw.annotations)


def test_pick_keeps_the_types_asked_for(make_raw, context):
    raw = make_raw(duration=5.0)
    raw.add_channels([mne.io.RawArray(np.zeros((1, raw.n_times)),
                                      mne.create_info(["STI"], SFREQ, "stim"), verbose=False)])
    raw.info["bads"] = ["Cz"]
    out = STEPS.get("pick")(raw, context(raw), types=["eeg"])
    assert out.ch_names == channel_names()
    assert out.info["bads"] == ["Cz"]


def test_set_reference_average_centres_every_sample(make_raw, context):
    raw = make_raw(duration=5.0)
    out = STEPS.get("set_reference")(raw, context(raw))
    assert np.abs(out.get_data().mean(axis=0)).max() < 1e-12
    assert np.abs(raw.get_data().mean(axis=0)).max() > 1e-7


def test_mark_bad_channels_finds_noisy_and_flat(make_raw, context):
    raw = make_raw(duration=20.0, noisy="C3", flat="P3")
    raw.info["bads"] = ["Fp1"]
    out = STEPS.get("mark_bad_channels")(raw, context(raw), z_threshold=4.0)
    assert out.info["bads"] == ["Fp1", "C3", "P3"]


def test_mark_bad_channels_ignores_drift_blinks_and_clean_channels(make_raw, context):
    raw = make_raw(duration=20.0)
    drift = 1e-4 * np.sin(2 * np.pi * 0.05 * raw.times)  # 100 uV, 20 s period
    raw.apply_function(lambda signal: signal + drift, picks=["Cz"])
    blinks = sum(2e-4 * np.exp(-0.5 * ((raw.times - onset) / 0.1) ** 2) for onset in (3, 9, 15))
    raw.apply_function(lambda signal: signal + blinks, picks=["Fp1", "Fpz", "Fp2"])
    out = STEPS.get("mark_bad_channels")(raw, context(raw), z_threshold=4.0)
    assert out.info["bads"] == []


def test_interpolate_bads_restores_a_smooth_field(context):
    names = channel_names()
    info = mne.create_info(names, SFREQ, "eeg")
    raw = mne.io.RawArray(np.zeros((64, 2500)), info, verbose=False)
    raw.set_montage(standard_montage())
    positions = np.array([channel["loc"][:3] for channel in raw.info["chs"]])  # (64, 3)
    topography = positions[:, 0] + 0.5 * positions[:, 1]  # a smooth left-right, back-front field
    signal = np.sin(2 * np.pi * 7.0 * raw.times)
    clean = 1e-3 * topography[:, None] * signal[None, :]  # (64, n_times)
    noisy = clean.copy()
    noisy[names.index("C3")] = 1e-4 * np.random.default_rng(0).standard_normal(raw.n_times)
    raw = mne.io.RawArray(noisy, raw.info, verbose=False)
    raw.info["bads"] = ["C3"]
    out = STEPS.get("interpolate_bads")(raw, context(raw))
    assert out.info["bads"] == []
    restored = out.get_data(picks=["C3"])[0]
    assert np.corrcoef(restored, clean[names.index("C3")])[0, 1] > 0.99
    assert np.std(restored) == pytest.approx(np.std(clean[names.index("C3")]), rel=0.3)


def test_check_montage_accepts_names_in_any_case_and_sets_missing_positions(make_raw, context):
    raw = make_raw(duration=5.0)
    bare = mne.io.RawArray(raw.get_data(), mne.create_info(
        [name.upper() for name in raw.ch_names], SFREQ, "eeg"), verbose=False)
    out = STEPS.get("check_montage")(bare, context(raw))
    assert out.ch_names == bare.ch_names
    assert np.allclose(out.info["chs"][0]["loc"][:3], raw.info["chs"][0]["loc"][:3])
    assert np.isnan(bare.info["chs"][0]["loc"][:3]).all()


def test_check_montage_names_the_file_and_the_strangers(make_raw, context):
    raw = make_raw(duration=5.0)
    raw.rename_channels({"Cz": "X1"})
    with pytest.raises(DataError, match=r"^sub-01_task-images_eeg\.vhdr: channels X1 not in "
                                        r"montage standard_1020; expected names such as"):
        STEPS.get("check_montage")(raw, context(raw))


def test_epoch_cuts_one_epoch_per_trial_without_baseline(make_raw, context):
    raw = make_raw(duration=10.0)
    raw.apply_function(lambda signal: signal + 1e-3)  # a DC offset a baseline would remove
    out = STEPS.get("epoch")(raw, context(raw), **EPOCH)
    assert isinstance(out, mne.BaseEpochs)
    assert len(out) == 8  # onsets 1..8 s; the 'rest' annotation is not a trial
    assert out.metadata["stimulus_id"].tolist() == [f"stim{index:04d}" for index in range(8)]
    assert out.times[0] == pytest.approx(-0.2) and out.times[-1] == pytest.approx(0.5)
    assert out.get_data().mean() == pytest.approx(1e-3, rel=0.01)


def test_epoch_leaves_out_windows_past_the_recording(make_raw, context):
    raw = make_raw(duration=10.0)
    out = STEPS.get("epoch")(raw, context(raw), tmin=-0.2, tmax=2.5)
    assert out.metadata["onset"].tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])


def test_baseline_zeroes_the_baseline_mean(make_raw, context):
    raw = make_raw(duration=10.0)
    raw.apply_function(lambda signal: signal + 1e-3)
    epochs = STEPS.get("epoch")(raw, context(raw), **EPOCH)
    out = STEPS.get("baseline")(epochs, context(raw), tmin=-0.2, tmax=0.0)
    window = out.times <= 0.0  # -0.2 .. 0.0 s, both ends included
    assert np.abs(out.get_data()[:, :, window].mean(axis=2)).max() < 1e-12
    assert np.abs(epochs.get_data()[:, :, window].mean(axis=2)).min() > 5e-4


def test_robust_scale_centres_scales_and_clamps(make_raw, context):
    raw = make_raw(duration=10.0)
    epochs = STEPS.get("epoch")(raw, context(raw), **EPOCH)
    wide = STEPS.get("robust_scale")(epochs, context(raw), clamp=1e6).get_data()
    pooled = wide.transpose(1, 0, 2).reshape(64, -1)  # (n_chans, n_epochs * n_times)
    assert np.median(pooled, axis=1) == pytest.approx(np.zeros(64), abs=1e-9)
    low, high = np.percentile(pooled, [25, 75], axis=1)
    assert high - low == pytest.approx(np.ones(64))
    clamped = STEPS.get("robust_scale")(epochs, context(raw), clamp=1.0).get_data()
    assert clamped.min() == -1.0 and clamped.max() == 1.0


def test_robust_scale_only_centres_a_flat_channel():
    data = np.zeros((3, 2, 5))
    data[:, 0] = np.arange(15).reshape(3, 5)
    data[:, 1] = 7.0
    scaled = robust_scale_array(data, clamp=20.0)
    assert np.all(scaled[:, 1] == 0.0)
    assert np.isfinite(scaled).all()


def test_a_step_called_on_the_wrong_kind_says_where_it_belongs(make_raw, context):
    raw = make_raw(duration=5.0)
    with pytest.raises(ParamsError, match="^baseline needs epochs; put it after 'epoch'$"):
        STEPS.get("baseline")(raw, context(raw))
    epochs = STEPS.get("epoch")(raw, context(raw), **EPOCH)
    with pytest.raises(ParamsError, match="^notch needs a continuous recording; put it before"):
        STEPS.get("notch")(epochs, context(raw), freqs=[50.0])


EXAMPLES = {
    "pick": {"types": ["eeg"]},
    "check_montage": {},
    "mark_bad_channels": {"z_threshold": 3.0},
    "interpolate_bads": {},
    "notch": {"freqs": [50.0]},
    "filter": {"l_freq": 1.0, "h_freq": 30.0},
    "set_reference": {"ref_channels": "average"},
    "resample": {"sfreq": 100.0},
    "epoch": EPOCH,
    "baseline": {"tmin": -0.2, "tmax": 0.0},
    "robust_scale": {"clamp": 5.0},
    "bipolar": {"types": ["seeg"]},
    "set_channel_types": {"types": {"Fp*": "eog"}},
    "rename_channels": {"names": {"Fz": "FZ"}},
}
RECORDINGS = {"bipolar": (build_seeg, "LB4")}  # steps that need other channels than 64 EEG


def test_every_registered_step_has_an_example():
    assert sorted(EXAMPLES) == STEPS.names()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_steps_return_new_data_and_leave_their_input_alone(name, make_raw, context):
    build, bad = RECORDINGS.get(name, (lambda: make_raw(duration=10.0, noisy="C3"), "Fz"))
    raw = build()
    raw.info["bads"] = [bad]
    step = STEPS.get(name)
    data = raw if step.needs & Kind.RAW else STEPS.get("epoch")(raw, context(raw), **EPOCH)
    before = data.get_data().copy()
    state = (list(data.info["bads"]), list(data.ch_names), data.info["sfreq"], data.times[0])
    out = step(data, context(raw), **EXAMPLES[name])
    assert out is not data
    assert np.array_equal(data.get_data(), before)
    assert (list(data.info["bads"]), list(data.ch_names), data.info["sfreq"],
            data.times[0]) == state


def test_channel_types_by_name_pattern_and_type_then_pick_drops_them(make_raw, context):
    raw = make_raw(duration=5.0)
    rules = {"Fp*": "eog", "Cz": "emg", "eeg": "misc"}
    out = STEPS.get("set_channel_types")(raw, context(raw), types=rules)
    types = dict(zip(out.ch_names, out.get_channel_types(), strict=True))
    assert (types["Fp1"], types["Fp2"], types["Cz"], types["Pz"]) == ("eog", "eog", "emg", "misc")
    narrow = STEPS.get("set_channel_types")(raw, context(raw), types={"Fp*": "eog", "Cz": "emg"})
    picked = STEPS.get("pick")(narrow, context(raw), types=["eeg"])
    assert picked.ch_names == [name for name in raw.ch_names
                               if not name.startswith("Fp") and name != "Cz"]


def test_rename_channels_fills_wildcards_and_refuses_clashes(make_raw, context):
    raw = make_raw(duration=5.0)
    prefixed = STEPS.get("rename_channels")(raw, context(raw), names={"*": "EEG *-REF"})
    assert prefixed.ch_names[:2] == [f"EEG {name}-REF" for name in raw.ch_names[:2]]
    back = STEPS.get("rename_channels")(prefixed, context(raw), names={"EEG *-REF": "*"})
    assert back.ch_names == raw.ch_names
    with pytest.raises(DataError, match=r"channels Fp1, Fpz, Fp2 would all be named 'Fp'"):
        STEPS.get("rename_channels")(raw, context(raw), names={"Fp?": "Fp"})
    with pytest.raises(DataError, match=r"rename_channels key\(s\) X9 match no channel"):
        STEPS.get("rename_channels")(raw, context(raw), names={"X9": "Y9"})
    kept = STEPS.get("rename_channels")(raw, context(raw), names={"X9": "Y9"}, on_missing="ignore")
    assert kept.ch_names == raw.ch_names


def test_channel_rules_are_checked_when_steps_are_planned():
    from pipeline.preprocess.options import Step
    from pipeline.preprocess.step import plan_steps

    epoch = Step(fn="epoch", kwargs=EPOCH)
    with pytest.raises(ParamsError, match=r"got channel type\(s\) eyes"):
        plan_steps([Step(fn="set_channel_types", kwargs={"types": {"EXG*": "eyes"}}), epoch])
    with pytest.raises(ParamsError, match=r"the new name has 2 '\*' but the key 1"):
        plan_steps([Step(fn="rename_channels", kwargs={"names": {"E*": "**"}}), epoch])

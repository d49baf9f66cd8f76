"""Step lists are checked before any data is read: order, kwargs, and the epoch step."""

import pytest

from pipeline.errors import ParamsError
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.step import plan_steps

EPOCH = {"fn": "epoch", "kwargs": {"tmin": -0.1, "tmax": 0.6}}


def plan(*steps):
    return plan_steps(PreprocessConfig(steps=list(steps)).steps)


def test_shipped_steps_plan_with_defaults_filled_in(shipped_cfg):
    planned = plan_steps(shipped_cfg.steps)
    assert [bound.step.name for bound in planned] == [step.fn for step in shipped_cfg.steps]
    marks = planned[2]
    assert marks.where == "preprocess.steps[2] mark_bad_channels"
    assert marks.kwargs == {"z_threshold": 4.0, "flat_ratio": 0.01, "window": 1.0}


def test_epoch_step_is_required():
    with pytest.raises(ParamsError, match=r"^preprocess\.steps: no 'epoch' step"):
        plan({"fn": "filter", "kwargs": {"l_freq": 1.0}})


def test_epochs_step_before_epoch_names_its_position(shipped_cfg):
    steps = [step.model_dump() for step in shipped_cfg.steps]
    steps.insert(8, steps.pop(9))  # baseline before epoch
    with pytest.raises(ParamsError) as info:
        plan(*steps)
    assert str(info.value) == "preprocess.steps[8] baseline needs epochs; put it after 'epoch'"


def test_raw_step_after_epoch_names_its_position():
    with pytest.raises(ParamsError) as info:
        plan(EPOCH, {"fn": "notch", "kwargs": {"freqs": [50.0]}})
    assert str(info.value) == (
        "preprocess.steps[1] notch needs a continuous recording; put it before 'epoch'"
    )


def test_epoch_twice_is_an_order_error():
    with pytest.raises(ParamsError, match=r"preprocess\.steps\[1\] epoch needs a continuous"):
        plan(EPOCH, EPOCH)


def test_unknown_kwarg_lists_the_allowed_ones():
    with pytest.raises(ParamsError) as info:
        plan({"fn": "filter", "kwargs": {"low": 1.0}}, EPOCH)
    assert str(info.value) == (
        "preprocess.steps[0] filter: unknown kwarg 'low'; allowed kwargs: l_freq, h_freq"
    )


def test_kwargs_of_a_step_without_any():
    with pytest.raises(ParamsError, match=r"steps\[0\] check_montage: unknown kwarg 'name'; "
                                          r"allowed kwargs: none$"):
        plan({"fn": "check_montage", "kwargs": {"name": "standard_1020"}}, EPOCH)


@pytest.mark.parametrize(("step", "message"), [
    ({"fn": "resample", "kwargs": {"sfreq": -100}},
     r"steps\[0\] resample: kwarg 'sfreq': Input should be greater than 0 \(got -100\)"),
    ({"fn": "resample"}, r"steps\[0\] resample: missing kwarg 'sfreq'; allowed kwargs: sfreq"),
    ({"fn": "notch", "kwargs": {"freqs": []}}, r"steps\[0\] notch: kwarg 'freqs': List should"),
    ({"fn": "set_reference", "kwargs": {"ref_channels": "median"}},
     r"steps\[0\] set_reference: kwarg 'ref_channels"),
])
def test_bad_kwarg_values_name_the_step_and_the_value(step, message):
    with pytest.raises(ParamsError, match=message):
        plan(step, EPOCH)

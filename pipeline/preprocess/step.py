"""What a preprocessing step is: a registered function, the data kind it needs, its kwargs."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mne
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from pipeline.errors import BrainreconError, ParamsError
from pipeline.registry import Registry

Data = mne.io.BaseRaw | mne.BaseEpochs
STEPS = Registry("preprocessing step", modules=(
    "pipeline.preprocess.steps_channels",
    "pipeline.preprocess.steps_epochs",
    "pipeline.preprocess.steps_raw",
))  # params.yaml `fn` names -> steps


class Kind(enum.Flag):
    """The kind of data a step takes or returns: a continuous recording or epochs."""

    RAW = enum.auto()
    EPOCHS = enum.auto()

    @classmethod
    def of(cls, data: object) -> Kind:
        """Return the kind of ``data`` (an ``mne.io.BaseRaw`` or ``mne.BaseEpochs``)."""
        if isinstance(data, mne.BaseEpochs):
            return cls.EPOCHS
        if isinstance(data, mne.io.BaseRaw):
            return cls.RAW
        raise TypeError(f"got {type(data).__name__}; expected mne.io.Raw or mne.Epochs")


@dataclass(frozen=True)
class StepContext:
    """What a step may need besides the data.

    Attributes
    ----------
    source : str
        The recording's file name, used in error messages.
    montage : str
        Name of the MNE built-in montage every recording must match.
    events : pandas.DataFrame
        The recording's trials, in time order: ``onset`` (seconds from the first sample)
        and ``stimulus_id``.
    owns_data : bool
        Whether the step may modify its data in place and return it. :func:`run_steps`
        sets it for data that an earlier step made, so the recording it was given is
        never modified and no step copies a recording the driver alone holds.
    """

    source: str
    montage: str
    events: pd.DataFrame
    owns_data: bool = False


def writable(data: Data, context: StepContext | None) -> Data:
    """Return the data a step may modify: ``data`` itself if the context owns it, else a copy."""
    return data if context is not None and context.owns_data else data.copy()


def _options_model(name: str, fn: Callable[..., Any]) -> type[BaseModel]:
    """Build a pydantic model of ``fn``'s keyword-only arguments (the step's kwargs)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    fields = {
        parameter.name: (
            hints[parameter.name],
            ... if parameter.default is inspect.Parameter.empty else parameter.default,
        )
        for parameter in inspect.signature(fn).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    return create_model(f"{name}_kwargs", __config__=ConfigDict(extra="forbid"), **fields)


def _kwarg_problems(errors: list[dict[str, Any]], kwargs: dict[str, Any]) -> str:
    """Turn pydantic errors about a step's kwargs into one phrase per bad kwarg."""
    problems: dict[str, str] = {}
    invalid: dict[str, list[str]] = {}
    for error in errors:
        key = str(error["loc"][0])
        if error["type"] == "extra_forbidden":
            problems[key] = f"unknown kwarg {key!r}"
        elif error["type"] == "missing":
            problems[key] = f"missing kwarg {key!r}"
        elif error["msg"] not in invalid.setdefault(key, []):
            invalid[key].append(error["msg"])
    for key, messages in invalid.items():
        problems[key] = f"kwarg {key!r}: {' or '.join(messages)} (got {kwargs[key]!r})"
    return "; ".join(problems.values())


@dataclass(frozen=True)
class PreprocessStep:
    """A registered preprocessing step.

    Calling it validates the data kind and the kwargs, then runs the function, which
    returns new data and leaves its input untouched.

    Attributes
    ----------
    name : str
        The name used as ``fn`` in ``params.yaml``.
    fn : callable
        ``fn(data, context, **kwargs) -> data``.
    needs : Kind
        The data kinds the step accepts.
    gives : Kind or None
        The kind it returns; None when it returns the kind it got.
    options : type of pydantic.BaseModel
        The model of the step's keyword arguments.
    """

    name: str
    fn: Callable[..., Data]
    needs: Kind
    gives: Kind | None
    options: type[BaseModel]

    def allowed_kwargs(self) -> list[str]:
        """Return the names of the kwargs the step accepts."""
        return list(self.options.model_fields)

    def bind(self, kwargs: dict[str, Any], where: str) -> dict[str, Any]:
        """Validate ``kwargs`` and return them with their defaults filled in.

        Raises
        ------
        ParamsError
            Naming ``where`` (the step and its position), the bad kwargs and the allowed ones.
        """
        try:
            return dict(self.options.model_validate(kwargs))
        except ValidationError as exc:
            problems = _kwarg_problems(exc.errors(), kwargs)
            allowed = ", ".join(self.allowed_kwargs()) or "none"
            raise ParamsError(f"{where}: {problems}; allowed kwargs: {allowed}") from None

    def check_input(self, kind: Kind, where: str) -> None:
        """Raise ParamsError naming ``where`` unless the step accepts data of ``kind``."""
        if kind & self.needs:
            return
        if self.needs is Kind.EPOCHS:
            raise ParamsError(f"{where} needs epochs; put it after {_epoching_steps()}")
        raise ParamsError(
            f"{where} needs a continuous recording; put it before {_epoching_steps()}"
        )

    def output_kind(self, kind: Kind) -> Kind:
        """Return the kind of data the step returns when given ``kind``."""
        return self.gives or kind

    def __call__(self, data: Data, context: StepContext, **kwargs: Any) -> Data:
        self.check_input(Kind.of(data), self.name)
        return self.fn(data, context, **self.bind(kwargs, self.name))


def _epoching_steps() -> str:
    """Quote the names of the registered steps that turn a recording into epochs."""
    names = [name for name in STEPS if STEPS.get(name).gives is Kind.EPOCHS]
    return " or ".join(repr(name) for name in names)


def register_step(
    name: str, needs: Kind, gives: Kind | None = None
) -> Callable[[Callable[..., Data]], Callable[..., Data]]:
    """Register a function as the preprocessing step ``name``.

    Parameters
    ----------
    name : str
        The name used as ``fn`` in ``params.yaml``.
    needs : Kind
        The data kinds the step accepts (``Kind.RAW``, ``Kind.EPOCHS`` or both).
    gives : Kind or None
        The kind it returns, when it differs from its input's.

    Returns
    -------
    callable
        A decorator; the function's keyword-only arguments, with their type hints and
        defaults, are the kwargs the step accepts.
    """
    def decorator(fn: Callable[..., Data]) -> Callable[..., Data]:
        STEPS.register(name)(PreprocessStep(name, fn, needs, gives, _options_model(name, fn)))
        return fn

    return decorator


@dataclass(frozen=True)
class BoundStep:
    """A step of the plan with its position and validated kwargs."""

    position: int
    step: PreprocessStep
    kwargs: dict[str, Any]

    @property
    def where(self) -> str:
        """The step as named in messages: ``preprocess.steps[3] filter``."""
        return f"preprocess.steps[{self.position}] {self.step.name}"


def plan_steps(steps: Sequence[Any], start: Kind = Kind.RAW) -> list[BoundStep]:
    """Check a list of steps before any data is read.

    Parameters
    ----------
    steps : sequence
        Items with ``fn`` (a registered step name) and ``kwargs`` (``pipeline.config.Step``).
    start : Kind
        What the first step gets: a continuous recording, or recordings already epoched
        (which then need no epoching step and take no step on continuous data).

    Returns
    -------
    list of BoundStep
        The steps with validated kwargs, in order.

    Raises
    ------
    ParamsError
        If no step makes epochs, a step gets the wrong kind of data for its position,
        or a step's kwargs are unknown or invalid.
    """
    if start is Kind.RAW and not any(STEPS.get(step.fn).gives is Kind.EPOCHS for step in steps):
        raise ParamsError(
            f"preprocess.steps: no {_epoching_steps()} step; the output is epochs, so add "
            "one such as {fn: epoch, kwargs: {tmin: -0.1, tmax: 0.6}}"
        )
    plan = []
    kind = start
    for position, item in enumerate(steps):
        step = STEPS.get(item.fn)
        where = f"preprocess.steps[{position}] {step.name}"
        if start is Kind.EPOCHS and not step.needs & Kind.EPOCHS:
            raise ParamsError(f"{where} needs a continuous recording and the study's "
                              "recordings are already epoched; expected it left out")
        step.check_input(kind, where)
        plan.append(BoundStep(position, step, step.bind(dict(item.kwargs), where)))
        kind = step.output_kind(kind)
    return plan


def _one_line(exc: Exception) -> str:
    """Return the message of ``exc`` on one line."""
    return " ".join(str(exc).split())


def run_steps(plan: Sequence[BoundStep], raw: Data, context: StepContext
              ) -> tuple[mne.BaseEpochs, list[str]]:
    """Run the planned steps on one recording.

    Parameters
    ----------
    plan : sequence of BoundStep
        The output of :func:`plan_steps`.
    raw : mne.io.BaseRaw or mne.BaseEpochs
        The recording (or its epochs, for a plan that starts from epochs), preloaded; it is
        not modified unless ``context.owns_data`` (the caller hands it over, saving one
        copy of the recording).
    context : StepContext
        What the steps need besides the data. Steps after the first always get
        ``owns_data=True``: they work in place on the data the previous step made.

    Returns
    -------
    epochs : mne.BaseEpochs
        The preprocessed epochs.
    bad_channels : list of str
        Every channel marked bad on the way (in the recording or by a step), even if a
        later step interpolated it and reset the mark.

    Raises
    ------
    ParamsError
        If a step rejects its kwargs for this recording (the message names the step, its
        position and the recording).
    """
    data: Data = raw
    bad_channels = list(raw.info["bads"])
    owned = dataclasses.replace(context, owns_data=True)
    for bound in plan:
        try:
            data = bound.step.fn(data, context if data is raw else owned, **bound.kwargs)
        except ParamsError as exc:
            raise ParamsError(f"{bound.where}: {exc}") from None
        except ValueError as exc:
            if isinstance(exc, BrainreconError):
                raise
            raise ParamsError(
                f"{bound.where} failed on {context.source}: {_one_line(exc)}"
            ) from None
        bad_channels += [name for name in data.info["bads"] if name not in bad_channels]
    return data, bad_channels

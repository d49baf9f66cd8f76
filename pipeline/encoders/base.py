"""What every encoder shares: the signal arguments, typed options, registration."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError
from torch import nn

from pipeline.encoders import ENCODERS
from pipeline.errors import ParamsError, suggest

if TYPE_CHECKING:
    from pipeline.encoders.datamodule import EncoderData

E = TypeVar("E", bound=type["Encoder"])


class Options(BaseModel):
    """Base of an encoder's options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Encoder(nn.Module):
    """Base of every encoder: ``forward(x (B, C, T), subject (B,)) -> (B, n_outputs)``.

    Subclasses set ``Options`` (a pydantic model of their options, with defaults) and
    ``fit_method`` (the name of a registered fitter, see ``pipeline.encoders.FITTERS``).
    """

    name: ClassVar[str] = ""
    fit_method: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = Options
    uses_positions: ClassVar[bool] = False  # whether it places channels by their positions

    @classmethod
    def positions(cls, chs_pos: np.ndarray | list | None, n_chans: int) -> np.ndarray:
        """Return the channel positions (n_chans, 3) an encoder that uses them is given.

        Raises
        ------
        ParamsError
            If the data have no positions (``preprocess.positions: none``), naming the
            encoders that need none.
        """
        if chs_pos is None:
            others = [name for name in ENCODERS if not ENCODERS.get(name).uses_positions]
            raise ParamsError(
                f"encoder {cls.name!r} places channels by their positions and the preprocessed "
                f"data have none (preprocess.positions: none); expected an encoder that needs "
                f"none ({', '.join(others)}) or channels with positions"
            )
        return np.asarray(chs_pos, dtype=np.float64).reshape(int(n_chans), 3)

    @classmethod
    def parse_options(cls, options: dict[str, Any]) -> Options:
        """Validate ``options`` against the encoder's ``Options`` model.

        Raises
        ------
        ParamsError
            Naming the encoder, the bad option (and value) and the allowed options.
        """
        allowed = ", ".join(cls.Options.model_fields)
        unknown = [key for key in options if key not in cls.Options.model_fields]
        if unknown:
            raise ParamsError(
                f"encoder {cls.name!r}: unknown option {unknown[0]!r}; expected one of {allowed}"
                f"{suggest(unknown[0], cls.Options.model_fields)}"
            )
        try:
            return cls.Options.model_validate(options)
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(part) for part in error["loc"])
            raise ParamsError(
                f"encoder {cls.name!r}: option {key!r}: {error['msg']} "
                f"(got {error.get('input')!r})"
            ) from None

    def prepare_fit(self, data: EncoderData) -> dict[str, Any]:
        """Initialise from the data before gradient descent (a closed-form start).

        Called by the gradient-descent fitter with the training and validation data (the
        test split is never read); the default does nothing. Returns details for
        ``train.json``.
        """
        return {}

    def finish_fit(self, data: EncoderData) -> dict[str, Any]:
        """Fit what comes after gradient descent, once the selected epoch's weights are set.

        Called by the gradient-descent fitter with the training and validation data (the
        test split is never read); the default does nothing. Returns details for
        ``train.json``.
        """
        return {}

    def adapt_unseen(self, x: np.ndarray) -> dict[str, Any]:
        """Adapt to one subject not fitted on, from its unlabelled trials ``x`` (N, C, T).

        Called before that subject's trials are predicted (as subject index ``n_subjects``);
        labels are never passed. The default does nothing. Returns what was adapted.
        """
        return {}


def register_encoder(name: str) -> Callable[[E], E]:
    """Register an encoder class in ``ENCODERS`` as ``name`` and record the name on it."""

    def decorator(cls: E) -> E:
        cls.name = name
        return ENCODERS.register(name)(cls)

    return decorator


def signal_args(
    n_chans: int,
    n_times: int,
    sfreq: float,
    n_outputs: int,
    n_subjects: int,
    chs_pos: np.ndarray | list | None,
) -> dict[str, Any]:
    """Return the signal arguments every encoder takes, as JSON-serialisable values.

    ``chs_pos`` is None for data without channel positions (``preprocess.positions: none``).
    """
    positions = None if chs_pos is None else (
        np.asarray(chs_pos, dtype=np.float64).reshape(int(n_chans), 3).tolist())
    return {
        "n_chans": int(n_chans),
        "n_times": int(n_times),
        "sfreq": float(sfreq),
        "n_outputs": int(n_outputs),
        "n_subjects": int(n_subjects),
        "chs_pos": positions,
    }


def build_encoder(name: str, signal: dict[str, Any], options: dict[str, Any]) -> Encoder:
    """Build the encoder registered as ``name`` from signal arguments and options.

    Raises
    ------
    ValueError
        If no encoder has that name (the message lists them).
    ParamsError
        If an option is unknown or has a bad value.
    """
    return ENCODERS.get(name)(**signal, **options)

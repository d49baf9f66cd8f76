"""What a target may return beside its latents, and how a target declares its options.

A target is a function ``fn(cfg, stimuli_dir, stimuli) -> latents`` registered in
``TARGETS``. Most return the latents alone, an array (n_stimuli, dim). A target that lives in
a joint image-text space (``joint``, ``open_clip``) or fits weights of its own (``joint``)
returns a :class:`TargetOutput`, which ``compute_targets`` writes as extra files.

A target with options sets ``options`` on its function (a pydantic ``Section``), read from
``targets.options.<name>`` in params.yaml (see :func:`register_target`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pipeline.config import Section
from pipeline.errors import ParamsError
from pipeline.registry import Registry

TARGETS = Registry("target", modules=(
    "pipeline.targets.dinov2",
    "pipeline.targets.efficientnet",
    "pipeline.targets.joint",
    "pipeline.targets.mel",
    "pipeline.targets.minilm",
    "pipeline.targets.open_clip_target",
    "pipeline.targets.resemblyzer_target",
    "pipeline.targets.simulator",
    "pipeline.targets.whisper_tiny",
))  # targets.name -> latent model

F = TypeVar("F", bound=Callable[..., Any])


class NoOptions(Section):
    """Options of a target that has none (any key is an error)."""


@dataclass(frozen=True)
class TargetOutput:
    """The latents of every stimulus, and what else a target wants written beside them.

    Attributes
    ----------
    latents : ndarray, shape (n_stimuli, dim)
        Written as ``latents.npy`` (what the encoder learns to predict).
    text_latents : ndarray, shape (n_stimuli, text_dim), optional
        The caption of each stimulus embedded in the same space (the text side of a joint
        image-text space), written as ``text_latents.npy``.
    weights : dict of str to ndarray
        Weights the target fitted (for example the projection heads of ``joint``), written
        as ``weights.safetensors`` when not empty.
    info : dict
        JSON-serialisable facts about the fit, written under ``info.json[<target name>]``.
    curves : list of dict
        The training curves of a fitted target (one row per epoch), written as
        ``history.csv`` when not empty.
    """

    latents: np.ndarray
    text_latents: np.ndarray | None = None
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    curves: list[dict[str, float]] = field(default_factory=list)


def register_target(name: str, options: type[Section] = NoOptions) -> Callable[[F], F]:
    """Register a target function under ``name`` with its options model.

    Parameters
    ----------
    name : str
        The name used in ``targets.name`` and ``targets.options``.
    options : type of Section
        The model of ``targets.options.<name>``.
    """

    def decorator(fn: F) -> F:
        fn.options = options  # type: ignore[attr-defined]
        return TARGETS.register(name)(fn)

    return decorator


def options_model(name: str) -> type[Section]:
    """Return the options model of target ``name`` (:class:`NoOptions` if it declares none)."""
    return getattr(TARGETS.get(name), "options", NoOptions)


def local_folder(value: str, key: str, expected: str) -> Path:
    """Return ``value`` as an existing folder, else raise a ParamsError naming ``key``.

    Parameters
    ----------
    value : str
        A path from params.yaml, absolute or relative to the working directory (the
        project root when DVC runs the stage).
    key : str
        The params key, for the message (``targets.options.dinov2.model``).
    expected : str
        What the folder should hold, for the message.

    Raises
    ------
    ParamsError
        If ``value`` is not a folder.
    """
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ParamsError(f"params.yaml {key}: folder {str(path)!r} not found; expected {expected}")
    return path



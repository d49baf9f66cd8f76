"""Reading ``params.yaml``: the loader every stage shares.

Each package owns the models of the sections its stages read (``<package>/options.py``;
:mod:`pipeline.sections` lists them). This module reads the file, merges a study's
overrides onto a section and validates it against the section's model, so a typo is
reported by the stage that reads it, with the key path, the bad value and what was expected.
"""

from __future__ import annotations

import functools
import importlib
import types
import typing
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from pipeline.errors import ParamsError, suggest


def _scalar_types(annotation: Any) -> set[type]:
    """The plain types a field's annotation admits (through Annotated, Optional, unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*map(_scalar_types, typing.get_args(annotation)))
    return {annotation} if isinstance(annotation, type) else set()


@functools.cache
def _numbers_only(annotation: Any) -> bool:
    """Whether a field takes numbers but not booleans (YAML's true would pass as 1)."""
    admitted = _scalar_types(annotation)
    return bool(admitted & {int, float}) and bool not in admitted


class Section(BaseModel):
    """Base of every params model: unknown keys are errors, not silently ignored.

    A model of a whole section of params.yaml names it in ``section`` (``"train"``). A
    boolean given where a number is expected is an error too (``max_epochs: true``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    section: ClassVar[str] = ""

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and _numbers_only(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"got {str(value).lower()}; expected a number, not a boolean")
        return value


def registered(module: str, registry: str) -> AfterValidator:
    """A validator of a field that names a registered component.

    Parameters
    ----------
    module : str
        The module holding the registry; it is imported when a value is checked, so the
        loader imports no package of the pipeline itself.
    registry : str
        The registry's name in ``module`` (a :class:`pipeline.registry.Registry`).

    Examples
    --------
    ``name: Annotated[str, registered("pipeline.encoders", "ENCODERS")] = "conv"`` rejects
    an unknown encoder with the registry's message (the known names, the closest one).
    """

    def check(value: str) -> str:
        getattr(importlib.import_module(module), registry).get(value)
        return value

    return AfterValidator(check)


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
        lines = [format_error(owner, error, model) for error in exc.errors()]
        raise ValueError("; ".join(lines)) from None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, directly or inside a list, tuple or Optional (else None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [arg for arg in map(_nested_model, typing.get_args(annotation)) if arg]
    return models[0] if models else None


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys the model at ``loc`` (a pydantic error location) accepts, if it is a model."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an index into a list of models
        field = current.model_fields.get(part) if current else None
        current = _nested_model(field.annotation) if field else None
        if current is None:
            return None
    return list(current.model_fields) if current else None


def format_error(owner: str, error: dict[str, Any], model: type[BaseModel] | None = None) -> str:
    """Turn one pydantic error into 'owner.key.path: message (got value)'.

    An unknown key lists the keys ``model`` accepts there and suggests the closest one.
    """
    path = ".".join(str(part) for part in (owner, *error["loc"]))
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, tuple(error["loc"])) if model else None
        if not allowed:
            return f"{path}: unknown key"
        return (f"{path}: unknown key; expected one of {', '.join(allowed)}"
                f"{suggest(error['loc'][-1], allowed)}")
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] == "missing" or "got " in message or repr(value) in message:
        return f"{path}: {message}"
    return f"{path}: {message} (got {value!r})"


def parse_section(model: type[Section], raw: Any, source: str = "params.yaml") -> Section:
    """Validate one params section against its model.

    Parameters
    ----------
    model : type of Section
        The section's model (its ``section`` names it in messages), e.g.
        :class:`pipeline.encoders.options.TrainConfig`.
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
    section = model.section
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: {section}: expected a mapping of keys, got {raw!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [format_error(section, error, model) for error in exc.errors()]
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


def read_params(path: Path) -> dict[str, Any]:
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


def load_section(model: type[Section], path: str | Path = "params.yaml",
                 study: str | None = None) -> Section:
    """Read ``path`` and validate the section of ``model`` (see :func:`parse_section`).

    Parameters
    ----------
    model : type of Section
        The stage's section model, e.g. :class:`pipeline.encoders.options.TrainConfig`.
    path : str or Path
        The params file.
    study : str, optional
        A key of ``studies`` or ``classification_studies``: its overrides of the section
        are merged onto the section before validation.

    Raises
    ------
    ParamsError
        Naming the file, the key path and what was expected.
    """
    path = Path(path)
    params = read_params(path)
    section = model.section
    if section not in params:
        raise ParamsError(f"{path}: missing section {section!r}")
    if not isinstance(params[section], dict):
        raise ParamsError(f"{path}: {section}: expected a mapping of keys ({{}} for the "
                          f"defaults), got {params[section]!r}")
    if study is None:
        return parse_section(model, params[section], source=str(path))
    overrides = study_overrides(params, study, section, str(path))
    return parse_section(model, merge(params[section], overrides),
                         source=f"{path} (with the overrides of study {study!r})")

"""What ``brainrecon list`` prints: every registered component, its options and defaults.

``LISTINGS`` maps a kind of component (``encoders``, ``steps``, ...) to a function that
returns one :class:`Entry` per registered component: its params.yaml name, the first line of
its docstring, and the model of its options.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from pipeline.registry import Registry


@dataclass(frozen=True)
class Entry:
    """One registered component as listed: name, one-line description, options models."""

    name: str
    description: str
    options: tuple[tuple[str, type[BaseModel]], ...] = ()  # (heading, model) pairs


LISTINGS: Registry[Callable[[], list[Entry]]] = Registry("component kind")


def summary(obj: Any) -> str:
    """The first line of ``obj``'s docstring, Sphinx roles unwrapped (empty without one)."""
    doc = inspect.getdoc(obj) or ""
    line = doc.splitlines()[0] if doc else ""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", line).replace("``", "")


@LISTINGS.register("studies")
def _studies() -> list[Entry]:
    from pipeline.studies import STUDIES

    return [Entry(name, summary(cls), (("study.options." + name, cls.options),))
            for name, cls in STUDIES.items()]


@LISTINGS.register("steps")
def _steps() -> list[Entry]:
    from pipeline.preprocess.step import STEPS

    return [Entry(name, summary(step.fn), (("kwargs", step.options),))
            for name, step in STEPS.items()]


@LISTINGS.register("targets")
def _targets() -> list[Entry]:
    from pipeline.targets.base import TARGETS, options_model

    return [Entry(name, summary(fn), (("targets.options." + name, options_model(name)),))
            for name, fn in TARGETS.items()]


@LISTINGS.register("encoders")
def _encoders() -> list[Entry]:
    from pipeline.encoders import ENCODERS

    return [Entry(name, summary(cls), (("train.encoder.options." + name, cls.Options),))
            for name, cls in ENCODERS.items()]


@LISTINGS.register("generators")
def _generators() -> list[Entry]:
    from pipeline.generators import GENERATORS, KINDS

    return [Entry(f"{kind}: {name}", summary(cls),
                  ((f"generators.{kind}.options.{name}", cls.Options),
                   (f"generate.sampling.{name}", cls.Sampling)))
            for kind in KINDS for name, cls in GENERATORS[kind].items()]


@LISTINGS.register("metrics")
def _metrics() -> list[Entry]:
    from pipeline.evaluation.metrics import METRICS

    return [Entry(name, metric.label) for name, metric in METRICS.items()]


def _type_name(annotation: Any) -> str:
    """A short, readable name of a field's type (``int``, ``list[str]``, ``float | None``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if arg is type(None) else _type_name(arg) for arg in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', origin)}[{', '.join(map(_type_name, args))}]"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    """A field's default as YAML-ish text (required fields say so)."""
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return repr(value)


def format_options(model: type[BaseModel], indent: str = "      ") -> list[str]:
    """One line per option of ``model``: ``name: type = default  description``."""
    lines = []
    for name, field in model.model_fields.items():
        line = f"{indent}{name}: {_type_name(field.annotation)} = {_default(field)}"
        if field.description:
            line += f"  ({field.description})"
        lines.append(line)
    return lines


def format_listing(kind: str) -> str:
    """The listing of one kind of component, as printed by ``brainrecon list KIND``.

    Raises
    ------
    ValueError
        If ``kind`` is not a listed kind; the message lists the kinds.
    """
    lines = [kind]
    for entry in LISTINGS.get(kind)():
        lines.append(f"  {entry.name}" + (f": {entry.description}" if entry.description else ""))
        for heading, model in entry.options:
            options = format_options(model)
            lines.append(f"    {heading}:" + ("" if options else " none"))
            lines.extend(options)
    return "\n".join(lines)

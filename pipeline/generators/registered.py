"""Import every generator module so that each registers itself (imported lazily by config)."""

from __future__ import annotations

import functools
import importlib

from pipeline.generators import GENERATORS, KINDS

MODULES = ("pipeline.generators.image", "pipeline.generators.text", "pipeline.generators.shape")


@functools.cache
def load_all() -> None:
    """Import the generator packages (each registers its generators on import)."""
    for module in MODULES:
        importlib.import_module(module)


def find_generator(name: str) -> type:
    """Return the generator class registered as ``name`` under any kind.

    Raises
    ------
    ValueError
        If no kind has a generator of that name; the message lists every name.
    """
    load_all()
    for kind in KINDS:
        if name in GENERATORS[kind].names():
            return GENERATORS[kind].get(name)
    known = sorted(n for kind in KINDS for n in GENERATORS[kind].names())
    raise ValueError(f"unknown generator {name!r}; expected one of {', '.join(known)}")

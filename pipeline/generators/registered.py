"""Find a generator by name among every kind (``generate.sampling`` names them so)."""

from __future__ import annotations

from pipeline.errors import suggest
from pipeline.generators import GENERATORS, KINDS


def find_generator(name: str) -> type:
    """Return the generator class registered as ``name`` under any kind.

    Raises
    ------
    ValueError
        If no kind has a generator of that name; the message lists every name.
    """
    for kind in KINDS:
        if name in GENERATORS[kind].names():
            return GENERATORS[kind].get(name)
    known = sorted(n for kind in KINDS for n in GENERATORS[kind].names())
    raise ValueError(f"unknown generator {name!r}; expected one of {', '.join(known)}"
                     f"{suggest(name, known)}")

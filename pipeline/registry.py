"""One registry class for every component kind (study, step, encoder, target, metric)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from pipeline.errors import suggest

T = TypeVar("T")


class Registry(Generic[T]):
    """Map the names used in ``params.yaml`` to components.

    Components register themselves with :meth:`register` when their module is imported; the
    registry imports ``modules`` the first time it is asked for a name, so importing a
    registry costs nothing and a stage imports only the component modules it looks up.

    Parameters
    ----------
    kind : str
        What the registry holds ("encoder", "metric", ...), used in error messages.
    modules : iterable of str
        Full names of the modules whose components register here.

    Examples
    --------
    >>> encoders = Registry("encoder")
    >>> @encoders.register("ridge")
    ... class Ridge: ...
    >>> encoders.get("ridge") is Ridge
    True
    >>> encoders.get("rigde")
    Traceback (most recent call last):
    ...
    ValueError: unknown encoder 'rigde'; expected one of ridge; did you mean 'ridge'?
    """

    def __init__(self, kind: str, modules: Iterable[str] = ()) -> None:
        self.kind = kind
        self.modules = tuple(modules)
        self._entries: dict[str, T] = {}
        self._loaded = not self.modules

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its target under ``name``."""

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def _load(self) -> None:
        """Import the modules that register here, once."""
        if not self._loaded:
            self._loaded = True
            for module in self.modules:
                importlib.import_module(module)

    def get(self, name: str) -> T:
        """Return the component registered as ``name``.

        Raises
        ------
        ValueError
            If no component has that name; the message lists the names that exist and
            suggests the closest one.
        """
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; expected one of {', '.join(self.names())}"
                f"{suggest(name, self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """Return ``(name, component)`` pairs, sorted by name."""
        return [(name, self._entries[name]) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

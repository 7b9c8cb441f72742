"""Kinds registered by name (region kinds, experiment kinds): a new kind is one new module, nothing else to edit."""
from __future__ import annotations

import importlib
import pkgutil

from .errors import SpecError


class Registry:
    """Classes registered by name; every module of ``package`` is imported on the first lookup."""

    def __init__(self, package: str, what: str, base: type | None = None):
        self.package, self.what, self.base = package, what, base
        self._kinds: dict[str, type] = {}
        self._loaded = False

    def register(self, name: str):
        """Class decorator: make the class available as ``kind: name``."""
        def wrap(cls):
            if self.base is not None and not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise TypeError(f"{self.what} {name!r}: {getattr(cls, '__name__', cls)!r} must subclass "
                                f"{self.base.__module__}.{self.base.__name__}")
            if getattr(cls, "__abstractmethods__", None):
                raise TypeError(f"{self.what} {name!r}: {cls.__name__} does not define "
                                f"{', '.join(sorted(cls.__abstractmethods__))}")
            if name in self._kinds and self._kinds[name] is not cls:
                raise ValueError(f"{self.what} {name!r} is registered twice")
            cls.kind_name = name
            self._kinds[name] = cls
            return cls
        return wrap

    def unregister(self, name: str) -> None:
        """Forget ``name`` (for tests that register a kind of their own for a while)."""
        self._kinds.pop(name, None)

    def known(self) -> list[str]:
        if not self._loaded:
            module = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(module.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{info.name}")
            self._loaded = True
        return sorted(self._kinds)

    def get(self, name) -> type:
        """The class for ``kind: name``; the error lists the known kinds."""
        known = self.known()
        if isinstance(name, (list, dict, set)):   # would not even hash: say what a kind is
            got = "a mapping" if isinstance(name, dict) else "a list"
            raise SpecError(f"{self.what} must be one name written as text, got {got}; known kinds: {', '.join(known)}")
        if name not in self._kinds:
            raise SpecError(f"unknown {self.what} {name!r}; known kinds: {', '.join(known)}")
        return self._kinds[name]

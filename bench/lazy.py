"""Modules imported on first use, so that a command that only validates names or lists the
registries answers without importing torch (about 2 s of CPU on its own).

    torch = lazy_module("torch")   # at module level; `torch.uint8` imports torch the first time

`typing` annotations are strings in this code base (`from __future__ import annotations`), so a
lazy module in annotations costs nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule(ModuleType):
    """Stands in for a module until an attribute is first read, then imports it."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_lazy_target"] = None

    def _load(self):
        target = self.__dict__["_lazy_target"]
        if target is None:
            target = importlib.import_module(self.__name__)
            self.__dict__["_lazy_target"] = target
        return target

    def __getattr__(self, attr: str):
        return getattr(self._load(), attr)

    def __dir__(self):
        return dir(self._load())


def lazy_module(name: str) -> ModuleType:
    return LazyModule(name)

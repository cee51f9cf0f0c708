"""Metrics: one module per metric family, registered in `metrics.base`. Metrics only call a
model's public interface (encode / decode / interpolate / sample), never its internals.

Importing the package imports every module in it, so a new metric module registers itself by
existing (as models do)."""

import importlib
import pkgutil

# Reconstruction first: it is the headline metric and the noise-frequency reference reuses it.
importlib.import_module(f"{__name__}.reconstruction")
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_info.name}")

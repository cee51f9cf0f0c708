"""Metrics: one module per metric family, registered in `metrics.base`. Metrics only call a
model's public interface (encode / decode / interpolate / sample), never its internals.

`metrics.base.all_metrics()` imports every module of this package, so a new metric module
registers itself by existing (as models do). Importing the package itself imports nothing.
"""

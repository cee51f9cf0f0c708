"""`bench perf`: the suite's speed figures, each measured next to its baseline in one process.

Modules: `measure` (alternating timings, peak memory), `training` (training throughput per model),
`figures` (augmentation, Inception features, Fréchet distance), `report` (rows, CSV, table),
`suite` (sizes, model selection, the run). Targets are read from the figures this prints,
never asserted by a timed test.
"""

from bench.perf.suite import PerfOptions, run_perf

__all__ = ["PerfOptions", "run_perf"]

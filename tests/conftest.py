"""Shared test setup: caches go to a temporary folder, never to the user's cache or the network
(BENCH_OFFLINE=1: datasets and weights are never downloaded).

TORCH_HOME points at an empty folder too, so that tests behave as on CI (no Inception weights:
the FID metric is skipped with its warning) even on a machine that has the weights."""

import os

import pytest
import torch

# two threads, or OMP_NUM_THREADS when set (a machine whose other core is busy training runs
# slower with two threads fighting for one core)
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or max(1, min(2, os.cpu_count() or 1))))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "bench-cache"
    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path_factory.getbasetemp() / "no-data-here"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch-home"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")  # never the network; tests of downloads unset it and fake the source
    yield

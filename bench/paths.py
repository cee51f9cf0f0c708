"""Where the suite reads data and keeps caches, overridable by environment variables.

- data root: `--data-dir`, else $BENCH_DATA_DIR, else a per-user cache folder;
- cache root (decoded datasets, rendered synthetic domains, reference statistics):
  $BENCH_CACHE_DIR, else a per-user cache folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "interpbench"


def default_data_dir() -> Path:
    env = os.environ.get("BENCH_DATA_DIR")
    return Path(env).expanduser() if env else _user_cache() / "data"


def cache_dir() -> Path:
    env = os.environ.get("BENCH_CACHE_DIR")
    path = Path(env).expanduser() if env else _user_cache() / "cache"
    return path

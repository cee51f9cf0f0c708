"""interpbench: a benchmark suite for interpolative autoencoders on cross-domain pairs.

The Python API (`bench/api.py`): `bench.run`, `bench.load_run`, `bench.evaluate`,
`bench.publish_leaderboards`. They are loaded on first use, so `import bench` stays light.
"""

from bench.version import __version__  # noqa: F401 (bench.__version__)

API = ("run", "load_run", "evaluate", "publish_leaderboards")


def __getattr__(name):
    if name in API:
        from bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *API])

"""The suite's version (one place; `bench.__version__` and run records read it)."""

__version__ = "0.1.0"

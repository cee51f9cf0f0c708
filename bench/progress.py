"""The suite's progress bars: one place for how they behave on a terminal and in a log file."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress_bar(iterable=None, *, enabled: bool, **kwargs) -> tqdm:
    """A tqdm bar that clears itself when done and, when stderr is a log file rather than a
    terminal, writes a line only every 30 s instead of flooding the log."""
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("mininterval", 0.5 if sys.stderr.isatty() else 30.0)
    return tqdm(iterable, disable=not enabled, **kwargs)

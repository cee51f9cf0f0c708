"""The one exception type the CLI turns into a clear message and exit code 2.

Library code raises `BenchError` for every problem caused by the user's input (names, options,
missing or corrupt data, unwritable folders). The CLI prints its message as one paragraph,
without a traceback, and exits with status 2. Anything else is a bug and keeps its traceback.
"""


class BenchError(Exception):
    """A user-facing error: the message says what was wrong and what is accepted."""

    exit_code = 2


class LockBusy(BenchError):
    """A file lock held by another process (a run directory being trained elsewhere)."""


def did_you_mean(name: str, valid) -> str:
    """A short suffix listing the valid names, for 'unknown X' messages."""
    valid = sorted(valid)
    return f"Valid names: {', '.join(valid)}."

"""Peak resident memory of the process, resettable so that a run or a figure reports its own peak.

Linux: writing 5 to /proc/self/clear_refs resets the RSS high-water mark (VmHWM in
/proc/self/status) to the current RSS. Elsewhere the reset is unavailable and the figure is the
process's peak so far (`resource.getrusage`). Used by `bench run` (each run's `peak_rss_mib`)
and `bench perf` (per figure).
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak_rss() -> bool:
    """Reset the process's RSS high-water mark to its current RSS; False where unsupported."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """The RSS high-water mark (since the last reset, where resets work) in MiB."""
    try:
        match = re.search(r"VmHWM:\s+(\d+)\s+kB", _STATUS.read_text())
        if match:
            return int(match.group(1)) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024

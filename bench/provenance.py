"""What produced a run: code version, library versions, device, and a hash of the configuration."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path

import torch

from bench.version import __version__


def code_version() -> str:
    """`git describe` of the suite's checkout (with -dirty), else the package version."""
    here = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=10"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if out.returncode == 0 and out.stdout.strip():
            return f"{__version__}+g{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


def library_versions() -> dict:
    import numpy
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
    }


CPUINFO = Path("/proc/cpuinfo")


def processor_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo, else what `platform` knows). Recorded because CPU
    results can differ between processors in the last bits, enough to move a weakly trained
    classifier (the omniglot domain classifier scored 68.2% on one machine, 68.5% on another)."""
    try:
        for line in CPUINFO.read_text(errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip() or "unknown CPU"
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_description(device: torch.device) -> str:
    """What runs.csv and the leaderboards' hardware column show: GPU name, or threads and CPU model."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu:{torch.get_num_threads()} threads ({processor_name()})"
    return device.type


def config_hash(payload: dict) -> str:
    """Stable short hash of everything that defines a run except its seed."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]

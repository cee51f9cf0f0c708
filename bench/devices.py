"""Device choice (cuda > mps > cpu unless the user names one) and the IEEE-fp32 context."""

from __future__ import annotations

import contextlib

import torch

from bench.errors import BenchError

VALID = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def choose_device(name: str | None = None) -> torch.device:
    name = (name or "auto").strip().lower()
    base = name.split(":")[0]
    if base not in VALID:
        raise BenchError(f"Unknown device {name!r}. Valid devices: auto, cpu, cuda, cuda:N, mps.")
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise BenchError(f"Device {name!r} was asked for but CUDA is not available here. Use --device cpu or auto.")
    if base == "mps" and not _mps_available():
        raise BenchError(f"Device {name!r} was asked for but MPS is not available here. Use --device cpu or auto.")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BenchError(f"Unknown device {name!r}. Valid devices: auto, cpu, cuda, cuda:N, mps.") from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise BenchError(f"Device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here.")
    return device


@contextlib.contextmanager
def tf32(enabled: bool):
    """TF32 in cuDNN convolutions and CUDA matmuls on (`enabled`) or off for the block; the flags
    are restored after."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def full_fp32():
    """IEEE fp32 in cuDNN convolutions and CUDA matmuls for the block (PyTorch runs convolutions
    in TF32 by default); the flags are restored after. The trainer's `--precision fp32` step on
    CUDA and the FID Inception features use it."""
    return tf32(False)

"""Reading dataset files for the real domains: messages, presence and download, tensor helpers
and the decoded-image cache (Omniglot, CelebA). The sources themselves are in bench/data/real.py."""

from __future__ import annotations

import hashlib
import pickle
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence

from bench.atomic import torch_save
from bench.data.domain import DomainData, Split
from bench.errors import BenchError
from bench.lazy import lazy_module
from bench.paths import cache_dir

torch = lazy_module("torch")  # imported on first use: listing domains needs no torch
F = lazy_module("torch.nn.functional")

CACHE_VERSION = 1
DECODE_CHUNK = 1024  # images decoded / resized at a time, to bound peak memory

# Exceptions that mean "the bytes on disk are not what the loader expects", not a bug here.
BAD_DATA_ERRORS = (
    RuntimeError,
    ValueError,
    TypeError,
    AssertionError,
    KeyError,
    IndexError,
    AttributeError,
    ImportError,
    OSError,
    EOFError,
    pickle.UnpicklingError,
)

Item = tuple  # (path: Path, label: int)


# --------------------------------------------------------------------------------------------
# Messages


def shorten(paths: Sequence[Path], root: Optional[Path], limit: int = 4) -> str:
    """'a, b, c (and 5 more)', each path shown relative to root where possible (None: in full)."""
    shown = [_relative(p, root) for p in paths[:limit]]
    more = f" (and {len(paths) - limit} more)" if len(paths) > limit else ""
    return ", ".join(shown) + more


def _relative(path: Path, root: Optional[Path]) -> str:
    if root is None:
        return str(path)
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _missing_error(name: str, root: Path, missing: Sequence[Path], after_download: bool = False) -> BenchError:
    if after_download:
        return BenchError(
            f"Domain '{name}': the download finished but {shorten(missing, root)} is still missing in "
            f"{root}. Delete the partial files there and run the same command again, or point --data-dir "
            f"(or BENCH_DATA_DIR) at a folder holding torchvision's layout."
        )
    return BenchError(
        f"Domain '{name}' needs data that is not in {root}: missing {shorten(missing, root)}. "
        f"Run without --offline (and BENCH_OFFLINE unset) to download it, or point --data-dir (or "
        f"BENCH_DATA_DIR) at a folder holding torchvision's layout of the dataset."
    )


def corrupt_error(name: str, path, detail: str) -> BenchError:
    """`path` is a file or folder, or a comma-separated list of them."""
    return BenchError(
        f"Domain '{name}': {path} looks truncated or corrupt ({detail}). "
        f"Delete it and run the same command again to fetch it anew."
    )


def _download_error(name: str, root: Path, exc: BaseException) -> BenchError:
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return BenchError(
        f"Domain '{name}': downloading into {root} failed ({detail}). Check the internet connection "
        f"and try again, or download the files by hand and point --data-dir (or BENCH_DATA_DIR) at "
        f"a folder holding torchvision's layout."
    )


def describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# Presence and download


def _missing(paths: Sequence[Path]) -> list:
    return [p for p in paths if not Path(p).exists()]


def ensure_present(name: str, root: Path, expected: Sequence[Path], download: bool, fetch: Callable) -> None:
    """Raise a clear BenchError unless every expected path exists, downloading first if allowed."""
    missing = _missing(expected)
    if not missing:
        return
    if not download:
        raise _missing_error(name, root, missing)
    try:
        fetch()
    except BenchError:
        raise
    except Exception as exc:  # network, gdown missing, disk full, bad archive: all user-facing
        raise _download_error(name, root, exc) from None
    missing = _missing(expected)
    if missing:
        raise _missing_error(name, root, missing, after_download=True)


# --------------------------------------------------------------------------------------------
# Tensor helpers


def resize_uint8(images: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) to size x size in chunks; antialiased when shrinking."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images.contiguous()
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], DECODE_CHUNK):
        chunk = images[start : start + DECODE_CHUNK].float()
        resized = F.interpolate(chunk, size=(size, size), mode=mode, align_corners=False, antialias=True)
        out[start : start + DECODE_CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out


def labelled_split(images: torch.Tensor, labels, n: Optional[int]) -> Split:
    labels = torch.as_tensor(labels, dtype=torch.int64)
    return Split(images, labels).subset(n)


# --------------------------------------------------------------------------------------------
# Decoded-image cache (Omniglot, CelebA)


def _cache_path(name: str, size: int) -> Path:
    return cache_dir() / "domains" / f"{name}-{size}px-v{CACHE_VERSION}.pt"


def _fingerprint(items: Sequence[Item], root: Path) -> str:
    digest = hashlib.sha1()
    for path, label in items:
        digest.update(f"{_relative(path, root)}\t{label}\n".encode())
    return digest.hexdigest()


def _read_cache(path: Path, expect: dict) -> Optional[dict]:
    """The cached payload when it exists and matches `expect` (counts, fingerprints), else None."""
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # unreadable cache: decode again and overwrite it
        return None
    if not isinstance(payload, dict) or any(payload.get(k) != v for k, v in expect.items()):
        return None
    return payload


def _write_cache(path: Path, payload: dict) -> None:
    try:
        torch_save(payload, path)
    except BenchError as exc:  # the data is decoded: warn, keep going without a cache
        warnings.warn(f"Could not cache decoded images: {exc}", stacklevel=3)


def _decode_items(items: Sequence[Item], decode_chunk: Callable, channels: int, size: int) -> torch.Tensor:
    """Decode image files chunk by chunk into one preallocated uint8 tensor."""
    out = torch.empty((len(items), channels, size, size), dtype=torch.uint8)
    for start in range(0, len(items), DECODE_CHUNK):
        paths = [path for path, _ in items[start : start + DECODE_CHUNK]]
        out[start : start + len(paths)] = decode_chunk(paths)
    return out


def _labels(items: Sequence[Item]) -> torch.Tensor:
    return torch.tensor([label for _, label in items], dtype=torch.int64)


def cached_domain(
    name: str,
    root: Path,
    size: int,
    channels: int,
    train_items: Sequence[Item],
    test_items: Sequence[Item],
    decode_chunk: Callable,
    max_train: Optional[int],
    max_test: Optional[int],
) -> DomainData:
    """Decoded images of both splits, from the cache when it matches, else decoded (and cached)."""
    expect = {
        "version": CACHE_VERSION,
        "name": name,
        "size": size,
        "counts": [len(train_items), len(test_items)],
        "fingerprints": [_fingerprint(train_items, root), _fingerprint(test_items, root)],
    }
    path = _cache_path(name, size)
    payload = _read_cache(path, expect)
    if payload is not None:
        train = Split(payload["train_images"], payload["train_labels"])
        test = Split(payload["test_images"], payload["test_labels"])
        return DomainData(name, train, test).limited(max_train, max_test)
    if max_train is not None or max_test is not None:  # partial load: decode only what is asked
        train_items, test_items = train_items[:max_train], test_items[:max_test]
    decoded = {}
    for split, items in (("train", train_items), ("test", test_items)):
        decoded[f"{split}_images"] = _decode_items(items, decode_chunk, channels, size)
        decoded[f"{split}_labels"] = _labels(items)
    if max_train is None and max_test is None:
        _write_cache(path, {**expect, **decoded})
    return DomainData(
        name,
        Split(decoded["train_images"], decoded["train_labels"]),
        Split(decoded["test_images"], decoded["test_labels"]),
    )


def open_image(name: str, path: Path):
    """PIL image fully read into memory; BenchError when the file is missing or unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except FileNotFoundError:
        raise BenchError(
            f"Domain '{name}': {path} is listed by the dataset but missing. The download looks "
            f"incomplete: delete the dataset folder and run the same command again to fetch it anew."
        ) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise corrupt_error(name, path, f"unreadable image: {describe(exc)}") from None

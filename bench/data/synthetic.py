"""Synthetic domains with known generative parameters: ACAI's "lines" and our "pole" scene.

Both domains are rendered by exact, deterministic functions of their parameters
(`bench/data/renderers.py`, which defines the geometry), so metrics can score an interpolation
against the ground-truth image path (`RENDERERS[name]`).

Domains and caching
-------------------
Splits have 16384 train and 4096 test images per domain. Parameters come from
`numpy.random.default_rng(SEEDS[(domain, split)])` via `sample_params`, so a domain is identical
on every machine; a load with max_train / max_test renders the first n of that fixed sequence.
Full splits are cached under `cache_dir() / "domains"` in files named after the domain, image
size, split, count and renderer version; bump a renderer's `version` whenever its output changes.
Splits carry `params` (float64, (N, P)) and no labels.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from bench.atomic import torch_save
from bench.data.domain import DomainData, DomainSpec, Split
from bench.data.renderers import RENDERERS, LinesRenderer, PoleRenderer, SyntheticRenderer, get_renderer
from bench.errors import BenchError
from bench.lazy import lazy_module
from bench.paths import cache_dir

torch = lazy_module("torch")  # imported on first use: listing domains needs no torch


SPLIT_SIZES = {"lines": (16384, 4096), "pole": (16384, 4096)}
SEEDS = {
    ("lines", "train"): 31_001,
    ("lines", "test"): 31_002,
    ("pole", "train"): 32_001,
    ("pole", "test"): 32_002,
}


def split_params(name: str, split: str) -> np.ndarray:
    """The full fixed parameter sequence of one split, (N, P) float64."""
    renderer = get_renderer(name)
    n = SPLIT_SIZES[name][0 if split == "train" else 1]
    return renderer.sample_params(n, np.random.default_rng(SEEDS[(name, split)]))


def cache_path(name: str, split: str) -> Path:
    r = get_renderer(name)
    n = SPLIT_SIZES[name][0 if split == "train" else 1]
    return cache_dir() / "domains" / f"{name}_{r.size}px_{split}_n{n}_{r.version}.pt"


def _read_cache(path: Path, renderer: SyntheticRenderer, params: np.ndarray) -> Optional[Split]:
    """The cached split if the file exists and matches what would be rendered now, else None."""
    if not path.exists():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        images, cached = obj["images"], obj["params"]
        ok = (
            obj.get("version") == renderer.version
            and images.dtype == torch.uint8
            and tuple(images.shape) == (len(params), renderer.channels, renderer.size, renderer.size)
            and cached.dtype == torch.float64
            and torch.equal(cached, torch.from_numpy(params))
        )
    except Exception:  # unreadable or foreign file: render again and overwrite it
        return None
    return Split(images, None, cached) if ok else None


def _full_split(name: str, split: str) -> Split:
    renderer = get_renderer(name)
    params = split_params(name, split)
    path = cache_path(name, split)
    cached = _read_cache(path, renderer, params)
    if cached is not None:
        return cached
    images = renderer.render_uint8(params)
    result = Split(images, None, torch.from_numpy(params))
    try:
        torch_save({"images": images, "params": result.params, "version": renderer.version}, path)
    except BenchError as exc:  # caching is an optimisation: keep going without it
        warnings.warn(f"Not caching the {name} {split} split: {exc}", stacklevel=3)
    return result


def _load_split(name: str, split: str, limit: Optional[int]) -> Split:
    if limit is not None and (int(limit) != limit or limit < 0):
        raise BenchError(f"max_{split} must be a non-negative integer, got {limit!r}.")
    full_n = SPLIT_SIZES[name][0 if split == "train" else 1]
    if limit is None or limit >= full_n or cache_path(name, split).exists():
        return _full_split(name, split).subset(limit)
    renderer = get_renderer(name)
    params = split_params(name, split)[: int(limit)]
    return Split(renderer.render_uint8(params), None, torch.from_numpy(params))


def load_synthetic(name: str, root=None, download: bool = False, max_train=None, max_test=None) -> DomainData:
    """Load a synthetic domain (root and download are ignored: nothing is read from disk except
    the cache). With max_train / max_test, the first n items of the fixed splits."""
    renderer = get_renderer(name)
    return DomainData(
        name=name,
        train=_load_split(name, "train", max_train),
        test=_load_split(name, "test", max_test),
        param_names=renderer.param_names,
    )


def _loader(name: str):
    def load(root=None, download: bool = False, max_train=None, max_test=None) -> DomainData:
        return load_synthetic(name, root, download=download, max_train=max_train, max_test=max_test)

    load.__name__ = f"load_{name}"
    load.__doc__ = f"Load the synthetic {name!r} domain (see bench.data.synthetic)."
    return load


def _no_files(root=None) -> list:
    return []


SYNTHETIC_DOMAINS: list = [
    DomainSpec(
        name="lines",
        size=32,
        channels=1,
        kind="synthetic",
        description="ACAI's synthetic lines: a 2-px anti-aliased line from the centre at angle theta ~ U(0, 2pi), 32x32",
        split_sizes=SPLIT_SIZES["lines"],
        load=_loader("lines"),
        expected_files=_no_files,
        iid_order=True,
    ),
    DomainSpec(
        name="pole",
        size=64,
        channels=1,
        kind="synthetic",
        description=(
            f"AEAI-style pole casting a shadow, light azimuth theta ~ U({PoleRenderer.param_low[0]:g}, "
            f"{PoleRenderer.param_high[0]:g}) and elevation phi ~ U({PoleRenderer.param_low[1]:g}, "
            f"{PoleRenderer.param_high[1]:g}) degrees, 64x64 (our renderer, see bench.data.synthetic)"
        ),
        split_sizes=SPLIT_SIZES["pole"],
        load=_loader("pole"),
        expected_files=_no_files,
        iid_order=True,
    ),
]

__all__ = [
    "SyntheticRenderer",
    "LinesRenderer",
    "PoleRenderer",
    "RENDERERS",
    "SYNTHETIC_DOMAINS",
    "SPLIT_SIZES",
    "SEEDS",
    "get_renderer",
    "split_params",
    "cache_path",
    "load_synthetic",
]

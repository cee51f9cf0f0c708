"""Feature extractors for Fréchet distances, and on-disk reference statistics.

`inception_extractor(ctx)` is pytorch-fid's Inception-v3 pool3 (2048-d), exactly as pytorch-fid
builds it: `InceptionV3([BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True)`
(bilinear resize to 299x299 inside the network, [0, 1] -> [-1, 1]); grayscale images are
repeated to three channels. On CUDA, TF32 is switched off while extracting (TF32 convolutions
add ~1e-3 noise to the features, so GPU and CPU scores would differ).

Weights: pytorch-fid's file `pt_inception-2015-12-05-6726825d.pth` in torch's hub cache
(`<torch.hub.get_dir()>/checkpoints/`). pytorch-fid downloads it there on first use; the suite
never downloads by default (an offline machine would hang on the request), it checks the file
first and, when it is missing, raises `MetricSkipped` naming the file, the folder and where to get
it (the evaluator prints one warning and carries on), or `BenchError` when the run requires FID.
Set BENCH_FID_DOWNLOAD=1 to let pytorch-fid download it.

Any extractor is a `FeatureExtractor` (name and resize enter the cache key and the protocol), so
the FID pipeline can run with another network, and tests use a tiny deterministic one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from bench.atomic import atomic_path
from bench.devices import full_fp32
from bench.errors import BenchError
from bench.progress import progress_bar
from metrics.base import MetricSkipped
from metrics.frechet import feature_statistics

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
OFFLINE_ENV = "BENCH_OFFLINE"
INCEPTION_NAME = "inception-pool3"
INCEPTION_LABEL = "pytorch-fid InceptionV3 pool3 (pt_inception-2015-12-05)"
INCEPTION_RESIZE = "bilinear to 299 (pytorch-fid resize_input)"


@dataclass(frozen=True)
class FeatureExtractor:
    """`extract(x)` maps float images in [0, 1], (N, C, H, W) on any device, to (N, D) features
    on `device`; `features` does it in batches and takes uint8 images too (converted batch by
    batch, so 5,000 large images never sit in memory as floats)."""

    name: str  # short, file-name safe: part of the reference-statistics cache key
    label: str  # what the protocol records
    resize: str  # how images reach the network's input size (protocol and cache key)
    device: torch.device
    extract: Callable
    batch_size: int = 100
    progress: bool = False  # a bar over the images (Inception on a CPU takes minutes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        n = images.shape[0]
        bar = progress_bar(total=n, desc=f"{self.name} features", unit="image", enabled=self.progress and n > self.batch_size)
        for i in range(0, n, self.batch_size):
            x = images[i : i + self.batch_size]
            out.append(self.extract(x.float().div(255.0) if x.dtype == torch.uint8 else x))
            bar.update(x.shape[0])
        bar.close()
        return torch.cat(out)


def weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def _missing_weights_message(path: Path) -> str:
    return (
        f"FID needs pytorch-fid's Inception weights {WEIGHTS_FILE}, which are not in torch's hub cache "
        f"({path}). They are downloaded there on first use unless downloads are off (--offline or "
        f"{OFFLINE_ENV}=1); download them from {weights_url()} (or copy a local copy) to that path. The "
        "other metrics (domain FID and misclassification included) do not need them."
    )


WEIGHTS_HASH = WEIGHTS_FILE.rsplit("-", 1)[1].split(".")[0]  # torch hub naming: the sha256's first digits


def weights_url() -> str:
    from pytorch_fid.inception import FID_WEIGHTS_URL

    return FID_WEIGHTS_URL


def fetch_weights(path: Path) -> None:
    """Download the weights to `path` with a progress bar, checking the sha256 prefix in their
    name (torch.hub.download_url_to_file writes a temporary file and renames it only if it matches)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(weights_url(), str(path), hash_prefix=WEIGHTS_HASH, progress=True)


def check_inception_weights(require: bool, offline: bool = True) -> Path:
    """The weights file, downloaded first when missing unless `offline`; else MetricSkipped
    (BenchError when FID is required) naming what is missing and where it comes from."""
    path = weights_path()
    if path.is_file():
        return path
    if offline:
        message = _missing_weights_message(path)
    else:
        try:
            fetch_weights(path)
            return path
        except Exception as exc:  # network, proxy, disk, hash mismatch: all user-facing
            message = f"Downloading the FID Inception weights failed ({' '.join(str(exc).split())[:200]}). " + _missing_weights_message(path)
    if require:
        raise BenchError(message)
    raise MetricSkipped(message)


_NETWORKS: dict = {}  # device -> InceptionV3, built once per process


def _inception_network(device: torch.device, require: bool, offline: bool = True):
    key = str(device)
    if key not in _NETWORKS:
        check_inception_weights(require, offline)
        from pytorch_fid.inception import InceptionV3

        try:
            net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True)
        except Exception as exc:  # a failed opt-in download or a corrupt file
            message = f"Could not load the FID Inception weights ({weights_path()}): {exc}"
            if require:
                raise BenchError(message) from None
            raise MetricSkipped(message) from None
        _NETWORKS[key] = net.eval().to(device)
    return _NETWORKS[key]


def inception_extractor(ctx) -> FeatureExtractor:
    """pytorch-fid's pool3 extractor on the model's device (MetricSkipped / BenchError without
    weights)."""
    return inception_extractor_on(
        torch.device(ctx.device), ctx.require_fid, getattr(ctx, "offline", True), progress=bool(getattr(ctx, "progress", False))
    )


def inception_extractor_on(device: torch.device, require: bool = True, offline: bool = True, progress: bool = False, batch_size=None) -> FeatureExtractor:
    """pytorch-fid's pool3 extractor on `device` (batches of 200 on CUDA, 50 elsewhere, as
    pytorch-fid's default); also `bench fid`'s."""
    device = torch.device(device)
    net = _inception_network(device, require, offline)

    @torch.no_grad()
    def extract(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device=device, dtype=torch.float32)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        with full_fp32():
            return net(x)[0].flatten(1)

    batch = batch_size or (200 if device.type == "cuda" else 50)
    return FeatureExtractor(INCEPTION_NAME, INCEPTION_LABEL, INCEPTION_RESIZE, device, extract, batch, progress=progress)


def image_fingerprint(images_uint8: torch.Tensor) -> str:
    """A short hash of the exact reference images: a changed loader or renderer never reuses stale
    statistics."""
    return hashlib.sha256(images_uint8.contiguous().cpu().numpy().tobytes()).hexdigest()[:12]


def reference_statistics(ctx, extractor: FeatureExtractor, domain, split: str, images_uint8: torch.Tensor) -> tuple:
    """(mu, sigma) of `extractor` features of these images, cached under ctx.cache_dir/fid_stats
    keyed by domain, split, extractor, image count, resize and the images' fingerprint."""
    resize = "".join(c if c.isalnum() else "-" for c in extractor.resize)[:40]
    key = f"{domain}-{split}-{extractor.name}-{images_uint8.shape[0]}-{resize}-{image_fingerprint(images_uint8)}"
    path = Path(ctx.cache_dir) / "fid_stats" / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path) as data:
                return torch.from_numpy(data["mu"]).to(extractor.device), torch.from_numpy(data["sigma"]).to(extractor.device)
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: recompute and overwrite
    mu, sigma = feature_statistics(extractor.features(images_uint8))
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, mu=mu.cpu().numpy(), sigma=sigma.cpu().numpy())
    return mu, sigma

"""`bench fid A B`: the Fréchet Inception Distance between two folders of images, or a folder
and a statistics file, with the suite's extractor and Fréchet distance.

Read as pytorch-fid reads them (`python -m pytorch_fid A B` gives the same value to about 1e-6
relative; a test checks 1e-3): every file of a folder whose extension is an image extension
pytorch-fid knows, in sorted order, converted to RGB by PIL and scaled to [0, 1]; a `.npz` file
holding `mu` and `sigma` (pytorch-fid's `--save-stats` format, which `--save-stats` writes too)
stands for the statistics of a folder. Features: pytorch-fid's Inception pool3
(`metrics.inception`); distance: the suite's float64 route (`metrics.frechet`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.atomic import atomic_path
from bench.errors import BenchError

IMAGE_EXTENSIONS = ("bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp")  # pytorch-fid's


def image_files(folder: Path) -> list:
    folder = Path(folder)
    # case-sensitive, as pytorch-fid's glob on Linux (an .JPG file is not read there either)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lstrip(".") in IMAGE_EXTENSIONS)
    if len(files) < 2:
        raise BenchError(
            f"{folder} holds {len(files)} image file(s); FID needs at least 2 (files ending in "
            f"{', '.join('.' + e for e in IMAGE_EXTENSIONS)}, read in sorted order)."
        )
    return files


def load_folder(folder: Path) -> torch.Tensor:
    """(N, 3, H, W) uint8: the folder's images as RGB, all of one size."""
    from PIL import Image, UnidentifiedImageError

    images, size = [], None
    for path in image_files(folder):
        try:
            with Image.open(path) as img:
                rgb = np.asarray(img.convert("RGB"))
        except (OSError, UnidentifiedImageError) as exc:
            raise BenchError(f"Cannot read {path} as an image ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}). Remove it or convert it to PNG.") from None
        if size is None:
            size = rgb.shape
        elif rgb.shape != size:
            raise BenchError(
                f"{path} is {rgb.shape[1]}x{rgb.shape[0]} but the first image of {folder} is {size[1]}x{size[0]}: "
                "the images of one folder must share a size (pytorch-fid batches them too). Resize them first."
            )
        images.append(torch.from_numpy(rgb.copy()).permute(2, 0, 1))
    return torch.stack(images)


def load_statistics(path: Path) -> tuple:
    import zipfile

    bad = f"{path} is not a statistics file: expected a .npz holding arrays mu (d,) and sigma (d, d), as `bench fid --save-stats` or pytorch-fid's --save-stats write"
    try:
        data = np.load(path)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with data:
            mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise BenchError(f"{bad} ({type(exc).__name__}).") from None
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise BenchError(f"{bad} (mu {mu.shape}, sigma {sigma.shape}).")
    return mu, sigma


class _OnDevice(torch.nn.Module):
    """What the domain classifier asks of a model: its device."""

    generative = False

    def __init__(self, device):
        super().__init__()
        self._device = torch.device(device)

    @property
    def device(self):
        return self._device


def domain_features(pair_name: str, budget_name: str, data_dir, device: torch.device, offline: bool):
    """A function from uint8 RGB images to the pair's domain-classifier features (the suite's
    `fid_domain` extractor; the classifier is trained once per pair and budget and cached)."""
    from bench import data as data_layer
    from bench.budgets import get_budget
    from bench.paths import cache_dir, default_data_dir
    from metrics.base import MetricContext, MetricSkipped
    from metrics.domain_classifier import get_domain_classifier

    pair = data_layer.get_pair(pair_name)
    budget = get_budget(budget_name, cuda_available=device.type == "cuda")
    train, novel = data_layer.load_pair(
        pair, data_dir or default_data_dir(), download=not offline, max_train=budget.training.max_train, max_test=budget.evaluation.eval_images
    )
    ctx = MetricContext(_OnDevice(device), pair, train, novel, budget, 0, cache_dir(), offline=offline)
    try:
        classifier = get_domain_classifier(ctx)
    except MetricSkipped as exc:
        raise BenchError(f"--extractor domain --pair {pair_name}: {exc}. Give a pair of two domains (see `bench pairs`).") from None
    channels, height, width = train.image_shape

    def extract(images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[2:]) != (height, width):
            raise BenchError(f"The images are {images.shape[3]}x{images.shape[2]} but the {pair_name} domain classifier takes {width}x{height}. Resize them first.")
        if channels == 1:  # PIL gave RGB: grey images have three equal channels, others are made grey (ITU-R 601)
            weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            grey = images[:, :1] if (images == images[:, :1]).all() else (images.float() * weights).sum(1, keepdim=True).round().to(torch.uint8)
            images = grey
        return classifier.features(images)

    return extract


def statistics(path: Path, device: torch.device, batch_size: int, progress: bool, offline: bool, features=None) -> tuple:
    """(mu, sigma) as float64 numpy arrays of a folder's Inception features (or `features`'s),
    or read from a .npz."""
    from metrics.frechet import feature_statistics
    from metrics.inception import inception_extractor_on

    path = Path(path)
    if not path.exists():
        raise BenchError(f"{path} does not exist. Give a folder of images or a .npz statistics file.")
    if path.is_file():
        if path.suffix != ".npz":
            raise BenchError(f"{path} is a file but not a .npz statistics file. Give a folder of images or a .npz holding mu and sigma.")
        return load_statistics(path)
    images = load_folder(path)
    if features is None:
        features = inception_extractor_on(device, require=True, offline=offline, progress=progress, batch_size=batch_size).features
    mu, sigma = feature_statistics(features(images))
    return mu.cpu().numpy(), sigma.cpu().numpy()


def save_statistics(mu: np.ndarray, sigma: np.ndarray, out: Path) -> None:
    out = Path(out)
    if out.suffix != ".npz":
        raise BenchError(f"--save-stats {out}: give a file name ending in .npz (pytorch-fid's statistics format).")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:  # a file object: numpy would append .npz to the temporary name
            np.savez_compressed(fh, mu=mu, sigma=sigma)


def fid(path_a: Path, path_b: Path, device: torch.device, batch_size: int = 50, progress: bool = False, offline: bool = True, features=None) -> float:
    """The Fréchet distance of the two paths' statistics: Inception pool3 features, or `features`
    (`domain_features`: the suite's domain FID)."""
    from metrics.frechet import frechet_distance

    mu1, sigma1 = statistics(path_a, device, batch_size, progress, offline, features)
    mu2, sigma2 = statistics(path_b, device, batch_size, progress, offline, features)
    if mu1.shape != mu2.shape:
        raise BenchError(f"{path_a} and {path_b} have statistics of {mu1.shape[0]} and {mu2.shape[0]} dimensions; both must come from the same extractor.")
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def fid_command(path_a, path_b, save_stats, batch_size: int, extractor: str, pair, budget: str, data_dir, device: str, offline: bool, progress: bool, echo) -> None:
    """`bench fid`: check the arguments, then print the distance (or only save PATH_A's statistics)."""
    from bench.api import is_offline
    from bench.devices import choose_device

    if path_b is None and save_stats is None:
        raise BenchError("bench fid needs two paths (folders of images or .npz statistics files), or one path with --save-stats OUT.npz.")
    if (extractor == "domain") != (pair is not None):
        raise BenchError("--extractor domain needs --pair P (the pair whose domain classifier gives the features), and --pair applies to --extractor domain only.")
    chosen, quiet = choose_device(device), is_offline(True if offline else None)
    features = domain_features(pair, budget, data_dir, chosen, quiet) if extractor == "domain" else None
    if save_stats is not None:
        mu, sigma = statistics(path_a, chosen, batch_size, progress, quiet, features)
        save_statistics(mu, sigma, save_stats)
        echo(f"Wrote {save_stats}")
        if path_b is None:
            return
        path_a = save_stats
    label = "FID" if extractor == "inception" else f"domain FID ({pair})"
    echo(f"{label}: {fid(path_a, path_b, chosen, batch_size, progress, quiet, features):.6f}")

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
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS)
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
    try:
        with np.load(path) as data:
            return data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise BenchError(f"{path} is not a statistics file: expected a .npz holding arrays mu and sigma, as `bench fid --save-stats` or pytorch-fid's --save-stats write ({type(exc).__name__}).") from None


def statistics(path: Path, device: torch.device, batch_size: int, progress: bool, offline: bool) -> tuple:
    """(mu, sigma) as float64 numpy arrays of a folder's Inception features, or read from a .npz."""
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
    extractor = inception_extractor_on(device, require=True, offline=offline, progress=progress, batch_size=batch_size)
    mu, sigma = feature_statistics(extractor.features(images))
    return mu.cpu().numpy(), sigma.cpu().numpy()


def save_statistics(mu: np.ndarray, sigma: np.ndarray, out: Path) -> None:
    out = Path(out)
    if out.suffix != ".npz":
        raise BenchError(f"--save-stats {out}: give a file name ending in .npz (pytorch-fid's statistics format).")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:  # a file object: numpy would append .npz to the temporary name
            np.savez_compressed(fh, mu=mu, sigma=sigma)


def fid(path_a: Path, path_b: Path, device: torch.device, batch_size: int = 50, progress: bool = False, offline: bool = True) -> float:
    from metrics.frechet import frechet_distance

    mu1, sigma1 = statistics(path_a, device, batch_size, progress, offline)
    mu2, sigma2 = statistics(path_b, device, batch_size, progress, offline)
    if mu1.shape != mu2.shape:
        raise BenchError(f"{path_a} and {path_b} have statistics of {mu1.shape[0]} and {mu2.shape[0]} dimensions; both must be Inception pool3 (2048).")
    return frechet_distance(mu1, sigma1, mu2, sigma2)

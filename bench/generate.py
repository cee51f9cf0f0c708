"""Few-shot generation from a handful of seed images (the AugIntAE paper's use case).

A trained interpolative autoencoder turns a few images of a novel class into many new ones:
encode the seeds once, draw random pairs of different seeds and mixing weights alpha, and decode
`model.interpolate(z_a, z_b, alpha)`. `bench generate` and `bench interpolate` drive this module.

Seed images can be any size and colour mode. They are converted to the model's channel count
(grayscale or RGB; transparent pixels are composited over white), center-cropped to the model's
aspect ratio and resized to its image size with PIL's bilinear filter, which antialiases when
shrinking (the suite's CelebA pipeline does the same). The suite's character domains are white
strokes on black, while raw Omniglot drawings and scanned characters are black on white: for
1-channel models `invert="auto"` inverts each image whose outer 2-pixel frame is bright (mean
> 0.5); "yes" inverts every image, "no" none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from bench import randomness
from bench.errors import BenchError
from bench.progress import progress_bar

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
INVERT_CHOICES = ("auto", "yes", "no")
ALPHA_MODES = ("uniform", "mid")
BORDER = 2  # width of the frame that decides whether an image is dark-on-bright


# --- seed images ------------------------------------------------------------------------------
def find_images(paths) -> list:
    """Image files named by `paths`: a folder gives its image files (by suffix, sorted by name,
    not recursive, hidden files skipped); a file is taken as given. Order kept, duplicates dropped."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise BenchError(f"{path} does not exist. Pass image files or folders of images ({', '.join(IMAGE_SUFFIXES)}).")
        if path.is_dir():
            found.extend(
                sorted(
                    (p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES),
                    key=lambda p: p.name,
                )
            )
        else:
            found.append(path)
    unique, seen = [], set()
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    if not unique:
        named = ", ".join(str(p) for p in paths) or "(nothing)"
        raise BenchError(f"No seed images found in {named}. Seeds are image files ({', '.join(IMAGE_SUFFIXES)}) or folders holding them.")
    return unique


def _open_rgb_or_gray(path: Path, channels: int, notes: Optional[dict] = None):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = "not an image PIL can read" if isinstance(exc, UnidentifiedImageError) else f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        raise BenchError(f"Cannot read the image {path}: {reason}. Pass image files ({', '.join(IMAGE_SUFFIXES)}).") from None
    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):  # 16-bit or float grayscale
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if img.mode == "F" and arr.max(initial=0) <= 1.0 else (255.0 if arr.max(initial=0) <= 255 else 65535.0)
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        if notes is not None:
            notes.setdefault("transparent", []).append(path.name)
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("L" if channels == 1 else "RGB")


def _crop_to_aspect(img, height: int, width: int):
    """Center crop to the aspect ratio height:width (no-op when it already matches)."""
    w, h = img.size
    if w * height == h * width:
        return img
    if w * height > h * width:  # too wide
        new_w = max(1, round(h * width / height))
        left = (w - new_w) // 2
        return img.crop((left, 0, left + new_w, h))
    new_h = max(1, round(w * height / width))
    top = (h - new_h) // 2
    return img.crop((0, top, w, top + new_h))


def border_mean(image: torch.Tensor, width: int = BORDER) -> float:
    """Mean of the outer `width`-pixel frame of a (C, H, W) image (the whole image if it is smaller)."""
    mask = torch.ones(image.shape[-2:], dtype=torch.bool)
    h, w = mask.shape
    if h > 2 * width and w > 2 * width:
        mask[width : h - width, width : w - width] = False
    return image[:, mask].float().mean().item()


def load_image(path, image_shape, invert: str = "auto", notes: Optional[dict] = None):
    """(image (C, H, W) float in [0, 1], inverted?) for the model's `image_shape` (C, H, W).
    `notes`: collects the names of transparent images ("transparent") and of images smaller than
    half the model's size ("tiny"), for a warning."""
    from PIL import Image

    if invert not in INVERT_CHOICES:
        raise BenchError(f"--invert {invert!r}: accepted values are {', '.join(INVERT_CHOICES)}.")
    channels, height, width = (int(s) for s in image_shape)
    if channels not in (1, 3):
        raise BenchError(f"Seed images can only be prepared for 1-channel (grayscale) or 3-channel (RGB) models, not {channels} channels.")
    img = _open_rgb_or_gray(Path(path), channels, notes)
    if notes is not None and (img.size[0] < width / 2 or img.size[1] < height / 2):
        notes.setdefault("tiny", []).append(f"{Path(path).name} ({img.size[0]}x{img.size[1]})")
    img = _crop_to_aspect(img, height, width)
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.array(img, dtype=np.uint8))
    pixels = pixels.unsqueeze(0) if channels == 1 else pixels.permute(2, 0, 1).contiguous()
    flip = invert == "yes" or (invert == "auto" and channels == 1 and border_mean(pixels) > 0.5 * 255)
    if flip:
        pixels = 255 - pixels  # on the 8-bit values, so an inverted image stays exactly k / 255
    return pixels.float().div_(255.0), flip


@dataclass
class Seeds:
    images: torch.Tensor  # (N, C, H, W) in [0, 1]
    paths: list
    inverted: list = field(default_factory=list)  # one bool per image
    warnings: list = field(default_factory=list)  # transparent or tiny seed images, in words


def _named(names: list, limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load_seeds(paths, image_shape, invert: str = "auto", minimum: int = 1, progress: bool = False) -> Seeds:
    """Seed images from files and folders, prepared for a model of `image_shape`; a progress bar
    over the files when asked; `warnings` name transparent and tiny images."""
    files = find_images(paths)
    if len(files) < minimum:
        raise BenchError(
            f"Found {len(files)} seed image{'s' if len(files) != 1 else ''} ({', '.join(str(f) for f in files)}); "
            f"at least {minimum} are needed, since every generated image blends two different seeds. "
            "Pass more image files or a folder with more images."
        )
    images, flags, notes = [], [], {}
    for f in progress_bar(files, desc="seed images", unit="image", enabled=progress and len(files) > 50):
        x, flipped = load_image(f, image_shape, invert, notes)
        images.append(x)
        flags.append(flipped)
    warnings = []
    if notes.get("transparent"):
        names = notes["transparent"]
        warnings.append(f"{len(names)} seed image{'s have' if len(names) > 1 else ' has'} transparency ({_named(names)}); transparent pixels were composited over white.")
    if notes.get("tiny"):
        names = notes["tiny"]
        warnings.append(
            f"{len(names)} seed image{'s are' if len(names) > 1 else ' is'} smaller than half the model's {image_shape[-1]}x{image_shape[-2]} "
            f"({_named(names)}); upscaled, {'they' if len(names) > 1 else 'it'} will look blurry to the model."
        )
    return Seeds(torch.stack(images), files, flags, warnings)


# --- generation -------------------------------------------------------------------------------
def sample_pairs(num_seeds: int, n: int, alpha_mode: str = "uniform", seed: int = 0):
    """(index_a, index_b, alpha), each of length n: ordered pairs of DIFFERENT seeds drawn
    uniformly, alpha ~ U(0, 1) ("uniform") or 0.5 ("mid"). Deterministic in `seed`."""
    if alpha_mode not in ALPHA_MODES:
        raise BenchError(f"--alpha {alpha_mode!r}: accepted values are {', '.join(ALPHA_MODES)}.")
    if num_seeds < 2:
        raise BenchError(f"Few-shot generation needs at least 2 seed images (got {num_seeds}): every generated image blends two different seeds.")
    if n < 1:
        raise BenchError(f"-n {n}: the number of images to generate must be at least 1.")
    gen = randomness.seeded(seed)
    index_a = torch.randint(num_seeds, (n,), generator=gen)
    index_b = torch.randint(num_seeds - 1, (n,), generator=gen)
    index_b = index_b + (index_b >= index_a).long()  # skip index_a: uniform over the other seeds
    if alpha_mode == "uniform":
        alpha = torch.rand(n, generator=gen)
    else:
        alpha = torch.full((n,), 0.5)
    return index_a, index_b, alpha


@torch.no_grad()
def _encode(model, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    device = model.device
    return torch.cat([model.encode(images[i : i + batch_size].to(device).float()) for i in range(0, images.shape[0], batch_size)])


@torch.no_grad()
def few_shot_generate(model, seeds: torch.Tensor, n: int, alpha_mode: str = "uniform", seed: int = 0, batch_size: int = 64, progress: bool = False) -> torch.Tensor:
    """n new images (n, C, H, W) in [0, 1] on the CPU: decoded interpolations between random pairs
    of different seeds (see `sample_pairs`); the seeds (N, C, H, W) are encoded once."""
    index_a, index_b, alpha = sample_pairs(seeds.shape[0], n, alpha_mode, seed)
    z = _encode(model, seeds, batch_size)
    device = z.device
    out = []
    bar = progress_bar(total=n, desc="generating", unit="image", enabled=progress and n > batch_size)
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        a, b = index_a[sl].to(device), index_b[sl].to(device)
        z_mix = model.interpolate(z[a], z[b], alpha[sl].to(device))
        out.append(model.decode(z_mix).float().clamp(0, 1).cpu())
        bar.update(out[-1].shape[0])
    bar.close()
    return torch.cat(out)


@torch.no_grad()
def interpolation_strip(model, a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Decoded interpolations from image a to image b at alpha = linspace(0, 1, steps): (steps, C, H, W)."""
    if steps < 2:
        raise BenchError(f"--steps {steps}: an interpolation needs at least 2 steps (alpha 0 and 1).")
    a = a if a.dim() == 4 else a.unsqueeze(0)
    b = b if b.dim() == 4 else b.unsqueeze(0)
    z = _encode(model, torch.cat([a[:1], b[:1]]), 2)
    alpha = torch.linspace(0, 1, steps, device=z.device)
    z_a, z_b = z[:1].expand(steps, *z.shape[1:]), z[1:2].expand(steps, *z.shape[1:])
    return model.decode(model.interpolate(z_a, z_b, alpha)).float().clamp(0, 1).cpu()


# --- writing ----------------------------------------------------------------------------------
GRID_COLUMNS = 8
GRID_MAX_SEEDS = 16  # seed tiles shown in a grid (two rows); every seed is still used
GRID_MAX_GENERATED = 64  # generated tiles shown in a grid (eight rows); all go to <out>_images/


def seeds_then_generated(seeds: torch.Tensor, generated: torch.Tensor, columns: int = GRID_COLUMNS) -> torch.Tensor:
    """The first GRID_MAX_SEEDS seeds, padded with mid-gray tiles to whole rows, followed by the
    first GRID_MAX_GENERATED generated images: a grid stays readable whatever the counts."""
    seeds, generated = seeds[:GRID_MAX_SEEDS], generated[:GRID_MAX_GENERATED]
    pad = (-seeds.shape[0]) % columns
    filler = torch.full((pad, *seeds.shape[1:]), 0.5)
    return torch.cat([seeds.float().cpu(), filler, generated.float().cpu()])


def save_png(image: torch.Tensor, path) -> None:
    """One (C, H, W) image in [0, 1] as a grayscale or RGB PNG (rounded as torchvision does)."""
    from PIL import Image

    arr = image.detach().float().clamp(0, 1).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).cpu()
    if arr.shape[0] == 1:
        Image.fromarray(arr[0].numpy()).save(path, format="PNG")
    else:
        Image.fromarray(arr.permute(1, 2, 0).contiguous().numpy()).save(path, format="PNG")


def _fsync(path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def check_out_path(out) -> Path:
    """--out must name a .png file (the grids are always written as PNG)."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise BenchError(f"--out {out}: the output is a PNG image; give a file name ending in .png, such as {out.with_suffix('.png')}.")
    if out.is_dir():
        raise BenchError(f"--out {out} is a folder; give the path of the PNG to write, such as {out / 'grid.png'}.")
    return out


def images_dir_for(out) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}_images")


def write_generation(out, grid_images: torch.Tensor, generated: torch.Tensor, columns: int = GRID_COLUMNS, progress: bool = False) -> tuple:
    """Write the grid PNG at `out` and every generated image as `<out stem>_images/000.png` ...

    Everything is first written into a hidden staging folder next to `out`, then moved into place
    with renames, so a failure leaves neither a half-written grid nor a partial image folder (an
    older images folder of the same name is replaced only once the new one is complete).
    Returns (grid path, images folder)."""
    from bench.grids import save_grid

    out = check_out_path(out)
    images_dir = images_dir_for(out)
    if images_dir.exists() and not images_dir.is_dir():
        raise BenchError(f"{images_dir} exists and is not a folder; it is where the individual images go. Move it or choose another --out.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.stem}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise BenchError(f"Cannot write into {out.parent}: {exc.strerror or exc}. Choose a folder you can write to.") from None
    try:
        staged_images = stage / images_dir.name
        staged_images.mkdir()
        width = max(3, len(str(generated.shape[0] - 1)))
        for i, image in enumerate(progress_bar(generated, desc="writing images", unit="image", enabled=progress and len(generated) > 100)):
            path = staged_images / f"{i:0{width}d}.png"
            save_png(image, path)
            _fsync(path)
        staged_grid = stage / "grid.png"
        save_grid(grid_images, staged_grid, nrow=columns)
        # Commit: the images folder first (an older one is moved aside, then deleted), then the grid.
        old = stage / "previous"
        had_old = images_dir.exists()
        if had_old:
            os.replace(images_dir, old)
        try:
            os.replace(staged_images, images_dir)
        except OSError:
            if had_old:
                os.replace(old, images_dir)
            raise
        try:
            os.replace(staged_grid, out)
        except OSError:
            os.replace(images_dir, staged_images)  # roll back: nothing new stays behind
            if had_old:
                os.replace(old, images_dir)
            raise
    except OSError as exc:
        raise BenchError(f"Cannot write {out} and {images_dir}: {exc.strerror or exc}. Choose a folder you can write to.") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out, images_dir


def write_strip(out, strip: torch.Tensor) -> Path:
    """One row of images as a PNG at `out` (atomic)."""
    from bench.grids import save_grid

    out = check_out_path(out)
    save_grid(strip, out, nrow=strip.shape[0])
    return out

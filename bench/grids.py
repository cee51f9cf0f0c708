"""Image grids written next to every run: reconstructions and interpolations, as PNG."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import save_image

from bench import randomness
from bench.atomic import atomic_path

# savefig arguments for labelled image grids drawn with matplotlib: the saved box is fitted to what
# is drawn, because tight_layout sizes the margins before imshow's fixed aspect moves the axes,
# which cut the left of the longest row label ("augintae-translate").
FITTED_BOX = {"bbox_inches": "tight", "pad_inches": 0.1}


def enlarged(images: torch.Tensor, min_size: int) -> torch.Tensor:
    """Images in [0, 1] on the CPU, enlarged by a whole nearest-neighbour factor to at least
    `min_size` pixels, so 28x28 characters stay crisp and readable in a grid."""
    images = images.float().clamp(0, 1).cpu()
    factor = max(1, -(-min_size // images.shape[-1]))
    if factor > 1:
        images = torch.nn.functional.interpolate(images, scale_factor=factor, mode="nearest")
    return images


def save_grid(images: torch.Tensor, path, nrow: int, min_size: int = 64) -> None:
    """Save a grid PNG; small images (28x28 characters) are enlarged with nearest-neighbour
    sampling to at least `min_size` pixels so the grid is readable at a glance."""
    images = enlarged(images, min_size)
    with atomic_path(path, suffix=".png") as tmp:
        save_image(images, tmp, nrow=nrow, padding=2, pad_value=0.5, format="png")


@torch.no_grad()
def interpolation_grid(model, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 9) -> torch.Tensor:
    """Rows of decoded interpolations from x_a to x_b (alpha 0..1), as (N*steps, C, H, W)."""
    z_a, z_b = model.encode(x_a), model.encode(x_b)
    rows = []
    for alpha in torch.linspace(0, 1, steps).tolist():
        rows.append(model.decode(model.interpolate(z_a, z_b, alpha)).float())
    return torch.stack(rows, dim=1).flatten(0, 1)


@torch.no_grad()
def write_run_grids(model, train_domain, novel_domain, out_dir: Path, n: int = 8, steps: int = 9) -> list:
    """Rows of input / reconstruction pairs per domain, random samples of generative models, and
    8 novel-domain interpolation strips."""
    written = []
    device = model.device
    for key, domain in (("train", train_domain), ("novel", novel_domain)):
        x = domain.test.images[:n].to(device).float() / 255
        recon = model.reconstruct(x).float()
        grid = torch.stack([x, recon], dim=0).flatten(0, 1)
        path = Path(out_dir) / f"reconstructions_{key}.png"
        save_grid(grid, path, nrow=x.shape[0])
        written.append(path)
    if getattr(model, "generative", False):
        gen = randomness.sample_grid_generator()
        path = Path(out_dir) / "samples.png"
        save_grid(model.sample(n * n, generator=gen), path, nrow=n)
        written.append(path)
    test = novel_domain.test.images
    if test.shape[0] >= 2:
        k = min(n, test.shape[0] // 2)
        x_a = test[:k].to(device).float() / 255
        x_b = test[k : 2 * k].to(device).float() / 255
        path = Path(out_dir) / "interpolations_novel.png"
        save_grid(interpolation_grid(model, x_a, x_b, steps), path, nrow=steps)
        written.append(path)
    return written

"""Image grids written next to every run: reconstructions and interpolations, as PNG."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid

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


PADDING = 2
LABEL_PIXELS_PER_CHAR = 6  # PIL's default bitmap font
LABEL_MARGIN = 6


def save_grid(images: torch.Tensor, path, nrow: int, min_size: int = 64, row_labels=None, column_labels=None) -> None:
    """Save a grid PNG; small images (28x28 characters) are enlarged with nearest-neighbour
    sampling to at least `min_size` pixels so the grid is readable at a glance. `row_labels`
    (one per row, written left of it) and `column_labels` (one per column, above it) say what
    the rows and columns are (inputs / reconstructions, alpha, noise frequency f)."""
    from PIL import Image, ImageDraw

    images = enlarged(images, min_size)
    grid = make_grid(images, nrow=nrow, padding=PADDING, pad_value=0.5)
    picture = Image.fromarray(grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy())
    if row_labels or column_labels:
        size = images.shape[-1] + PADDING
        left = max((len(t) for t in row_labels or []), default=0) * LABEL_PIXELS_PER_CHAR + (LABEL_MARGIN if row_labels else 0)
        top = 14 if column_labels else 0
        labelled = Image.new("RGB", (picture.width + left, picture.height + top), "white")
        labelled.paste(picture, (left, top))
        draw = ImageDraw.Draw(labelled)
        for r, text in enumerate(row_labels or []):
            draw.text((2, top + PADDING + r * size + size // 2 - 5), str(text), fill="black")
        for c, text in enumerate(column_labels or []):
            x = left + PADDING + c * size + max(0, (size - len(str(text)) * LABEL_PIXELS_PER_CHAR) // 2)
            draw.text((x, 1), str(text), fill="black")
        picture = labelled
    with atomic_path(path, suffix=".png") as tmp:
        picture.save(tmp, format="png")


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
        save_grid(grid, path, nrow=x.shape[0], row_labels=["inputs", "reconstructions"])
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
        alphas = [f"a={a:.2g}" for a in torch.linspace(0, 1, steps).tolist()]
        save_grid(interpolation_grid(model, x_a, x_b, steps), path, nrow=steps, column_labels=alphas)
        written.append(path)
    return written

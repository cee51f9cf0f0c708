"""The slow reference AugIntAE triplet pipeline: per-image torchvision calls through a DataLoader.

This is what a straightforward implementation looks like (a Dataset whose `__getitem__`
samples parameters and calls `torchvision.transforms.v2.functional` once per image and
transform). It exists to check `bench.augment.AugmentationEngine` against torchvision's own
kernels and as the baseline of its speed measurement; training never uses it.

Correspondence with the engine (same numbers up to float32 rounding, ~1e-6):
- colour: `adjust_brightness`, `adjust_contrast`, `adjust_saturation`, `adjust_hue` in that
  order, before the warp (only when the engine's "color" family is on);
- warp: `affine(angle=-rotation, translate=[tx, ty], scale=scale, shear=[shear, 0],
  interpolation=BILINEAR)` (torchvision turns clockwise for positive angles, the engine
  counter-clockwise); torchvision's tensor affine uses grid_sample with align_corners=False
  about the centre ((W-1)/2, (H-1)/2), like the engine;
- "reflection" padding: torchvision's affine only fills with a constant, so the image is
  padded "symmetric" by half its size first, warped, and cropped back. That equals
  grid_sample's reflection wherever the warp samples within the padded border (always for
  the paper's ranges).
"""

from __future__ import annotations

from typing import Optional

import torch
import torchvision.transforms.v2.functional as TF
from torch.utils.data import DataLoader, Dataset

from bench.augment import AugmentationEngine, AugParams, make_generator, mix


def reference_transform(x: torch.Tensor, p: AugParams, engine: AugmentationEngine) -> torch.Tensor:
    """T(x; p) for ONE image x (C, H, W) and one parameter set p (fields of shape (1,) or ())."""
    v = {k: float(t.reshape(-1)[0]) for k, t in zip(("rot", "tx", "ty", "s", "sh", "b", "c", "sat", "hue"), p.values())}
    if "color" in engine.families:
        x = TF.adjust_brightness(x, v["b"])
        x = TF.adjust_contrast(x, v["c"])
        x = TF.adjust_saturation(x, v["sat"])
        x = TF.adjust_hue(x, v["hue"])
    h, w = x.shape[-2:]
    ph, pw = (h // 2, w // 2) if engine.padding == "reflection" else (0, 0)
    if ph or pw:
        x = TF.pad(x, [pw, ph, pw, ph], padding_mode="symmetric")
    x = TF.affine(
        x,
        angle=-v["rot"],
        translate=[v["tx"], v["ty"]],
        scale=v["s"],
        shear=[v["sh"], 0.0],
        interpolation=TF.InterpolationMode.BILINEAR,
    )
    return x[..., ph : ph + h, pw : pw + w]


class ReferenceTripletDataset(Dataset):
    """Item i: (A, B, C, alpha) for images[i], one image at a time.

    params: None to sample per item (rho1, rho2, alpha from a CPU generator seeded with
    (seed, epoch, i)), or (p1, p2, alpha) for all images, to reproduce the engine's triplets.
    """

    def __init__(self, images: torch.Tensor, engine: AugmentationEngine, seed: int = 0, params: Optional[tuple] = None):
        self.images = images.float().div(255.0) if images.dtype == torch.uint8 else images
        self.engine = engine
        self.seed = seed
        self.epoch = 0
        self.params = params

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        x = self.images[i]
        if self.params is None:
            g = make_generator((self.seed * 1_000_003 + self.epoch) * 1_000_003 + i)
            p1, p2 = self.engine.sample_params(1, g), self.engine.sample_params(1, g)
            alpha = self.engine.sample_alpha(1, g)
        else:
            p1, p2, alpha = self.params[0][i : i + 1], self.params[1][i : i + 1], self.params[2][i : i + 1]
        p3 = mix(p1, p2, alpha)
        a, b, c = (reference_transform(x, p, self.engine) for p in (p1, p2, p3))
        return a, b, c, alpha[0]


def reference_loader(images: torch.Tensor, engine: AugmentationEngine, batch_size: int = 256, num_workers: int = 0, seed: int = 0, **kw) -> DataLoader:
    """The reference pipeline as a training loop would use it (batches of (A, B, C, alpha))."""
    return DataLoader(ReferenceTripletDataset(images, engine, seed), batch_size=batch_size, num_workers=num_workers, **kw)

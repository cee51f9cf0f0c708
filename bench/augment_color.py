"""The colour stage of the AugIntAE augmentation (`bench/augment.py`): brightness, contrast,
saturation and hue in a fixed order, torchvision's definitions with one factor per image.

Written by hand, and why: torchvision's colour kernels take one Python float factor per call
(per-sample factors would need a Python loop over the batch) and its HSV helpers are private and
use a gather; here brightness/contrast/saturation are `_blend` with (N, 1, 1, 1) factors and the
hue shift uses the closed form of HSV->RGB, which needs no gather.
"""

from __future__ import annotations

import torch

_GRAY = (0.2989, 0.587, 0.114)


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision's _blend (x*f + other*(1-f), clamped) with a per-image factor (N, 1, 1, 1)."""
    return torch.addcmul(other * (1 - factor), x, factor).clamp_(0.0, 1.0)


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(dim=1)
    return (r * _GRAY[0]).add_(g, alpha=_GRAY[1]).add_(b, alpha=_GRAY[2]).unsqueeze(1)


def adjust_hue(x: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """Shift the hue of RGB images (N, 3, H, W) by hue[i] (fraction of the circle), per image.

    RGB->HSV as torchvision's `_rgb_to_hsv` (hue in [0, 1), 0 = red, 1/3 = green, 2/3 = blue;
    its (bc - gc) etc. simplify to (g - b) / chroma etc.), then the gather-free closed form of
    HSV->RGB: with V = max, Ch = max - min (= V*S), k_n = (n + 6h) mod 6,
    channel_n = V - Ch * clamp(min(k_n, 4 - k_n), 0, 1) for n = 5, 3, 1 (R, G, B), where
    min(k, 4 - k) = 2 - |k - 2|. In-place steps keep the temporaries few (memory-bound).
    """
    r, g, b = x.unbind(dim=1)
    maxc, minc = x.amax(dim=1), x.amin(dim=1)  # (aminmax over dim 1 is much slower on CPU)
    chroma = maxc - minc
    inv = torch.where(chroma > 0, chroma, torch.ones_like(chroma)).reciprocal_()
    h6 = torch.where(
        maxc == r,
        g - b,
        torch.where(maxc == g, (b - r).add_(chroma, alpha=2.0), (r - g).add_(chroma, alpha=4.0)),
    )
    h6.mul_(inv).add_(6.0 * hue.to(x.dtype).view(-1, 1, 1)).remainder_(6.0)
    out = torch.empty_like(x)
    for i, n in enumerate((5.0, 3.0, 1.0)):
        k = (h6 + n).remainder_(6.0)
        f = k.sub_(2.0).abs_().neg_().add_(2.0).clamp_(0.0, 1.0)
        torch.addcmul(maxc, chroma, f, value=-1.0, out=out[:, i])
    return out


def color_jitter(x: torch.Tensor, params) -> torch.Tensor:
    """Brightness, contrast, saturation, hue (fixed order), one factor per image, torchvision maths;
    `params`: a `bench.augment.AugParams` (its brightness, contrast, saturation, hue)."""
    dt = x.dtype
    view = (-1, 1, 1, 1)
    x = (x * params.brightness.to(dt).view(view)).clamp_(0.0, 1.0)
    c = x.shape[1]
    gray = _grayscale(x) if c == 3 else x
    x = _blend(x, gray.mean(dim=(1, 2, 3), keepdim=True), params.contrast.to(dt).view(view))
    if c == 3:
        x = _blend(x, _grayscale(x), params.saturation.to(dt).view(view))
        x = adjust_hue(x, params.hue)
    return x

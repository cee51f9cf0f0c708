"""Reconstruction error as in the AugIntAE paper's Table 1.

"Average per-pixel L2 reconstruction error (normalized to [0, 255])": with pixels in [0, 1], the
mean over images and pixels (and channels) of the squared error, times 255
(equivalently: squared error in [0, 255] units divided by 255).

Why this reading: the paper reports 2.69 for an MNIST autoencoder with a 32-d latent. That is a
mean squared error of 0.0105 on [0, 1] pixels (RMSE ~0.10), typical for such a model; the other
readings (RMSE or mean absolute error in [0, 255] units) would need an RMSE of ~0.01, which no
32-d autoencoder reaches on MNIST.
"""

from __future__ import annotations

import torch

from metrics.base import MetricValue, register_metric

PROTOCOL = "255 * mean((x - decode(encode(x)))**2), pixels in [0, 1], averaged over images, pixels and channels"


@torch.no_grad()
def reconstruction_l2(model, images_uint8: torch.Tensor, batch_size: int = 500) -> float:
    """Average per-pixel L2 error on the [0, 255] scale of `model` over `images_uint8`."""
    device = model.device
    total, count = 0.0, 0
    for start in range(0, images_uint8.shape[0], batch_size):
        x = images_uint8[start : start + batch_size].to(device).float().div_(255.0)
        x_hat = model.reconstruct(x).float()
        total += (x_hat - x).pow(2).sum().item()
        count += x.numel()
    return 255.0 * total / max(count, 1)


def shared_recon_l2(ctx, key: str) -> float:
    """Reconstruction L2 of the "train" or "novel" test images through ctx's encoder, computed
    once per evaluation (the noise-frequency curves use the novel value as their reference)."""

    def build():
        x = ctx.test_images(key)
        return 255.0 * (ctx.reconstruct(x) - x).pow(2).mean().item()

    return ctx.shared(f"recon_l2:{key}", build)


@register_metric("recon", "Reconstruction L2 on the test splits of both domains (paper Table 1 definition)")
def reconstruction_metric(ctx) -> dict:
    """recon_l2_train / recon_l2_novel through the evaluation's encoder (a GAN's inversion, or the
    oracle encoder when selected)."""
    out = {}
    for key in ("train", "novel"):
        domain = ctx.train_domain if key == "train" else ctx.novel_domain
        x = ctx.test_images(key)
        value = shared_recon_l2(ctx, key)
        out[f"recon_l2_{key}"] = MetricValue(
            value,
            {"definition": PROTOCOL, "domain": domain.name, "split": "test", "images": int(x.shape[0]), "encoder": ctx.encoder},
        )
    return out

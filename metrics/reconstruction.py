"""Reconstruction error as in the AugIntAE paper's Table 1.

"Average per-pixel L2 reconstruction error (normalized to [0, 255])": with pixels in [0, 1], the
mean over images and pixels (and channels) of the squared error, times 255
(equivalently: squared error in [0, 255] units divided by 255).

Why this reading: the paper reports 2.69 for an MNIST autoencoder with a 32-d latent. That is a
mean squared error of 0.0105 on [0, 1] pixels (RMSE ~0.10), typical for such a model; the other
readings (RMSE or mean absolute error in [0, 255] units) would need an RMSE of ~0.01, which no
32-d autoencoder reaches on MNIST.

`recon_spread_novel` (a diagnostic, not a paper metric) catches collapse, which a low error can
hide on sparse images: an autoencoder that returns one blank or mean image for every input scores
a small L2 on thin lines or a pole and its shadow. It is the RMS distance of the reconstructions
from their own mean divided by that of the inputs from theirs: ~1 when reconstructions vary as
much as the inputs, ~0 when the model returns one image whatever the input.
"""

from __future__ import annotations

import torch

from metrics.base import MetricValue, register_metric

PROTOCOL = "255 * mean((x - decode(encode(x)))**2), pixels in [0, 1], averaged over images, pixels and channels"
SPREAD_PROTOCOL = "sqrt(mean ||x_hat - mean(x_hat)||^2) / sqrt(mean ||x - mean(x)||^2) over the test images: ~0 means one output for every input (collapse)"


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


def spread_ratio(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """RMS distance of `x_hat` from its mean over that of `x` from its own (SPREAD_PROTOCOL)."""
    def rms_spread(t):
        t = t.flatten(1).double()
        return (t - t.mean(0, keepdim=True)).pow(2).sum(1).mean().sqrt().item()

    reference = rms_spread(x)
    return rms_spread(x_hat) / reference if reference > 0 else float("nan")


def _same_test_images(ctx) -> bool:
    """Whether the "train" and "novel" test images are the same images (one-domain pairs such as
    lines or the pole), so that one reconstruction pass serves both."""
    if ctx.train_domain is ctx.novel_domain:
        return True
    return ctx.shared("reconstruction:same-test-images", lambda: torch.equal(ctx.test_images("train"), ctx.test_images("novel")))


def _shared_reconstruction(ctx, key: str) -> dict:
    """{"l2", "spread"} of the "train" or "novel" test images through ctx's encoder: one pass of
    (possibly slow, e.g. GAN-inverting) reconstructions per evaluation, and one for both keys when
    they name the same images (a GAN's lines run inverts 2,000 images fewer, a quarter of its
    metric time)."""
    if key == "train" and _same_test_images(ctx):
        key = "novel"

    def build():
        x = ctx.test_images(key)
        x_hat = ctx.reconstruct(x)
        return {"l2": 255.0 * (x_hat - x).pow(2).mean().item(), "spread": spread_ratio(x_hat, x)}

    return ctx.shared(f"reconstruction:{key}", build)


def shared_recon_l2(ctx, key: str) -> float:
    """Reconstruction L2 of the "train" or "novel" test images, computed once per evaluation (the
    noise-frequency curves use the novel value as their reference)."""
    return _shared_reconstruction(ctx, key)["l2"]


@register_metric(
    "recon",
    "Reconstruction L2 on the test splits of both domains (paper Table 1 definition)",
    keys={
        "recon_l2_novel": ("lower", "recon L2, novel domain"),
        "recon_l2_train": ("lower", "recon L2, training domain"),
        "recon_spread_novel": (None, "recon spread / input spread, novel (collapse below 0.1)"),
    },
)
def reconstruction_metric(ctx) -> dict:
    """recon_l2_train / recon_l2_novel through the evaluation's encoder (a GAN's inversion, or the
    oracle encoder when selected), and the collapse diagnostic recon_spread_novel."""
    out = {}
    for key in ("train", "novel"):
        domain = ctx.train_domain if key == "train" else ctx.novel_domain
        x = ctx.test_images(key)
        value = shared_recon_l2(ctx, key)
        out[f"recon_l2_{key}"] = MetricValue(
            value,
            {"definition": PROTOCOL, "domain": domain.name, "split": "test", "images": int(x.shape[0]), "drawn": ctx.test_split_note(key), "encoder": ctx.encoder},
        )
    novel = ctx.test_images("novel")
    out["recon_spread_novel"] = MetricValue(
        _shared_reconstruction(ctx, "novel")["spread"],
        {"definition": SPREAD_PROTOCOL, "domain": ctx.novel_domain.name, "split": "test", "images": int(novel.shape[0]), "drawn": ctx.test_split_note("novel"), "encoder": ctx.encoder},
    )
    return out

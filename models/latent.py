"""Latent-space helpers shared by every model: L2 normalization and spherical interpolation."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def normalize(z: torch.Tensor) -> torch.Tensor:
    """Project latents onto the unit sphere (the AugIntAE paper L2-normalizes every latent)."""
    return F.normalize(z.flatten(1), dim=1, eps=1e-8).view_as(z)


def _alpha_column(alpha, z: torch.Tensor) -> torch.Tensor:
    alpha = torch.as_tensor(alpha, dtype=z.dtype, device=z.device)
    if alpha.dim() == 0:
        alpha = alpha.expand(z.shape[0])
    return alpha.view(-1, *([1] * (z.dim() - 1)))


def lerp(z_a: torch.Tensor, z_b: torch.Tensor, alpha) -> torch.Tensor:
    """(1 - alpha) * z_a + alpha * z_b; alpha is a scalar or one value per row."""
    a = _alpha_column(alpha, z_a)
    return (1 - a) * z_a + a * z_b


def slerp(z_a: torch.Tensor, z_b: torch.Tensor, alpha) -> torch.Tensor:
    """Spherical interpolation between unit vectors: alpha = 0 gives z_a, alpha = 1 gives z_b.

    Computed in float32 at least; nearly parallel pairs fall back to normalized linear
    interpolation, where the great-circle formula is numerically unstable.
    """
    shape, dtype = z_a.shape, z_a.dtype
    a_flat = z_a.flatten(1).float()
    b_flat = z_b.flatten(1).float()
    a = _alpha_column(alpha, a_flat)
    cos = (F.normalize(a_flat, dim=1) * F.normalize(b_flat, dim=1)).sum(1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    safe = sin.abs() > 1e-6
    sin_safe = torch.where(safe, sin, torch.ones_like(sin))
    w_a = torch.where(safe, torch.sin((1 - a) * omega) / sin_safe, 1 - a)
    w_b = torch.where(safe, torch.sin(a * omega) / sin_safe, a)
    out = w_a * a_flat + w_b * b_flat
    return out.view(shape).to(dtype)

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


def _norm(v: torch.Tensor) -> torch.Tensor:
    """Row-wise L2 norm (keepdim) whose gradient is 0, not NaN, at the zero vector.

    The square root's derivative is infinite at 0; the inner `where` feeds it 1 there, the outer
    one returns 0, so no inf ever meets a zero gradient (no clamp involved: torch up to 2.12 gives
    clamp a gradient of 1 at its bounds, which turned 0 * inf into NaN)."""
    sq = v.pow(2).sum(1, keepdim=True)
    positive = sq > 0
    return torch.where(positive, torch.where(positive, sq, torch.ones_like(sq)).sqrt(), torch.zeros_like(sq))


def slerp(z_a: torch.Tensor, z_b: torch.Tensor, alpha) -> torch.Tensor:
    """Spherical interpolation between unit vectors: alpha = 0 gives z_a, alpha = 1 gives z_b.

    Computed in float32 at least. The angle is omega = 2 atan2(||a - b||, ||a + b||) of the
    normalized vectors (Kahan's form: accurate at small angles, and its gradient is finite
    everywhere, at identical (omega = 0) and antipodal (omega = pi) latents included; arccos of
    the dot product has an infinite derivative at both). Nearly parallel or antipodal pairs
    (|sin omega| <= 1e-6) fall back to linear interpolation, where the great-circle formula is
    numerically unstable.
    """
    shape, dtype = z_a.shape, z_a.dtype
    a_flat = z_a.flatten(1).float()
    b_flat = z_b.flatten(1).float()
    a = _alpha_column(alpha, a_flat)
    a_unit, b_unit = F.normalize(a_flat, dim=1), F.normalize(b_flat, dim=1)
    omega = 2 * torch.atan2(_norm(a_unit - b_unit), _norm(a_unit + b_unit))
    sin = torch.sin(omega)
    safe = sin.abs() > 1e-6
    sin_safe = torch.where(safe, sin, torch.ones_like(sin))
    w_a = torch.where(safe, torch.sin((1 - a) * omega) / sin_safe, 1 - a)
    w_b = torch.where(safe, torch.sin(a * omega) / sin_safe, a)
    out = w_a * a_flat + w_b * b_flat
    return out.view(shape).to(dtype)

"""Optimizer construction shared by the models (fused Adam where the device supports it)."""

from __future__ import annotations

import torch


def adam(params, lr: float, betas=(0.9, 0.999)) -> torch.optim.Adam:
    params = [p for p in params if p.requires_grad]
    fused = bool(params) and params[0].is_cuda
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused or None)

"""Optimizer construction shared by the models.

Adam uses the fused implementation (one kernel for the whole update) on CPU and CUDA: on a 2-core
CPU it halves the step time of the 13M-parameter character autoencoder, whose update is
dominated by Adam's elementwise work.
"""

from __future__ import annotations

import torch


def adam(params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0) -> torch.optim.Adam:
    params = [p for p in params if p.requires_grad]
    fusable = bool(params) and params[0].device.type in ("cpu", "cuda") and all(p.dtype == torch.float32 for p in params)
    return torch.optim.Adam(
        params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, fused=True if fusable else None
    )

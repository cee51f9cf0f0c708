"""The augmentation engine's training path on whole parameter tensors (`AugmentationEngine.triplets`).

The same element-wise arithmetic as the per-field path (`AugmentationEngine.sample_params`,
`mix`, `affine_matrices`), operation for operation, on (9, 3n) and (4, 3n) blocks: about 27
kernel launches per batch instead of 84, and the same numbers bit for bit
(tests/bench/test_augment_ops.py). Fused forms (addcmul, lerp) would save a few more launches but
change the last bits of every published AugIntAE run.
"""

from __future__ import annotations

import math

import torch


def packed_triplet_params(engine, n: int, generator, device, alpha):
    """(fields, alpha): fields is (9, 3n), row f = field f of (rho1, rho2, rho3) end to end,
    as `AugParams.cat((p1, p2, p3))` lays it out; same draws as `sample_triplet_params`."""
    count = engine._bounds_cpu.shape[0]  # the 9 parameters
    bounds = engine._bounds(device)
    lo, span = bounds[:, :1], engine._span(device)
    uniform = torch.empty((2, count, n), device=device)
    torch.rand((count, n), generator=generator, out=uniform[0])
    torch.rand((count, n), generator=generator, out=uniform[1])
    packed = torch.empty((count, 3, n), device=device)
    torch.add(lo, uniform.mul_(span), out=packed[:, :2].transpose(0, 1))  # lo + (hi - lo) * u
    if alpha is None:
        alpha = torch.rand((2, n), generator=generator, device=device).mean(dim=0)
    else:
        alpha = torch.as_tensor(alpha, dtype=torch.float32, device=device).expand(n).clone()
    torch.add(alpha * packed[:, 0], (1 - alpha) * packed[:, 1], out=packed[:, 2])  # `mix`
    return packed.view(count, 3 * n), alpha


def packed_thetas(engine, fields: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`affine_matrices` on the (9, m) packed fields, with its arithmetic, operation for
    operation, on (2, m) and (4, m) blocks instead of one field at a time."""
    m = fields.shape[1]
    rad = fields[0:5:4] * (math.pi / 180.0)  # rotation, shear
    mat = torch.empty((4, m), dtype=fields.dtype, device=fields.device)  # m00, m01, m10, m11 before 1/s
    torch.sin(rad[0], out=mat[2])
    torch.cos(rad[0], out=mat[3])
    tan_sc = mat[2:4] * torch.tan(rad[1])  # tan*sin, tan*cos
    torch.add(tan_sc[0], mat[3], out=mat[0])  # cos + tan*sin
    torch.sub(tan_sc[1], mat[2], out=mat[1])  # tan*cos - sin
    mat = mat * fields[3].reciprocal()
    shift = mat.view(2, 2, m) * fields[1:3]  # m00*tx, m01*ty / m10*tx, m11*ty
    device = fields.device
    shift = (shift[:, 0] + shift[:, 1]) * engine._constant(("shift", height, width), [-2.0 / width, -2.0 / height], device)
    if height != width:  # multiplying by 1.0 changes nothing: square images skip it
        mat = mat * engine._constant(("aspect", height, width), [1.0, height / width, width / height, 1.0], device)
    theta = torch.cat((mat.view(2, 2, m), shift.view(2, 1, m)), dim=1)  # (row, col, sample)
    return theta.permute(2, 0, 1).contiguous()

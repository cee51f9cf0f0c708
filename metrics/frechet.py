"""The Fréchet distance between two Gaussians, as in FID (Heusel et al. 2017):

    d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})

`frechet_distance` is the suite's implementation: torch, float64, on whatever device the
statistics are on (a GPU makes the 2048-d case take about a second instead of tens of seconds on
a small CPU). `frechet_distance_scipy` is pytorch-fid's own `calculate_frechet_distance`, kept as
the reference the tests compare against.

Why this route for the trace term. S1 S2 is not symmetric, and scipy's `sqrtm` of it (what
pytorch-fid does) goes through a complex Schur form, can return non-finite values for singular
products (pytorch-fid then retries with 1e-6 added to both diagonals) and small imaginary parts.
Instead: the eigenvalues of S1 S2 equal those of the symmetric positive semi-definite matrix
M = S1^{1/2} S2 S1^{1/2} (similar matrices when S1 is invertible, and by continuity otherwise),
so Tr((S1 S2)^{1/2}) = sum_i sqrt(lambda_i(M)). S1^{1/2} comes from one symmetric eigen-
decomposition (`eigh`) and M's eigenvalues from `eigvalsh` (on the rank of S1 only, so pass the
statistics of the smaller sample first), both backward stable; eigenvalues at the rounding level
of the largest (the null space of rank-deficient covariances, e.g. 2048-d features of fewer than
2048 images, where rounding leaves +-1e-16-sized values) are set to zero. No offset is added, so
the result is exact for singular covariances too; it agrees with pytorch-fid to ~1e-7 relative
(tests/metrics/test_frechet.py).
"""

from __future__ import annotations

import numpy as np
import torch


def feature_statistics(features: torch.Tensor) -> tuple:
    """(mu, sigma) of (N, D) features in float64 on their device; sigma is the unbiased
    covariance (N - 1 denominator), as numpy's `np.cov(rowvar=False)` that pytorch-fid uses."""
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"need (N, D) features with N >= 2, got {tuple(features.shape)}")
    x = features.to(torch.float64)
    mu = x.mean(dim=0)
    xc = x - mu
    sigma = xc.T @ xc / (x.shape[0] - 1)
    return mu, sigma


def _clean_eigenvalues(w: torch.Tensor) -> torch.Tensor:
    """Eigenvalues below the rounding level of the largest (numpy's matrix-rank tolerance,
    max * D * eps) are zero: in the null space of a rank-deficient covariance rounding leaves
    +-1e-16-sized values whose square roots (1e-8 each, times ~2000) would bias the trace."""
    if w.numel() == 0:
        return w
    tol = w.abs().max() * w.numel() * torch.finfo(w.dtype).eps
    return torch.where(w > tol, w, torch.zeros_like(w))


def trace_sqrt_product(sigma1: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """Tr((S1 S2)^{1/2}) for symmetric PSD S1, S2 via the eigenvalues of S1^{1/2} S2 S1^{1/2}.

    With S1 = V diag(w) V^T restricted to its r non-zero eigenvalues, S1^{1/2} S2 S1^{1/2} has the
    non-zero eigenvalues of the r x r matrix F^T S2 F, F = V_r diag(sqrt(w_r)): the second
    decomposition shrinks from D x D to r x r when S1 is rank-deficient."""
    w, v = torch.linalg.eigh(sigma1)
    w = _clean_eigenvalues(w)
    keep = w > 0
    factor = v[:, keep] * w[keep].sqrt()
    m = factor.T @ sigma2 @ factor
    m = (m + m.T) / 2  # exact symmetry for eigvalsh (rounding leaves ~1e-16 asymmetry)
    return _clean_eigenvalues(torch.linalg.eigvalsh(m)).sqrt().sum()


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), computed in float64 on the
    device of `sigma1` (numpy arrays are accepted and computed on the CPU)."""
    device = sigma1.device if isinstance(sigma1, torch.Tensor) else torch.device("cpu")

    def as64(t):
        return torch.as_tensor(t).to(device=device, dtype=torch.float64)

    mu1, sigma1, mu2, sigma2 = map(as64, (mu1, sigma1, mu2, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.numel(), mu1.numel()):
        raise ValueError(f"mismatched statistics: mu {tuple(mu1.shape)} / {tuple(mu2.shape)}, sigma {tuple(sigma1.shape)} / {tuple(sigma2.shape)}")
    diff = mu1 - mu2
    value = diff.dot(diff) + torch.trace(sigma1) + torch.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    return float(value.item())


def frechet_distance_scipy(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's reference implementation (scipy sqrtm with its 1e-6 diagonal offset when the
    product is singular), on numpy copies of the statistics."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    def as_np(t):
        return t.detach().cpu().numpy().astype(np.float64) if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float64)

    return float(calculate_frechet_distance(as_np(mu1), as_np(sigma1), as_np(mu2), as_np(sigma2)))

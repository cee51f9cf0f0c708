"""Admissibility of interpolation paths between novel-domain images (AEAI, Oring et al. 2021).

AEAI calls an interpolation x_hat(alpha) from x_i to x_j admissible when it satisfies four
conditions; each becomes a score here, computed on decoded paths p_k = x_hat(k / 16), k = 0..16
(N = 17 points, `metrics.paths`) between the budget's `path_pairs` random pairs of different
novel-domain test images:

- boundary ("x_hat(0) = x_i and x_hat(1) = x_j"): adm_boundary_l2 = mean over pairs of
  (L2(p_0, x_i) + L2(p_{N-1}, x_j)) / 2 with the reconstruction L2 of `metrics.reconstruction`
  (255 * mean squared error on [0, 1] pixels). 0 for a perfect reconstructor.
- smoothness ("Lipschitz in alpha"): AEAI states a Lipschitz bound but no score; we apply ACAI's
  smoothness score to pixel-space steps. With steps d_k = ||p_{k+1} - p_k||_2 (over all pixels),
  adm_smoothness = mean over pairs of max_k (d_k / sum_k d_k) - 1/(N-1): 0 when the path moves
  at constant speed, up to 1 - 1/(N-1) when it jumps in one step. Paths that do not move at all
  (sum d_k = 0) have no score; they are left out and counted (`undefined_pairs`).
- monotonicity ("the distance to x_i never falls and the distance to x_j never rises"):
  adm_monotonicity = mean over pairs of the fraction of the N-1 steps k -> k+1 with
  ||p_{k+1} - x_i|| >= ||p_k - x_i|| - tol and ||p_{k+1} - x_j|| <= ||p_k - x_j|| + tol, with the
  pixel L2 distance (AEAI leaves "a distance on the manifold" open) and tol = 1e-3 ||x_i - x_j||
  so float noise and negligible wiggles do not count as violations. 1 for a pixel cross-fade.
  A path that does not move (its length sum_k ||p_{k+1} - p_k|| at most tol, e.g. a collapsed
  model that decodes one image for every latent) neither departs x_i nor approaches x_j: all
  its steps count as violations and it scores 0, not the perfect 1 its constant distances would
  otherwise give. (Revision 2; revision 1 scored such paths 1.)
- credibility ("interpolants belong to the domain with high probability"): adm_credibility = mean
  over pairs and all N points of the probability that the point belongs to the novel domain under
  the pair's train-vs-novel domain classifier (`metrics.domain_classifier`). Only on pairs whose
  novel domain differs from the training domain: on the synthetic pairs (lines, pole) there is no
  second domain to tell apart, so the key is omitted and the protocol of the other keys says so
  (likewise, with the reason, when the classifier cannot be built here).
"""

from __future__ import annotations

import torch

from metrics.base import MetricSkipped, MetricValue, register_metric
from metrics.paths import PATH_STEPS, iter_paths, novel_pair_latents, pair_protocol, path_alphas

MONOTONE_REL_TOL = 1e-3


def _as_batch(path: torch.Tensor, *images: torch.Tensor) -> tuple:
    """Accept one path (T, C, H, W) with images (C, H, W), or a batch (P, T, ...) with (P, ...)."""
    if images and path.dim() == images[0].dim() + 1 and path.dim() == 4:
        return (path.unsqueeze(0), *(x.unsqueeze(0) for x in images))
    if not images and path.dim() == 4:
        return (path.unsqueeze(0),)
    return (path, *images)


def _flat(t: torch.Tensor, lead: int) -> torch.Tensor:
    return t.reshape(*t.shape[:lead], -1).float()


def boundary_l2(path: torch.Tensor, x_i: torch.Tensor, x_j: torch.Tensor) -> torch.Tensor:
    """(P,) mean of the two endpoint reconstruction L2s (255 * MSE): p_0 vs x_i, p_{N-1} vs x_j."""
    path, x_i, x_j = _as_batch(path, x_i, x_j)
    start = 255.0 * (_flat(path[:, 0], 1) - _flat(x_i, 1)).pow(2).mean(1)
    end = 255.0 * (_flat(path[:, -1], 1) - _flat(x_j, 1)).pow(2).mean(1)
    return 0.5 * (start + end)


def step_sizes(path: torch.Tensor) -> torch.Tensor:
    """(P, N-1) pixel L2 norms of the steps p_{k+1} - p_k."""
    (path,) = _as_batch(path)
    flat = _flat(path, 2)
    return (flat[:, 1:] - flat[:, :-1]).norm(dim=2)


def normalized_steps(path: torch.Tensor) -> torch.Tensor:
    """(P, N-1) steps divided by the path length (NaN rows for paths that do not move)."""
    d = step_sizes(path)
    total = d.sum(1, keepdim=True)
    return torch.where(total > 0, d / total.clamp_min(1e-30), torch.full_like(d, float("nan")))


def smoothness_score(path: torch.Tensor) -> torch.Tensor:
    """(P,) max(normalised step) - 1/(N-1): 0 = perfectly even steps; NaN for a path that does
    not move (ACAI's score, applied to pixel-space steps)."""
    ns = normalized_steps(path)
    return ns.max(dim=1).values - 1.0 / ns.shape[1]


def monotone_steps(path: torch.Tensor, x_i: torch.Tensor, x_j: torch.Tensor, rel_tol: float = MONOTONE_REL_TOL) -> torch.Tensor:
    """(P, N-1) bool: step k -> k+1 moves away from x_i and towards x_j (pixel L2), within
    tol = rel_tol * ||x_i - x_j||."""
    path, x_i, x_j = _as_batch(path, x_i, x_j)
    flat, a, b = _flat(path, 2), _flat(x_i, 1), _flat(x_j, 1)
    d_i = (flat - a[:, None]).norm(dim=2)
    d_j = (flat - b[:, None]).norm(dim=2)
    tol = rel_tol * (a - b).norm(dim=1, keepdim=True)
    away = d_i[:, 1:] >= d_i[:, :-1] - tol
    towards = d_j[:, 1:] <= d_j[:, :-1] + tol
    moves = (flat[:, 1:] - flat[:, :-1]).norm(dim=2).sum(1, keepdim=True) > tol  # a still path is not monotone
    return away & towards & moves


def monotonicity_score(path: torch.Tensor, x_i: torch.Tensor, x_j: torch.Tensor, rel_tol: float = MONOTONE_REL_TOL) -> torch.Tensor:
    """(P,) fraction of monotone steps (1 = the path always departs x_i and approaches x_j; 0 for
    a path that does not move)."""
    return monotone_steps(path, x_i, x_j, rel_tol).float().mean(1)


def _credibility_classifier(ctx) -> tuple:
    """(classifier or None, why it is None). A classifier that cannot be built here omits the
    credibility key only; the other three scores still run."""
    if ctx.pair.one_domain:
        return None, "omitted: the pair's novel domain is its training domain, so there is no domain classifier to ask"
    from metrics.domain_classifier import get_domain_classifier  # lazy: trained (and cached) on demand

    try:
        return get_domain_classifier(ctx), None
    except MetricSkipped as exc:
        return None, f"omitted: no domain classifier ({exc})"


def _nanmean(t: torch.Tensor) -> float:
    ok = ~torch.isnan(t)
    return t[ok].mean().item() if ok.any() else float("nan")


@register_metric(
    "admissibility",
    "AEAI admissibility of novel-domain interpolation paths: boundary, smoothness, monotonicity, credibility",
    revision=2,  # 2: a path that does not move scores monotonicity 0 (1 scored it 1, the best value)
    keys={
        "adm_boundary_l2": ("lower", "boundary L2"),
        "adm_smoothness": ("lower", "path smoothness"),
        "adm_monotonicity": ("higher", "monotone steps (fraction)"),
        "adm_credibility": ("higher", "credibility P(novel)"),
    },
)
@torch.no_grad()
def admissibility_metric(ctx) -> dict:
    """adm_boundary_l2, adm_smoothness, adm_monotonicity and (pairs of two domains) adm_credibility."""
    pairs = novel_pair_latents(ctx)
    alphas = path_alphas(PATH_STEPS)
    x = ctx.test_images("novel")
    classifier, why_not = _credibility_classifier(ctx)
    boundary, smooth, mono_steps, norm_steps, probs = [], [], [], [], []
    for sl, path in iter_paths(ctx.model, pairs["z_a"], pairs["z_b"], alphas):
        x_i = x[pairs["index_a"][sl].to(x.device)]
        x_j = x[pairs["index_b"][sl].to(x.device)]
        boundary.append(boundary_l2(path, x_i, x_j).cpu())
        ns = normalized_steps(path)
        norm_steps.append(ns.cpu())
        smooth.append((ns.max(dim=1).values - 1.0 / ns.shape[1]).cpu())
        mono_steps.append(monotone_steps(path, x_i, x_j).cpu())
        if classifier is not None:
            flat = path.flatten(0, 1)
            probs.append(classifier.prob_novel(flat).float().view(path.shape[0], path.shape[1]).cpu())
    boundary, smooth = torch.cat(boundary), torch.cat(smooth)
    mono_steps, norm_steps = torch.cat(mono_steps), torch.cat(norm_steps)
    defined = ~torch.isnan(smooth)

    base = {**pair_protocol(pairs), "encoder": ctx.encoder}
    if classifier is None:
        base["credibility"] = why_not
    alpha_list = alphas.tolist()
    out = {
        "adm_boundary_l2": MetricValue(
            boundary.mean().item(),
            {**base, "definition": "mean over pairs of (L2(p_0, x_i) + L2(p_16, x_j)) / 2, L2 = 255 * MSE on [0, 1] pixels"},
            {"per_pair": boundary.tolist()},
        ),
        "adm_smoothness": MetricValue(
            _nanmean(smooth),
            {
                **base,
                "definition": "mean over pairs of max_k(d_k / sum d) - 1/(N-1), d_k = ||p_{k+1} - p_k||_2 in pixel space (ACAI's score on pixel steps); 0 = even steps",
                "undefined_pairs": int((~defined).sum()),
            },
            {
                "per_pair": [None if v != v else v for v in smooth.tolist()],  # NaN -> null in JSON
                "step_index": list(range(norm_steps.shape[1])),
                "normalized_step_mean": [_nanmean(norm_steps[:, k]) for k in range(norm_steps.shape[1])],
                "even_step": 1.0 / norm_steps.shape[1],
            },
        ),
        "adm_monotonicity": MetricValue(
            mono_steps.float().mean(1).mean().item(),
            {
                **base,
                "definition": "mean over pairs of the fraction of steps with ||p_{k+1}-x_i|| >= ||p_k-x_i|| - tol and ||p_{k+1}-x_j|| <= ||p_k-x_j|| + tol (pixel L2)",
                "tolerance": f"{MONOTONE_REL_TOL} * ||x_i - x_j||",
            },
            {
                "per_pair": mono_steps.float().mean(1).tolist(),
                "step_index": list(range(mono_steps.shape[1])),
                "monotone_fraction_per_step": mono_steps.float().mean(0).tolist(),
            },
        ),
    }
    if classifier is not None:
        probs = torch.cat(probs)
        out["adm_credibility"] = MetricValue(
            probs.mean().item(),
            {
                **base,
                "definition": "mean over pairs and all 17 path points of P(novel domain) under the pair's domain classifier",
                "classifier": "metrics.domain_classifier (train vs novel domain)",
                "classifier_accuracy": getattr(classifier, "accuracy", None),
            },
            {"alphas": alpha_list, "prob_novel_mean": probs.mean(0).tolist(), "prob_novel_std": probs.std(0, unbiased=False).tolist()},
        )
    return out

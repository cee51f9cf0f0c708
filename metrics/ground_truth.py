"""Interpolation against ground truth on the synthetic domains (AEAI's pole figures, ACAI's lines).

On `lines` and `pole` every image is an exact render of known parameters (bench.data.synthetic),
so the ideal interpolation between x_a = render(p_a) and x_b = render(p_b) is known:
render(interpolate_params(p_a, p_b, alpha)) (shorter arc for lines, linear in (theta, phi) for
pole). Paths have 17 points, alpha = k/16 (`metrics.paths`).

Pairs (`interval_pairs`). AEAI plots the error against the interval length (15 to 80 degrees on
pole), so pairs are chosen by interval: for each of the budget's `path_pairs` pairs draw an anchor
uniformly among the novel-domain test images (first `eval_images`) and a target interval
uniformly in the domain's range, and take as partner the test image whose parameter distance to
the anchor is closest to the target. The pairs stay real test images with their stored params
(the model encodes exactly what the dataset holds) and the intervals come out close to uniform
over the range. Ranges: pole 15-80 deg (AEAI); lines 15-150 deg, because near 180 deg the
shorter arc, and hence the ground truth, is ambiguous (our choice; ACAI does not evaluate
ground-truth images).

ground_truth metric (pole and lines):
- gt_mse_mean: MSE on [0, 1] pixels between interpolant decode(interpolate(E(x_a), E(x_b), alpha))
  and the true image (float render, not quantised), mean over pairs and the 17 alphas.
  gt_mse_peak: the maximum over alpha of the per-alpha mean (the peak of AEAI's MSE-vs-alpha
  figure). Details: per-alpha mean and std over pairs, mean MSE per interval bin (5 equal bins
  over the range; each pair's MSE averaged over the 17 alphas).
- alpha_error_median, AEAI's "predicting alpha": each interpolant's nearest neighbour by pixel L2
  in a dense rendered parameter grid (the grids below, standing in for AEAI's "closest image in
  the dataset") gives parameters p_hat; its predicted alpha is the alpha of the path point closest
  to p_hat in parameter space, argmin over alpha' in {0, 0.001, ..., 1} of
  param_distance(p_hat, interpolate_params(p_a, p_b, alpha')) (first minimum on ties). The key is
  the median of |alpha_pred - alpha| over pairs and alphas; details hold, per alpha, the median
  and quartiles of alpha_pred and of the error, and the mean parameter distance of p_hat to both
  endpoints with the perfect (linear) reference alpha * d(p_a, p_b) and (1 - alpha) * d(p_a, p_b).

acai_lines metric (lines only; ACAI's official evaluation, lib/eval.py of brain-research/acai):
- lines_mean_distance: mean over all interpolants of the cosine distance to the closest of 10,000
  rendered lines at angles 2*pi*k/10000 (our renderer, uint8 like the dataset). An all-zero
  interpolant has cosine similarity 0 (distance 1).
- lines_smoothness: the angle of each interpolant is that of its cosine-closest line; angles are
  unwrapped along the path, d_k = |step k|, score = max_k d_k / |angle_end - angle_start|
  - 1/(N-1). Paths whose end angles differ by < 1e-4 rad have no score.
Deviations from ACAI: pairs are the admissibility pairs (random pairs of different novel test
images, shared with `metrics.admissibility`), with 17 points per path instead of ACAI's 16, and
the interpolation is the model's own (`interpolate`), where ACAI's evaluation interpolates
linearly. ACAI averages smoothness over all paths counting undefined ones as 0 (perfect); we
average over the defined paths and record how many were left out.

Grids (built once per renderer, cached in memory and under ctx.cache_dir / "grids"):
lines 10,000 angles 2*pi*k/10000 (ACAI's); pole theta 0..180 and phi 35..70 in 1-degree steps
(181 x 36 = 6,516 images), so retrieval quantises pole parameters to 0.5 degree (an alpha error
of at most ~0.03 on the shortest 15-degree intervals).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch

from bench.data.synthetic import RENDERERS, get_renderer
from metrics.base import MetricValue, register_metric
from metrics.paths import PATH_STEPS, encode_batched, iter_paths, novel_pair_latents, pair_protocol, path_alphas

INTERVALS = {"pole": (15.0, 80.0), "lines": (math.radians(15.0), math.radians(150.0))}
INTERVAL_BINS = 5
ALPHA_RESOLUTION = 1000  # predicted alphas are multiples of 1/1000
# (low, high, count, include high) per parameter
GRID_SPECS = {
    "lines": ((0.0, 2 * math.pi, 10000, False),),
    "pole": ((0.0, 180.0, 181, True), (35.0, 70.0, 36, True)),
}
QUERY_CHUNK = 512
ACAI_MIN_TOTAL = 1e-4
_GRIDS: dict = {}


# --- pairs ------------------------------------------------------------------------------------
def interval_pairs(renderer, params: np.ndarray, n_pairs: int, low: float, high: float, generator: torch.Generator) -> tuple:
    """(index_a, index_b) int64 tensors: anchors uniform over the rows of `params`, partners the
    row whose parameter distance to the anchor is closest to a target ~ U(low, high)."""
    n = params.shape[0]
    if n < 2:
        raise ValueError("interval pairs need at least 2 images")
    index_a = torch.randint(n, (n_pairs,), generator=generator)
    targets = low + (high - low) * torch.rand(n_pairs, generator=generator, dtype=torch.float64)
    d = renderer.param_distance(params[index_a.numpy()][:, None, :], params[None, :, :])  # (n_pairs, n)
    gap = np.abs(d - targets.numpy()[:, None])
    gap[np.arange(n_pairs), index_a.numpy()] = np.inf
    return index_a, torch.from_numpy(gap.argmin(axis=1)).long()


# --- parameter grids and nearest-neighbour retrieval --------------------------------------------
def parameter_grid(name: str, spec=None) -> np.ndarray:
    """(G, P) float64 grid of parameters: the product of each parameter's evenly spaced values."""
    spec = GRID_SPECS[name] if spec is None else spec
    axes = [np.linspace(lo, hi, count, endpoint=endpoint) for lo, hi, count, endpoint in spec]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def grid_images(renderer, params: np.ndarray, cache_dir=None) -> torch.Tensor:
    """render_uint8 of the grid (G, C, H, W), cached in memory and (with cache_dir) on disk."""
    digest = hashlib.sha256(np.ascontiguousarray(params).tobytes()).hexdigest()[:16]
    key = (renderer.name, renderer.version, digest)
    if key in _GRIDS:
        return _GRIDS[key]
    path = Path(cache_dir) / "grids" / f"{renderer.name}-{renderer.version}-{digest}.pt" if cache_dir is not None else None
    images = _read_grid(path, params, renderer) if path is not None else None
    if images is None:
        images = renderer.render_uint8(params)
        if path is not None:
            from bench.atomic import torch_save
            from bench.errors import BenchError

            try:
                torch_save({"params": torch.from_numpy(params), "images": images, "version": renderer.version}, path)
            except BenchError:
                pass  # the cache is an optimisation
    _GRIDS[key] = images
    return images


def _read_grid(path: Path, params: np.ndarray, renderer):
    if not path.exists():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        ok = (
            obj.get("version") == renderer.version
            and torch.equal(obj["params"], torch.from_numpy(params))
            and obj["images"].dtype == torch.uint8
            and tuple(obj["images"].shape) == (len(params), renderer.channels, renderer.size, renderer.size)
        )
    except Exception:
        return None
    return obj["images"] if ok else None


def grid_for(ctx, renderer, spec=None) -> tuple:
    """(params (G, P) numpy, images (G, D) float on ctx.device) of the renderer's grid."""
    params = parameter_grid(renderer.name, spec)
    images = grid_images(renderer, params, ctx.cache_dir)
    return params, images.to(ctx.device).flatten(1).float().div_(255.0)


def nearest(queries: torch.Tensor, grid: torch.Tensor, metric: str = "l2", chunk: int = QUERY_CHUNK) -> tuple:
    """(index (Q,), distance (Q,)) of each query row's nearest grid row. "l2": Euclidean distance
    (computed as |q|^2 - 2 q.g + |g|^2 after subtracting the grid mean, which keeps float32
    accurate); "cosine": 1 - cosine similarity (an all-zero row has similarity 0)."""
    queries = queries.flatten(1).float()
    if metric == "l2":
        center = grid.mean(0, keepdim=True)
        g = grid - center
        g2 = g.pow(2).sum(1)
    elif metric == "cosine":
        g = torch.nn.functional.normalize(grid, dim=1)
    else:
        raise ValueError(f"metric must be 'l2' or 'cosine', got {metric!r}")
    index, dist = [], []
    for s in range(0, queries.shape[0], chunk):
        q = queries[s : s + chunk]
        if metric == "l2":
            q = q - center
            d = (q.pow(2).sum(1, keepdim=True) - 2 * q @ g.T + g2).clamp_min_(0.0)
            best, idx = d.min(1)
            dist.append(best.sqrt())
        else:
            sim = torch.nn.functional.normalize(q, dim=1) @ g.T
            best, idx = sim.max(1)
            dist.append(1.0 - best)
        index.append(idx)
    return torch.cat(index), torch.cat(dist)


# --- scores -----------------------------------------------------------------------------------
def closest_path_alpha(renderer, p_a: np.ndarray, p_b: np.ndarray, p_hat: np.ndarray, resolution: int = ALPHA_RESOLUTION) -> np.ndarray:
    """(P, T) alpha of the point of the path p_a -> p_b closest to p_hat (P, T, P_dim) in
    parameter space, over alpha' = k / resolution."""
    dense = np.arange(resolution + 1) / resolution
    path = renderer.interpolate_params(p_a, p_b, dense[:, None])  # (A, P, P_dim)
    d = renderer.param_distance(path[:, :, None, :], p_hat[None])  # (A, P, T)
    return dense[d.argmin(axis=0)]


def acai_smoothness(angles: np.ndarray, min_total: float = ACAI_MIN_TOTAL) -> np.ndarray:
    """(P,) ACAI's smoothness of angle paths (P, T): unwrap, max |step| / |end - start| - 1/(T-1);
    NaN where |end - start| < min_total."""
    a = np.unwrap(np.atleast_2d(np.asarray(angles, dtype=np.float64)), axis=-1)
    steps = np.abs(np.diff(a, axis=-1))
    total = np.abs(a[:, -1] - a[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        score = steps.max(axis=-1) / total - 1.0 / (a.shape[1] - 1)
    score[total < min_total] = np.nan
    return score


def _quartiles(values: np.ndarray) -> tuple:
    """Per column: (q25, median, q75) lists."""
    q = np.quantile(values, [0.25, 0.5, 0.75], axis=0)
    return q[0].tolist(), q[1].tolist(), q[2].tolist()


def _applies_gt(ctx) -> bool:
    return ctx.novel_domain.name in RENDERERS and ctx.novel_domain.test.params is not None


@register_metric(
    "ground_truth",
    "Interpolants vs ground-truth renders on synthetic domains (AEAI pole figures): MSE vs alpha and interval, predicted alpha",
    applies=_applies_gt,
    keys={
        "gt_mse_mean": ("lower", "ground-truth MSE, mean"),
        "gt_mse_peak": ("lower", "ground-truth MSE, peak over alpha"),
        "alpha_error_median": ("lower", "alpha error, median"),
    },
)
@torch.no_grad()
def ground_truth_metric(ctx, grid_spec=None) -> dict:
    """gt_mse_mean, gt_mse_peak and alpha_error_median (see the module docstring)."""
    renderer = get_renderer(ctx.novel_domain.name)
    x = ctx.test_images("novel")
    params = ctx.novel_domain.test.params[: x.shape[0]].double().cpu().numpy()
    low, high = INTERVALS[renderer.name]
    index_a, index_b = interval_pairs(renderer, params, int(ctx.evaluation.path_pairs), low, high, ctx.generator("ground-truth-pairs"))
    n_pairs = index_a.shape[0]
    z = encode_batched(ctx, torch.cat([x[index_a.to(x.device)], x[index_b.to(x.device)]]))
    z_a, z_b = z[:n_pairs], z[n_pairs:]
    p_a, p_b = params[index_a.numpy()], params[index_b.numpy()]
    alphas = path_alphas(PATH_STEPS)
    true_params = np.swapaxes(renderer.interpolate_params(p_a, p_b, alphas.double().numpy()[:, None]), 0, 1)  # (P, T, Pd)
    grid_params, grid = grid_for(ctx, renderer, grid_spec)

    T, Pd = alphas.shape[0], params.shape[1]
    mse = torch.empty(n_pairs, T)
    retrieved = np.empty((n_pairs, T, Pd))
    for sl, path in iter_paths(ctx.model, z_a, z_b, alphas):
        b = path.shape[0]
        truth = torch.from_numpy(renderer.render(true_params[sl].reshape(-1, Pd))).to(path.device).view_as(path)
        mse[sl] = (path - truth).pow(2).flatten(2).mean(2).cpu()
        idx, _ = nearest(path.flatten(0, 1), grid, "l2")
        retrieved[sl] = grid_params[idx.cpu().numpy()].reshape(b, T, Pd)

    alpha_np = alphas.double().numpy()
    alpha_pred = closest_path_alpha(renderer, p_a, p_b, retrieved)
    error = np.abs(alpha_pred - alpha_np[None])
    interval = renderer.param_distance(p_a, p_b)  # (P,)
    dist_a = renderer.param_distance(retrieved, p_a[:, None, :])  # (P, T)
    dist_b = renderer.param_distance(retrieved, p_b[:, None, :])

    mse_np = mse.double().numpy()
    curve = mse_np.mean(0)
    edges = np.linspace(low, high, INTERVAL_BINS + 1)
    bins = np.clip(np.searchsorted(edges, interval, side="right") - 1, 0, INTERVAL_BINS - 1)
    per_pair = mse_np.mean(1)
    bin_mean = [float(per_pair[bins == k].mean()) if np.any(bins == k) else None for k in range(INTERVAL_BINS)]
    pq25, pmed, pq75 = _quartiles(alpha_pred)
    eq25, emed, eq75 = _quartiles(error)

    unit = renderer.param_units[0] if len(set(renderer.param_units)) == 1 else "param units"
    protocol = {
        "pairs": n_pairs,
        "pairing": f"anchor uniform over the first {x.shape[0]} novel test images, partner = test image whose param distance to the anchor is closest to a target ~ U({low:.4g}, {high:.4g}) {unit}, ctx.generator('ground-truth-pairs')",
        "alphas": f"{T} points, alpha = k/{T - 1}",
        "interpolant": "decode(model.interpolate(E(x_a), E(x_b), alpha))",
        "truth": f"bench.data.synthetic {renderer.name} render(interpolate_params(p_a, p_b, alpha)) (float, renderer {renderer.version})",
        "encoder": ctx.encoder,
    }
    grid_desc = f"{len(grid_params)} renders (uint8), spec {[list(s) for s in (grid_spec or GRID_SPECS[renderer.name])]} as (low, high, count, include_high) per {list(renderer.param_names)}"
    alpha_list = alpha_np.tolist()
    mse_details = {
        "alphas": alpha_list,
        "mse_mean": curve.tolist(),
        "mse_std": mse_np.std(0).tolist(),
        "interval_bin_edges": edges.tolist(),
        "interval_bin_mse": bin_mean,
        "interval_bin_count": [int(np.sum(bins == k)) for k in range(INTERVAL_BINS)],
        "intervals": interval.tolist(),
        "per_pair_mse": per_pair.tolist(),
    }
    return {
        "gt_mse_mean": MetricValue(float(curve.mean()), {**protocol, "definition": "MSE on [0, 1] pixels vs the true image, mean over pairs and alphas"}, mse_details),
        "gt_mse_peak": MetricValue(float(curve.max()), {**protocol, "definition": "max over alpha of the mean-over-pairs MSE (AEAI figure peak)"}, {"alphas": alpha_list, "mse_mean": curve.tolist(), "peak_alpha": float(alpha_np[curve.argmax()])}),
        "alpha_error_median": MetricValue(
            float(np.median(error)),
            {
                **protocol,
                "definition": "median over pairs and alphas of |alpha_pred - alpha|; alpha_pred = alpha of the path point (param space, step 1/1000) closest to the params of the interpolant's L2-nearest grid render",
                "grid": grid_desc,
            },
            {
                "alphas": alpha_list,
                "alpha_pred_median": pmed,
                "alpha_pred_q25": pq25,
                "alpha_pred_q75": pq75,
                "abs_error_median": emed,
                "abs_error_q25": eq25,
                "abs_error_q75": eq75,
                "param_distance_to_a_mean": dist_a.mean(0).tolist(),
                "param_distance_to_b_mean": dist_b.mean(0).tolist(),
                "perfect_distance_to_a_mean": (alpha_np * interval.mean()).tolist(),
                "perfect_distance_to_b_mean": ((1 - alpha_np) * interval.mean()).tolist(),
            },
        ),
    }


@register_metric(
    "acai_lines",
    "ACAI's lines scores: mean cosine distance to the closest true line and angle smoothness",
    applies=lambda ctx: ctx.novel_domain.name == "lines",
    keys={
        "lines_mean_distance": ("lower", "ACAI mean distance"),
        "lines_smoothness": ("lower", "ACAI smoothness"),
    },
)
@torch.no_grad()
def acai_lines_metric(ctx, grid_spec=None) -> dict:
    """lines_mean_distance and lines_smoothness (see the module docstring)."""
    renderer = get_renderer("lines")
    pairs = novel_pair_latents(ctx)
    alphas = path_alphas(PATH_STEPS)
    grid_params, grid = grid_for(ctx, renderer, grid_spec)
    distances, angles = [], []
    for sl, path in iter_paths(ctx.model, pairs["z_a"], pairs["z_b"], alphas):
        idx, dist = nearest(path.flatten(0, 1), grid, "cosine")
        distances.append(dist.view(path.shape[0], -1).cpu())
        angles.append(torch.from_numpy(grid_params[idx.cpu().numpy(), 0]).view(path.shape[0], -1))
    distances, angles = torch.cat(distances).double().numpy(), torch.cat(angles).numpy()
    smooth = acai_smoothness(angles)
    defined = ~np.isnan(smooth)
    protocol = {
        **pair_protocol(pairs),
        "reference_lines": f"{len(grid_params)} lines at angles 2*pi*k/{len(grid_params)} (bench.data.synthetic lines renderer, uint8)",
        "source": "ACAI official evaluation (brain-research/acai lib/eval.py), 17 points per path instead of 16",
        "encoder": ctx.encoder,
    }
    return {
        "lines_mean_distance": MetricValue(
            float(distances.mean()),
            {**protocol, "definition": "mean over all interpolants of the cosine distance to the closest reference line"},
            {"alphas": alphas.tolist(), "distance_mean": distances.mean(0).tolist()},
        ),
        "lines_smoothness": MetricValue(
            float(smooth[defined].mean()) if defined.any() else float("nan"),
            {
                **protocol,
                "definition": "mean over paths of max|unwrapped angle step| / |end - start| - 1/(N-1), angles of the cosine-closest reference lines",
                "undefined_pairs": int((~defined).sum()),
                "undefined_rule": f"|end - start| < {ACAI_MIN_TOTAL} rad; left out (ACAI counts them as 0)",
            },
            {"per_pair": [None if np.isnan(v) else float(v) for v in smooth]},
        ),
    }

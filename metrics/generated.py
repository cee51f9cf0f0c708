"""The images a model "generates" for FID, domain FID and misclassification (AugIntAE appendix A.3).

- Generative models (`model.generative`, e.g. a WGAN-GP): `model.sample(N)`.
- Interpolative models: few-shot generation in the novel domain. Pairs of distinct images are
  drawn from the novel domain's test images as the run loaded them: the whole test split, or at
  budgets that cap it (`eval_images`) a seeded random subset stratified by label (every Omniglot
  character, hence every alphabet, is represented; `bench.data.load_pair`); the protocol's
  `source_images` says which. Each pair gives 3 points on its path, alpha = 0.25, 0.5, 0.75:
  decode(interpolate(encode(x_a), encode(x_b), alpha)); ceil(N / 3) pairs, truncated to N images.
  `encode` is the evaluation's encoder (the model's own, a GAN's inversion, or the oracle).

N is the budget's fid_images (the paper: 5,000).

Pairing. The paper's few-shot generator interpolates between seeds of one novel class (an EMNIST
letter, an Omniglot character, a CelebA identity, a CIFAR-100 class); with
`pairing="same-class"` (the default) both images of a pair share a label where the split has
labels, and pairs are any two distinct images where it has none (recorded in the protocol);
`pairing="any"` ignores labels.

Deviation: the paper says "3 uniformly distributed points along each sampled interpolation path",
which could also mean 3 random alphas ~ U(0, 1); the suite uses the evenly spaced 0.25 / 0.5 /
0.75, which excludes the seeds themselves (alpha 0 and 1 would score reconstructions) and makes
scores less noisy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from bench.errors import BenchError
from metrics.base import MetricSkipped

ALPHAS = (0.25, 0.5, 0.75)
PAIRINGS = ("same-class", "any")
CHUNK = 500


@dataclass
class GeneratedSet:
    images: torch.Tensor  # float (N, C, H, W) in [0, 1] on the CPU
    protocol: dict
    sources: list  # per image: {"sample": i} or {"source_a": i, "source_b": j, "alpha": a} (test-split indices)


def generated_images(ctx) -> torch.Tensor:
    """The run's generated images (computed once per evaluation, shared by the metrics)."""
    return _generated_set(ctx).images


def generated_sources(ctx) -> list:
    """Where each generated image comes from (`bench evaluate --export-samples` writes it)."""
    return list(_generated_set(ctx).sources)


def generation_protocol(ctx) -> dict:
    """How `generated_images(ctx)` were made (recorded in every metric that uses them)."""
    return dict(_generated_set(ctx).protocol)


def _generated_set(ctx) -> GeneratedSet:
    return ctx.shared("generated_images", lambda: _sample(ctx) if getattr(ctx.model, "generative", False) else _interpolate(ctx))


@torch.no_grad()
def _sample(ctx) -> GeneratedSet:
    n = ctx.evaluation.fid_images
    generator = ctx.generator("fid-samples")
    chunks = [ctx.model.sample(min(CHUNK, n - i), generator).float().clamp(0, 1).cpu() for i in range(0, n, CHUNK)]
    images = torch.cat(chunks)
    protocol = {"source": "model.sample", "generated": int(images.shape[0]), "seed": ctx.seed, "rng": "fid-samples"}
    return GeneratedSet(images, protocol, [{"sample": i} for i in range(images.shape[0])])


def draw_pairs(labels, n_images: int, n_pairs: int, same_class: bool, generator: torch.Generator) -> tuple:
    """(a, b) index tensors of n_pairs pairs of distinct images, a uniform over the eligible images
    and b uniform over the other images (of a's class when same_class)."""
    if not same_class:
        if n_images < 2:
            raise MetricSkipped(f"interpolation pairs need at least 2 novel-domain test images, found {n_images}")
        a = torch.randint(0, n_images, (n_pairs,), generator=generator)
        b = (a + 1 + torch.randint(0, n_images - 1, (n_pairs,), generator=generator)) % n_images
        return a, b
    labels = torch.as_tensor(labels).cpu()
    order = torch.argsort(labels, stable=True)
    classes, counts = torch.unique_consecutive(labels[order], return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    member_class = torch.repeat_interleave(torch.arange(len(classes)), counts)  # class index per sorted position
    eligible = torch.nonzero(counts[member_class] >= 2).flatten()  # sorted positions in classes of >= 2
    if eligible.numel() == 0:
        raise MetricSkipped("same-class interpolation pairs need a class with at least 2 novel-domain test images; none has (use pairing 'any')")
    pos_a = eligible[torch.randint(0, eligible.numel(), (n_pairs,), generator=generator)]
    cls = member_class[pos_a]
    count, start = counts[cls], starts[cls]
    step = 1 + (torch.rand(n_pairs, generator=generator, dtype=torch.float64) * (count - 1)).long().clamp(max=count - 2)
    pos_b = start + (pos_a - start + step) % count
    return order[pos_a], order[pos_b]


def _split_note(domain) -> str:
    return domain.split_note("test") if hasattr(domain, "split_note") else f"all {len(domain.test)} test images"


@torch.no_grad()
def _interpolate(ctx) -> GeneratedSet:
    if ctx.pairing not in PAIRINGS:
        raise BenchError(f"Unknown FID pairing {ctx.pairing!r}. Valid pairings: {', '.join(PAIRINGS)}.")
    n = ctx.evaluation.fid_images
    split = ctx.novel_domain.test
    n_pairs = math.ceil(n / len(ALPHAS))
    same_class = ctx.pairing == "same-class" and split.labels is not None
    a, b = draw_pairs(split.labels, len(split), n_pairs, same_class, ctx.generator("fid-pairs"))
    out = []
    device = ctx.device
    bar = ctx.encoding_bar(2 * n_pairs, "encoding FID pairs") if hasattr(ctx, "encoding_bar") else None
    for i in range(0, n_pairs, CHUNK):
        x_a = split.images[a[i : i + CHUNK]].to(device).float().div_(255.0)
        x_b = split.images[b[i : i + CHUNK]].to(device).float().div_(255.0)
        z_a, z_b = ctx.encode(x_a), ctx.encode(x_b)
        if bar is not None:
            bar.update(2 * x_a.shape[0])
        points = [ctx.model.decode(ctx.model.interpolate(z_a, z_b, alpha)).float().clamp(0, 1).cpu() for alpha in ALPHAS]
        out.append(torch.stack(points, dim=1).flatten(0, 1))  # pair-major: the 3 points of a pair are adjacent
    if bar is not None:
        bar.close()
    images = torch.cat(out)[:n]
    if ctx.pairing == "same-class" and split.labels is None:
        rule = "any two distinct images (same-class requested; the novel test split has no labels)"
    else:
        rule = "two distinct images of the same class" if same_class else "any two distinct images"
    protocol = {
        "source": "interpolations of novel-domain test pairs: decode(interpolate(encode(x_a), encode(x_b), alpha))",
        "generated": int(images.shape[0]),
        "pairs": n_pairs,
        "alphas": list(ALPHAS),
        "pairing": rule,
        "source_images": f"{ctx.novel_domain.name} test split: {_split_note(ctx.novel_domain)}",
        "encoder": ctx.encoder,
        "seed": ctx.seed,
        "rng": "fid-pairs",
    }
    sources = [{"source_a": int(a[p]), "source_b": int(b[p]), "alpha": alpha} for p in range(n_pairs) for alpha in ALPHAS][:n]
    return GeneratedSet(images, protocol, sources)

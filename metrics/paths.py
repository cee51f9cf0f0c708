"""Interpolation paths shared by the path metrics (admissibility, ground truth, ACAI lines).

Every path metric looks at the same thing: a pair of test images (x_a, x_b), their latents
z_a = E(x_a), z_b = E(x_b), and the decoded path G(interp(z_a, z_b, alpha)) on the grid
alpha = 0, 1/16, ..., 1 (17 points, the grid of AEAI's pole figures). This module draws the pairs
(randomness only from `ctx.generator`), encodes them in batches through `ctx.encode` (a GAN's
inversion or the oracle encoder when the evaluation selects it) and decodes paths in batches of
whole paths, so no metric loops over images in Python.

`novel_pair_latents` caches the random novel-domain pairs and their latents in `ctx.shared`:
admissibility and the ACAI lines scores use the same pairs and encode them once.
"""

from __future__ import annotations

from typing import Iterator, Optional

import torch

PATH_STEPS = 17  # alpha = k / 16, k = 0..16 (AEAI's pole evaluation)
DECODE_BATCH = 256  # images per decoder call
ENCODE_BATCH = 256


def path_alphas(steps: int = PATH_STEPS) -> torch.Tensor:
    """alpha = 0, 1/(steps-1), ..., 1 as float32 (k/16 is exact in float32)."""
    if steps < 2:
        raise ValueError(f"a path needs at least 2 points, got {steps}")
    return torch.arange(steps, dtype=torch.float32) / (steps - 1)


def random_pairs(n_images: int, n_pairs: int, generator: torch.Generator) -> tuple:
    """(index_a, index_b), each (n_pairs,) int64: ordered pairs of two DIFFERENT images drawn
    uniformly (index_b is uniform over the other n_images - 1 images)."""
    if n_images < 2:
        raise ValueError(f"drawing pairs needs at least 2 images, got {n_images}")
    index_a = torch.randint(n_images, (n_pairs,), generator=generator)
    index_b = torch.randint(n_images - 1, (n_pairs,), generator=generator)
    return index_a, index_b + (index_b >= index_a).long()


@torch.no_grad()
def encode_batched(ctx, x: torch.Tensor, batch_size: int = ENCODE_BATCH) -> torch.Tensor:
    """ctx.encode over x in batches (one call per batch, none per image)."""
    return ctx.encode_many(x, batch_size, "encoding path ends")


@torch.no_grad()
def decode_paths(model, z_a: torch.Tensor, z_b: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Decoded paths (P, T, C, H, W) as float for latents z_a, z_b (P, ...) and alphas (T,):
    row (p, t) is decode(interpolate(z_a[p], z_b[p], alphas[t])). One interpolate and one decode
    call for all P * T points (the caller bounds P * T by batching pairs)."""
    P, T = z_a.shape[0], alphas.shape[0]
    rep = lambda z: z.unsqueeze(1).expand(P, T, *z.shape[1:]).reshape(P * T, *z.shape[1:])
    alpha = alphas.to(z_a.device).repeat(P)  # (P*T,): alphas[t] for row p*T + t
    out = model.decode(model.interpolate(rep(z_a), rep(z_b), alpha)).float()
    return out.view(P, T, *out.shape[1:])


def iter_paths(model, z_a: torch.Tensor, z_b: torch.Tensor, alphas: torch.Tensor, images_per_batch: int = DECODE_BATCH) -> Iterator:
    """Yield (pair slice, decoded paths (b, T, C, H, W)) over the pairs, whole paths per batch and
    about `images_per_batch` decoded images per decoder call."""
    pairs_per_batch = max(1, images_per_batch // alphas.shape[0])
    for start in range(0, z_a.shape[0], pairs_per_batch):
        sl = slice(start, start + pairs_per_batch)
        yield sl, decode_paths(model, z_a[sl], z_b[sl], alphas)


def novel_pair_latents(ctx, n_pairs: Optional[int] = None) -> dict:
    """Random ordered pairs of different novel-domain test images and their latents, drawn once
    per context (ctx.shared) from ctx.generator("novel-path-pairs") over the novel domain's test
    images (`ctx.test_images`: at most the budget's eval_images, a stratified random subset of the
    split where it is capped). Keys: index_a, index_b (CPU int64), z_a, z_b, n_images, drawn."""
    n_pairs = int(ctx.evaluation.path_pairs if n_pairs is None else n_pairs)

    def build():
        x = ctx.test_images("novel")
        index_a, index_b = random_pairs(x.shape[0], n_pairs, ctx.generator("novel-path-pairs"))
        dev_a, dev_b = index_a.to(x.device), index_b.to(x.device)
        z = encode_batched(ctx, torch.cat([x[dev_a], x[dev_b]]))
        return {"index_a": index_a, "index_b": index_b, "z_a": z[:n_pairs], "z_b": z[n_pairs:], "n_images": int(x.shape[0]), "drawn": ctx.test_split_note("novel")}

    return ctx.shared(f"paths:novel-pairs:{n_pairs}", build)


def pair_protocol(pairs: dict, steps: int = PATH_STEPS) -> dict:
    """The protocol entries every metric on `novel_pair_latents` pairs records."""
    return {
        "pairs": int(pairs["z_a"].shape[0]),
        "pairing": f"ordered pairs of two different novel-domain test images, uniform over {pairs['n_images']} test images ({pairs.get('drawn', 'the test split')}), ctx.generator('novel-path-pairs')",
        "alphas": f"{steps} points, alpha = k/{steps - 1}, k = 0..{steps - 1}",
        "path": "decode(model.interpolate(E(x_a), E(x_b), alpha))",
    }

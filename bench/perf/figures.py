"""The non-training figures: augmentation triplets, Inception features, Fréchet distance.

- augmentation: `AugmentationEngine.triplets` on batches of a device-resident uint8 tensor
  (converted as `TrainBatch` does) vs `bench.augment_reference.reference_loader` producing the
  same kind of (A, B, C, alpha) batches, one image and one torchvision call at a time, each
  batch copied to the device. Images/s counts source images (each yields one triplet).
- Inception features: pytorch-fid's pool3 extractor as the FID metric uses it (batches of 50 on
  a CPU, 200 on CUDA) vs the same network called on one image at a time. Skipped, with the
  reason in the note, when the weights file is not in torch's hub cache.
- Fréchet distance: the suite's float64 torch route on the device vs pytorch-fid's scipy
  `sqrtm` on the CPU, on the statistics of two sets of random features; the note gives how
  closely the two values agree.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

from bench.augment import AugmentationEngine, make_generator
from bench.augment_reference import reference_loader
from bench.perf.measure import alternate
from bench.perf.report import Figure

CHARACTERS = (1, 28, 28)


def random_images(n: int, shape: tuple = CHARACTERS, seed: int = 0) -> torch.Tensor:
    """(n, *shape) uniform random uint8 images on the CPU: throughput does not depend on content."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)


def augmentation_figure(device: torch.device, images: int, reference_images: int, batch_size: int, workers: int, reps: int, seed: int = 0) -> Figure:
    """Triplets/s of the batched engine vs the per-sample reference DataLoader (characters)."""
    engine = AugmentationEngine.for_images(CHARACTERS)
    cpu_images = random_images(max(images, reference_images), seed=seed)
    on_device = cpu_images[:images].to(device)
    generator = make_generator(seed, device)

    def engine_call() -> int:
        for i in range(0, images, batch_size):
            engine.triplets(on_device[i : i + batch_size].div(255.0), generator)
        return images

    extra = {"persistent_workers": True} if workers > 0 else {}
    loader = reference_loader(cpu_images[:reference_images], engine, batch_size=batch_size, num_workers=workers, seed=seed, pin_memory=device.type == "cuda", **extra)

    def reference_call() -> int:
        count = 0
        for batch in loader:
            [t.to(device, non_blocking=True) for t in batch]
            count += batch[0].shape[0]
        return count

    fig, base = alternate(engine_call, reference_call, reps, device)
    workers_text = f"{workers} workers" if workers else "no workers"
    return Figure.from_sides(
        "augment/triplets", "images/s", f"per-sample torchvision DataLoader ({workers_text})", fig, base,
        note=f"1x28x28 characters, batch {batch_size}, {images} / {reference_images} images per call",
    )  # fmt: skip


INCEPTION_FIGURE = "fid/inception_features"
INCEPTION_BASELINE = "same network, one image per call"


def inception_figure(device: torch.device, images: int, single_images: int, reps: int, seed: int = 0) -> Figure:
    """Inception pool3 features/s as the FID metric extracts them vs one image per call."""
    from metrics.base import MetricSkipped
    from metrics.inception import check_inception_weights, inception_extractor

    try:
        check_inception_weights(require=False)
        extractor = inception_extractor(SimpleNamespace(device=device, require_fid=False))
    except MetricSkipped as exc:
        return Figure(INCEPTION_FIGURE, "images/s", INCEPTION_BASELINE, note=f"skipped: {exc}")
    data = random_images(max(images, single_images), seed=seed).to(device)

    def batched() -> int:
        extractor.features(data[:images])
        return images

    def one_at_a_time() -> int:
        for i in range(single_images):
            extractor.features(data[i : i + 1])
        return single_images

    fig, base = alternate(batched, one_at_a_time, reps, device)
    return Figure.from_sides(
        INCEPTION_FIGURE, "images/s", INCEPTION_BASELINE, fig, base,
        note=f"1x28x28 uint8 -> 299x299, batches of {extractor.batch_size}; {images} / {single_images} images per call",
    )  # fmt: skip


def random_statistics(dim: int, device: torch.device, seed: int = 0) -> tuple:
    """(mu1, sigma1, mu2, sigma2) of two sets of 2 * dim random features (full-rank covariances)."""
    from metrics.frechet import feature_statistics

    g = torch.Generator().manual_seed(seed)
    first = torch.randn(2 * dim, dim, generator=g, dtype=torch.float64)
    second = torch.randn(2 * dim, dim, generator=g, dtype=torch.float64) * 1.1 + 0.1
    return (*feature_statistics(first.to(device)), *feature_statistics(second.to(device)))


def frechet_figure(device: torch.device, dim: int, reps: int, seed: int = 0) -> Figure:
    """Seconds per Fréchet distance: torch float64 on the device vs pytorch-fid's scipy route."""
    from metrics.frechet import frechet_distance, frechet_distance_scipy

    stats = random_statistics(dim, device, seed)
    values = {}

    def torch_route() -> int:
        values["torch"] = frechet_distance(*stats)
        return 1

    def scipy_route() -> int:
        values["scipy"] = frechet_distance_scipy(*stats)
        return 1

    # On a CPU both routes are plain LAPACK calls of tens of seconds at 2048-d: no warm-up call.
    fig, base = alternate(torch_route, scipy_route, reps, device, warmup=device.type != "cpu")
    agreement = abs(values["torch"] - values["scipy"]) / abs(values["scipy"])
    return Figure.from_sides(
        "fid/frechet_distance", "s", "pytorch-fid scipy sqrtm (CPU, float64)", fig, base, precision="fp64",
        note=f"{dim}-d statistics of random features; torch and scipy agree to {agreement:.1e} relative",
    )  # fmt: skip

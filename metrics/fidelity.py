"""Image quality and domain fidelity of generated images (AugIntAE Table 2, appendix A.3).

- `fid`: Fréchet distance of pytorch-fid Inception pool3 features between the generated images
  (metrics.generated) and the novel domain's test images. Needs the Inception weights file
  (metrics.inception); without it the metric is skipped with one message (or the run fails with
  exit 2 when FID is required).
- `fid_domain`: the same distance on the pair's domain-classifier features. Works offline, but it
  is NOT the paper's FID and is not comparable to it; pytorch-fid's maintainers suggest such
  features for MNIST-like data, where Inception (ImageNet photographs) is questionable.
- `misclassification`: % of generated images the domain classifier assigns to the training domain
  (paper: "captures likelihood of belonging to the wrong domain"); with the classifier's held-out
  accuracy as `domain_classifier_accuracy` (%), which bounds how far the score can be trusted.

Reference images: min(test images loaded, fid_images) of the novel domain's test images as the
run loaded them (the whole split, or where the budget caps it a seeded random subset stratified
by label), drawn without replacement with a fixed seed (0, shared by all runs, so reference
statistics are cached once per domain). The paper compares 5,000 generated images with "the test set" without a count; equal
counts keep FID's small-sample bias the same on both sides, and smaller budgets (fewer images)
give higher FIDs than the paper's protocol, which their protocol records.
"""

from __future__ import annotations

import torch

from bench import randomness
from metrics.base import MetricValue, register_metric
from metrics.domain_classifier import applies as two_domains
from metrics.domain_classifier import get_domain_classifier
from metrics.frechet import feature_statistics, frechet_distance
from metrics.generated import generated_images, generation_protocol
from metrics.inception import FeatureExtractor, inception_extractor, reference_statistics

REFERENCE_SEED = 0
PAPER_FID_IMAGES = 5000
DOMAIN_FID_LABEL = "Fréchet distance on the suite's domain-classifier features; works offline; not comparable to Inception FID"


def reference_indices(ctx) -> torch.Tensor:
    """Indices into the novel test split (as loaded) of the images FID compares against."""
    split = ctx.novel_domain.test
    n = min(len(split), ctx.evaluation.fid_images)
    return torch.randperm(len(split), generator=randomness.seeded(REFERENCE_SEED))[:n].sort().values


def reference_images(ctx) -> tuple:
    """(uint8 images, description): the novel test images FID compares against."""
    split = ctx.novel_domain.test
    index = reference_indices(ctx)
    n = len(index)
    what = (
        f"{n} of the {len(split)} {ctx.novel_domain.name} test images loaded ({ctx.test_split_note('novel')}), "
        f"drawn without replacement (fixed seed {REFERENCE_SEED})"
    )
    return split.images[index], what


def _common_protocol(ctx, n_reference: str, frechet_device) -> dict:
    protocol = {
        "generated": generation_protocol(ctx),
        "reference": n_reference,
        "frechet": f"torch float64, eigenvalues of S1^1/2 S2 S1^1/2, on {frechet_device}",
        "budget": ctx.budget.name,
    }
    if ctx.evaluation.fid_images < PAPER_FID_IMAGES:
        protocol["note"] = f"{ctx.evaluation.fid_images} generated images (paper: {PAPER_FID_IMAGES}); FID is biased upward at small counts"
    return protocol


def fid_score(ctx, extractor: FeatureExtractor) -> MetricValue:
    """FID of the generated images against the cached reference statistics, with `extractor`."""
    ref, ref_what = reference_images(ctx)
    mu_r, sigma_r = reference_statistics(ctx, extractor, ctx.novel_domain.name, "test", ref)
    mu_g, sigma_g = feature_statistics(extractor.features(generated_images(ctx)))
    value = frechet_distance(mu_g, sigma_g, mu_r, sigma_r)
    protocol = {"extractor": extractor.label, "resize": extractor.resize, **_common_protocol(ctx, ref_what, sigma_r.device)}
    return MetricValue(value, protocol)


@register_metric(
    "fid",
    "FID (pytorch-fid Inception pool3) of generated images vs novel-domain test images (paper Table 2)",
    keys={"fid": ("lower", "FID (Inception)")},
)
def fid_metric(ctx) -> dict:
    extractor = inception_extractor(ctx)  # first: a missing weights file skips before any work
    return {"fid": fid_score(ctx, extractor)}


@register_metric(
    "fid_domain",
    "Fréchet distance on domain-classifier features (offline; not the paper's FID)",
    applies=two_domains,
    keys={"fid_domain": ("lower", "domain FID")},
)
def fid_domain_metric(ctx) -> dict:
    classifier = get_domain_classifier(ctx)
    ref, ref_what = reference_images(ctx)
    # images stay on the CPU (the classifier moves batches); statistics on the classifier's device
    mu_r, sigma_r = feature_statistics(classifier.features(ref).to(classifier.device))
    mu_g, sigma_g = feature_statistics(classifier.features(generated_images(ctx)).to(classifier.device))
    value = frechet_distance(mu_g, sigma_g, mu_r, sigma_r)
    protocol = {
        "definition": DOMAIN_FID_LABEL,
        "extractor": f"domain classifier last hidden layer ({mu_r.numel()}-d)",
        "classifier": classifier.protocol,
        **_common_protocol(ctx, ref_what, sigma_r.device),
    }
    return {"fid_domain": MetricValue(value, protocol)}


@register_metric(
    "misclassification",
    "% of generated images the domain classifier assigns to the training domain (paper Table 2)",
    applies=two_domains,
    keys={
        "misclassification": ("lower", "misclassified as training domain (%)"),
        "domain_classifier_accuracy": (None, "domain classifier accuracy (%)"),
    },
)
def misclassification_metric(ctx) -> dict:
    classifier = get_domain_classifier(ctx)
    images = generated_images(ctx)
    p_novel = classifier.prob_novel(images)
    value = 100.0 * (p_novel < 0.5).float().mean().item()
    accuracy = 100.0 * classifier.accuracy
    protocol = {
        "definition": f"% of generated images with P(novel domain) < 0.5 under the {ctx.pair.train} vs {ctx.pair.novel} classifier",
        "classifier": classifier.protocol,
        "classifier_accuracy_percent": accuracy,
        "generated": generation_protocol(ctx),
    }
    return {
        "misclassification": MetricValue(value, protocol),
        "domain_classifier_accuracy": MetricValue(accuracy, {"definition": "balanced held-out accuracy (%) of the domain classifier on both test splits", "classifier": classifier.protocol}),
    }

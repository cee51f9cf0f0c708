"""The pair's binary domain classifier: training domain (class 0) vs novel domain (class 1).

AugIntAE appendix A.3: "a binary classifier to distinguish whether the images come from the train
distribution or the test set ... the same architecture as other experiments" (A.1). Here: the
suite's encoder backbone with two outputs (`models.backbones.make_encoder(shape, 2)`), trained
with cross-entropy and Adam (lr 1e-3) for the budget's `classifier_steps` updates of 64 images,
32 from each domain's TRAIN split (balanced classes whatever the split sizes). Held-out accuracy is
measured on the TEST images of both domains as the run loaded them (at most the budget's
eval_images: a seeded random subset stratified by label where that caps the split) and reported as
the mean of the two per-domain accuracies (balanced accuracy).

One classifier serves every run of a pair: it is trained with a fixed seed (0, not the run seed),
cached on disk under cache_dir/domain_classifiers keyed by everything that changes it, written
atomically, and trained under a file lock so that two processes evaluating the same pair train it
once. It applies only to pairs with two domains (synthetic pairs have one).

Features for domain FID: the last hidden layer, i.e. the input of the final layer. For 28x28
images (InfoGAN encoder) that is the 1024-d activation after the last BatchNorm + LeakyReLU; for
DCGAN encoders (32x32 and up) the 512x4x4 activation before the final 4x4 convolution, averaged
over its 4x4 positions to 512-d (as Inception's pool3 averages its last map; the flattened 8192-d
map would make the covariance 16x larger to estimate and its square root 64x slower).

Deviations from the paper. Its classifier is trained "on the combined train and test datasets"
(section 5.1): every image of both domains, so the novel-domain images its interpolations start
from were in its training data; and, by appendix A.1's rule for every network on real images
"unless stated otherwise", for 100 passes with the learning rate cut 10x at epochs 35 and 70. The
suite holds the test splits out (they are the interpolation seeds and measure the accuracy) and
trains for the budget's `classifier_steps` updates at a constant rate. The paper gives neither the
batch size nor whether classes were balanced. What this changes is measured in
leaderboards/reproduce.md ("Next to the paper: the domain classifier").
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench import randomness
from bench.atomic import file_lock, torch_save
from metrics.base import MetricSkipped
from models.backbones import make_encoder

CLASSIFIER_SEED = 0
BATCH_SIZE = 64
LR = 1e-3
VERSION = 1  # bump when the training procedure changes: old cache files are then ignored
EVAL_BATCH = 500

def applies(ctx) -> bool:
    return not ctx.pair.one_domain


def _as_float(x: torch.Tensor, device) -> torch.Tensor:
    x = x.to(device)
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def _split_penultimate(net: nn.Sequential) -> tuple:
    """(body, head): body(x) is the last hidden layer, head maps it to the logits."""
    layers = list(net)
    i = len(layers) - 1
    while isinstance(layers[i], nn.Flatten):
        i -= 1
    if not isinstance(layers[i], (nn.Linear, nn.Conv2d)):
        raise TypeError(f"expected the encoder to end in a linear or convolutional layer, found {type(layers[i]).__name__}")
    return nn.Sequential(*layers[:i]), nn.Sequential(*layers[i:])


class DomainClassifier:
    """A trained classifier; inputs are images in [0, 1] (float) or uint8, outputs are on the
    input's device. `accuracy` is the balanced held-out accuracy as a fraction in [0, 1]."""

    def __init__(self, net: nn.Sequential, accuracy: float, protocol: dict):
        self.net = net.eval()
        self.accuracy = float(accuracy)
        self.protocol = protocol
        self.device = next(net.parameters()).device
        self._body, _ = _split_penultimate(net)

    @torch.no_grad()
    def _batched(self, fn, x: torch.Tensor) -> torch.Tensor:
        out = [fn(_as_float(x[i : i + EVAL_BATCH], self.device)) for i in range(0, x.shape[0], EVAL_BATCH)]
        return torch.cat(out).to(x.device)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._batched(self.net, x)

    def prob_novel(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) probability that each image belongs to the novel domain."""
        return self._batched(lambda b: self.net(b).softmax(dim=1)[:, 1], x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) last-hidden-layer features (spatial maps averaged over positions)."""

        def feats(b):
            h = self._body(b)
            return h.mean(dim=(2, 3)) if h.dim() == 4 else h

        return self._batched(feats, x)


@torch.enable_grad()  # metrics run under no_grad; the first one to need the classifier trains it
def _train(image_shape, train_images: torch.Tensor, novel_images: torch.Tensor, steps: int, device, seed: int) -> nn.Sequential:
    """`steps` Adam updates of balanced batches; deterministic given the seed (weights are
    initialised on the CPU, so the start is the same on every device)."""
    with torch.random.fork_rng(devices=[]):
        randomness.seed_model_init(seed)
        net = make_encoder(image_shape, 2)
    net = net.to(device).train()
    generator = randomness.seeded(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    half = BATCH_SIZE // 2
    targets = torch.cat([torch.zeros(half, dtype=torch.long), torch.ones(half, dtype=torch.long)]).to(device)
    for _ in range(steps):
        i = torch.randint(0, train_images.shape[0], (half,), generator=generator)
        j = torch.randint(0, novel_images.shape[0], (half,), generator=generator)
        x = _as_float(torch.cat([train_images[i], novel_images[j]]), device)
        loss = F.cross_entropy(net(x), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return net.eval()


def _cache_key(ctx, n_eval) -> dict:
    return {
        "version": VERSION,
        "pair": ctx.pair.name,
        "train_domain": ctx.train_domain.name,
        "novel_domain": ctx.novel_domain.name,
        "image_shape": list(ctx.image_shape),
        "steps": int(ctx.evaluation.classifier_steps),
        "batch_size": BATCH_SIZE,
        "lr": LR,
        "train_images": [len(ctx.train_domain.train), len(ctx.novel_domain.train)],
        "test_images": list(n_eval),
        "test_drawn": [ctx.test_split_note("train"), ctx.test_split_note("novel")],
        "seed": CLASSIFIER_SEED,
    }


def _load(path: Path, key: dict, image_shape, device):
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        if saved["key"] != key:
            return None
        net = make_encoder(image_shape, 2).to(device)
        net.load_state_dict(saved["state_dict"])
        return DomainClassifier(net, saved["accuracy"], saved["protocol"])
    except Exception:  # unreadable or from another version: train again and overwrite
        return None


def _build(ctx) -> DomainClassifier:
    if not applies(ctx):
        raise MetricSkipped(f"pair {ctx.pair.name!r} has a single domain ({ctx.pair.train}): no domain classifier")
    cap = ctx.evaluation.eval_images
    tests = [d.test.images[:cap] if cap else d.test.images for d in (ctx.train_domain, ctx.novel_domain)]
    key = _cache_key(ctx, [t.shape[0] for t in tests])
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(ctx.cache_dir) / "domain_classifiers" / f"{ctx.pair.name}-{digest}.pt"
    device = torch.device(ctx.device)
    with file_lock(path.with_suffix(".lock"), f"the domain-classifier cache in {path.parent}", "Choose a cache folder you can write to (BENCH_CACHE_DIR)."):
        found = _load(path, key, ctx.image_shape, device)
        if found is not None:
            return found
        net = _train(ctx.image_shape, ctx.train_domain.train.images, ctx.novel_domain.train.images, key["steps"], device, CLASSIFIER_SEED)
        probe = DomainClassifier(net, 0.0, {})
        acc_train = (probe.prob_novel(tests[0]) < 0.5).float().mean().item()
        acc_novel = (probe.prob_novel(tests[1]) >= 0.5).float().mean().item()
        accuracy = (acc_train + acc_novel) / 2
        protocol = {
            "classifier": "binary domain classifier, suite encoder backbone (models.backbones.make_encoder(shape, 2))",
            "trained_on": f"{ctx.train_domain.name} train ({key['train_images'][0]} images) vs {ctx.novel_domain.name} train ({key['train_images'][1]} images), balanced batches of {BATCH_SIZE}",
            "optimizer": f"Adam lr {LR}, cross-entropy, {key['steps']} updates, seed {CLASSIFIER_SEED}",
            "held_out": f"test images: {key['test_images'][0]} {ctx.train_domain.name} ({key['test_drawn'][0]}) + {key['test_images'][1]} {ctx.novel_domain.name} ({key['test_drawn'][1]})",
            "accuracy_train_domain": acc_train,
            "accuracy_novel_domain": acc_novel,
            "balanced_accuracy": accuracy,
        }
        torch_save({"key": key, "state_dict": net.state_dict(), "accuracy": accuracy, "protocol": protocol}, path)
        return DomainClassifier(net, accuracy, protocol)


def get_domain_classifier(ctx) -> DomainClassifier:
    """The pair's domain classifier (trained once per pair and budget, then loaded from the cache;
    MetricSkipped on single-domain pairs)."""
    return ctx.shared("domain_classifier", lambda: _build(ctx))

"""Domain pairs (training domain -> novel domain) the suite benchmarks.

A model trains on the training domain's train split; metrics evaluate on the test splits of both
domains. On the synthetic pairs the novel domain is the same domain's held-out test split, as in
ACAI (lines) and AEAI (pole): those pairs measure interpolation against ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PairSpec:
    name: str
    train: str
    novel: str
    description: str
    augment_padding: str = "zeros"  # CIFAR images are symmetric-padded in the paper

    @property
    def one_domain(self) -> bool:
        """True for pairs whose novel domain is the training domain (lines, pole): no domain
        classifier, and an oracle trained on the novel domain repeats its counterpart."""
        return self.train == self.novel


PAIRS = {
    p.name: p
    for p in (
        PairSpec("mnist-emnist", "mnist", "emnist-letters", "MNIST digits -> EMNIST letters (paper Tables 1-3)"),
        PairSpec("omniglot", "omniglot-background", "omniglot-evaluation", "Omniglot background -> evaluation alphabets"),
        PairSpec("mnist-fashion", "mnist", "fashion-mnist", "MNIST digits -> Fashion-MNIST clothes (far domain shift)"),
        PairSpec("mnist-omniglot", "mnist", "omniglot-evaluation", "MNIST digits -> Omniglot evaluation alphabets"),
        PairSpec("cifar10-cifar100", "cifar10", "cifar100", "CIFAR-10 -> CIFAR-100 at 64x64 (paper Table 2)", "reflection"),
        PairSpec("celeba", "celeba-male", "celeba-female", "CelebA male -> female faces at 128x128 (paper Table 2)"),
        PairSpec("lines", "lines", "lines", "ACAI's synthetic lines, 32x32 (ground-truth interpolation)"),
        PairSpec("pole", "pole", "pole", "AEAI-style synthetic pole and shadow, 64x64 (ground-truth interpolation)"),
    )
}

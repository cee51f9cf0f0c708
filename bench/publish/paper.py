"""Numbers published in the AugIntAE paper, to print beside ours (data only; no models imported).

Source: Wertheimer, Poursaeed & Hariharan, "Augmentation-Interpolative AutoEncoders for
Unsupervised Few-shot Image Generation", ICLR 2021 submission (OpenReview o2N6AYOp31), as
transcribed in ../shared/seeds/001_*.txt (the text copy carries no page numbers, so each number
cites its table and section).

- Table 1 (Section 4, "Average AE per-pixel L2 reconstruction error (normalized to [0, 255])"):
  rows are training sets, columns evaluation sets. Our `recon_l2_train` is the row's own column,
  `recon_l2_novel` the pair's novel-domain column. The paper's "# images" row gives whole
  datasets (MNIST 60,000, Omniglot 19,280 / 13,180), so its numbers may be on training images;
  ours are on each domain's test split. The rows are the plain AE (our `ae`) and "MNIST (VAE)".
- Table 2 (Section 5.1, "FID score and train/test classification error"): columns WGAN-GP
  (train) = `wgan-gp`, AE (the AE with the auxiliary GAN loss, Section 5) = `ae-gan`, IntAE =
  `intae`, AugIntAE = `augintae`, WGAN-GP (test) = `wgan-gp-oracle`; FID = our `fid` (5,000
  generated images) and misclassification rate in percentage points = our `misclassification`.

The paper gives no confidence intervals or seed counts for these tables. `CAVEATS` name the protocol
differences measured in leaderboards/reproduce.md that separate its values from ours.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER = "Wertheimer et al., AugIntAE (ICLR 2021 submission)"
TABLE1 = "AugIntAE Table 1 (Section 4)"
TABLE2 = "AugIntAE Table 2 (Section 5.1)"


@dataclass(frozen=True)
class Published:
    pair: str
    model: str
    metric: str
    value: float
    source: str
    note: str = ""


def _table1() -> list:
    # (pair, model, paper row, training-domain column, its value, novel-domain column, its value)
    rows = [
        ("mnist-emnist", "ae", "MNIST", "MNIST", 2.69, "EMNIST", 13.48),
        ("mnist-emnist", "vae", "MNIST (VAE)", "MNIST", 5.92, "EMNIST", 23.10),
        ("mnist-omniglot", "ae", "MNIST", "MNIST", 2.69, "Omni (test)", 11.58),
        ("mnist-omniglot", "vae", "MNIST (VAE)", "MNIST", 5.92, "Omni (test)", 17.91),
        ("omniglot", "ae", "Omniglot (train)", "Omni (train)", 2.13, "Omni (test)", 8.30),
        ("cifar10-cifar100", "ae", "CIFAR-10", "CIFAR-10", 7.58, "CIFAR-100", 9.09),
    ]
    out = []
    for pair, model, row, train_col, train, novel_col, novel in rows:
        out.append(Published(pair, model, "recon_l2_train", train, TABLE1, f"row {row}, column {train_col}"))
        out.append(Published(pair, model, "recon_l2_novel", novel, TABLE1, f"row {row}, column {novel_col}"))
    return out


_TABLE2_MODELS = ("wgan-gp", "ae-gan", "intae", "augintae", "wgan-gp-oracle")
_TABLE2_FID = {
    "mnist-emnist": (25.0, 16.7, 21.5, 12.3, 8.3),
    "omniglot": (86.9, 87.1, 86.7, 82.5, 80.0),
    "celeba": (86.9, 26.1, 24.0, 21.1, 15.4),
    "cifar10-cifar100": (54.3, 53.8, 52.1, 47.9, 42.0),
}
_TABLE2_MISCLASSIFICATION = {
    "mnist-emnist": (96.5, 4.1, 2.7, 2.4, 0.5),
    "omniglot": (78.5, 9.4, 10.3, 7.9, 24.8),
    "celeba": (89.6, 10.6, 29.3, 8.9, 8.3),
    "cifar10-cifar100": (72.9, 18.5, 19.8, 13.7, 15.3),
}
_TABLE2_COLUMNS = ("WGAN-GP (train)", "AE", "IntAE", "AugIntAE", "WGAN-GP (test)")


def _table2() -> list:
    out = []
    for metric, table in (("fid", _TABLE2_FID), ("misclassification", _TABLE2_MISCLASSIFICATION)):
        for pair, values in table.items():
            for model, column, value in zip(_TABLE2_MODELS, _TABLE2_COLUMNS, values):
                out.append(Published(pair, model, metric, value, TABLE2, f"column {column}"))
    return out


PUBLISHED = tuple(_table1() + _table2())


@dataclass(frozen=True)
class Caveat:
    """A known protocol difference that moves a published number and ours apart whatever the
    models do; printed under the pair's "Next to the paper" table when the metric is in it."""

    metric: str
    pairs: tuple  # the pairs it applies to; empty: every pair with that published metric
    text: str


CAVEATS = (
    Caveat(
        "misclassification",
        (),
        "`misclassification`: the paper trains its domain classifier on every image of both domains, the novel-domain "
        "test images its interpolations start from included, for 100 passes (Section 5.1, appendix A.1); the suite "
        "trains on the training splits only and checks it on the held-out test splits. A classifier that has "
        "memorized the seeds calls blends of them training-domain far less often (on Omniglot, pixel fade drops from "
        "38% to 12%), so compare this metric with the paper's by ranking, not by value.",
    ),
    Caveat(
        "fid",
        ("omniglot",),
        "`fid` on Omniglot: the suite compares 28 px images with 28 px test drawings. The paper does not say what its "
        "reference images were, and its Omniglot FIDs (80.0 to 87.1 for every model) are where 28 px images land "
        "against the 105 px original drawings: real 28 px drawings of the novel domain score about 83 that way, "
        "and about 16 against 28 px drawings (500 images each). Compare FID on Omniglot by ranking, not by value.",
    ),
)


def caveats_for(pair: str, metrics) -> list:
    """The caveats' texts for the published `metrics` shown beside ours on `pair`."""
    shown = set(metrics)
    return [c.text for c in CAVEATS if c.metric in shown and (not c.pairs or pair in c.pairs)]


def published_for(pair: str) -> dict:
    """{(model, metric): Published} for one pair."""
    return {(p.model, p.metric): p for p in PUBLISHED if p.pair == pair}

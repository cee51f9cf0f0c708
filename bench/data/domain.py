"""The in-memory form of a domain: uint8 image tensors, labels and ground-truth parameters.

Every loader (real or synthetic) returns a `DomainData`. Images are stored once, as a single
uint8 tensor of shape (N, C, H, W), so that the trainer can move a whole split to the device and
draw batches by indexing: no per-sample Python in the hot loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

from bench import randomness
from bench.randomness import subset_seed
from bench.lazy import lazy_module

torch = lazy_module("torch")  # imported on first use: listing domains needs no torch




@dataclass
class Split:
    """One split of a domain. `labels` and `params` are None where the domain has none."""

    images: torch.Tensor  # uint8, (N, C, H, W)
    labels: Optional[torch.Tensor] = None  # int64, (N,)
    params: Optional[torch.Tensor] = None  # float64, (N, P): ground-truth generative parameters

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        n = self.images.shape[0]
        for what, t in (("labels", self.labels), ("params", self.params)):
            if t is not None and t.shape[0] != n:
                raise ValueError(f"{what} has {t.shape[0]} rows for {n} images")

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, n: Optional[int]) -> "Split":
        """The first n items (all when n is None or larger than the split)."""
        if n is None or n >= len(self):
            return self
        return Split(
            self.images[:n],
            None if self.labels is None else self.labels[:n],
            None if self.params is None else self.params[:n],
        )

    def sample(self, n: Optional[int], seed: int) -> "Split":
        """n items drawn uniformly at random with a fixed seed, stratified by label (the whole
        split when n is None or not smaller than it).

        Every label present is drawn at least once when n >= the number of labels; beyond that,
        each label receives about n * (its share of the split). Items come out in the draw's
        order (not file order), so any prefix of the result is again such a sample. Splits
        without labels give a plain uniform random subset. See `stratified_order`."""
        if n is None or n >= len(self):
            return self
        index = stratified_order(self.labels, len(self), seed)[: int(n)]
        return Split(
            self.images[index],
            None if self.labels is None else self.labels[index],
            None if self.params is None else self.params[index],
        )

    def to(self, device) -> "Split":
        return Split(
            self.images.to(device),
            None if self.labels is None else self.labels.to(device),
            None if self.params is None else self.params.to(device),
        )


def stratified_order(labels: Optional[torch.Tensor], n: int, seed: int) -> torch.Tensor:
    """A seeded random order of n items in which every prefix is a label-stratified sample.

    Each item gets a key from its rank r in a random permutation of its label's c items: the
    first item of every label gets a key below 0 (so the first K items of the order cover all
    K labels), the others (r + u) / c with one u ~ U(0, 1) per label (systematic proportional
    sampling: a prefix of length m holds about m * c / n items of each label). Unlabelled items
    are one label."""
    generator = randomness.seeded(seed)
    labels = torch.zeros(n, dtype=torch.int64) if labels is None else labels.detach().cpu().to(torch.int64)
    permutation = torch.randperm(n, generator=generator)
    shuffled = labels[permutation]
    values, inverse, counts = torch.unique(shuffled, return_inverse=True, return_counts=True)
    # rank of each shuffled item within its label (stable sort keeps the random order)
    by_label = torch.sort(inverse, stable=True).indices
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty(n, dtype=torch.int64)
    rank[by_label] = torch.arange(n) - starts[inverse[by_label]]
    offset = torch.rand(len(values), generator=generator, dtype=torch.float64)
    first_key = torch.rand(n, generator=generator, dtype=torch.float64) - 1.0  # in [-1, 0)
    key = torch.where(rank == 0, first_key, (rank.double() + offset[inverse]) / counts[inverse].double())
    return permutation[torch.argsort(key, stable=True)]


@dataclass
class DomainData:
    """Both splits of one domain."""

    name: str
    train: Split
    test: Split
    param_names: tuple = ()
    # {"train" / "test": how a capped split was drawn}, set by `sampled` and `bench.data.load_domain`
    notes: dict = field(default_factory=dict)

    def split_note(self, split: str) -> str:
        """What this split holds, in words, for metric protocols."""
        n = len(self.train if split == "train" else self.test)
        return self.notes.get(split, f"all {n} {split} images")

    @property
    def image_shape(self) -> tuple:
        return tuple(self.train.images.shape[1:])

    def limited(self, max_train: Optional[int], max_test: Optional[int]) -> "DomainData":
        """The first max_train / max_test items of each split (file order)."""
        return replace(self, train=self.train.subset(max_train), test=self.test.subset(max_test))

    def sampled(self, max_train: Optional[int], max_test: Optional[int]) -> "DomainData":
        """Seeded, label-stratified random subsets of max_train / max_test items (`Split.sample`,
        seeds from `subset_seed`): what a budget that caps a split scores, never the file order."""
        notes = {}
        for split, cap in (("train", max_train), ("test", max_test)):
            full = len(self.train if split == "train" else self.test)
            if cap is not None and cap < full:
                notes[split] = f"{int(cap)} of the {full} {split} images: a seeded uniform random subset stratified by label"
        return replace(
            self,
            train=self.train.sample(max_train, subset_seed(self.name, "train")),
            test=self.test.sample(max_test, subset_seed(self.name, "test")),
            notes=notes,
        )


@dataclass(frozen=True)
class DomainSpec:
    """What the registry knows about a domain before loading it.

    `load(root, download, max_train, max_test)` returns a DomainData at the domain's image size
    (`channels` x `size` x `size`). `expected_files(root)` lists the paths the loader needs, for
    the missing-data message and for `bench pairs`; synthetic domains expect none. `urls()` says
    where the files come from (torchvision's sources), for the same message.

    `iid_order`: the splits are stored as independent random draws (the synthetic renderers), so
    their first n items already are a uniform random sample and a capped load renders only those;
    other domains are loaded whole and sampled (`DomainData.sampled`).
    `revision`: bump when the domain's images or splits change; `subset_revision`: bump when how
    a capped split is drawn changes (it matters only to results of budgets that cap a split).
    Results of an older revision are published apart (bench/publish/revisions.py). Real domains'
    subset_revision: 1 took capped splits in file order (Omniglot: the first alphabets only), 2
    takes stratified random subsets; synthetic domains still take the first items of their i.i.d.
    sequence (1).
    """

    name: str
    size: int
    channels: int
    kind: str  # "real" or "synthetic"
    description: str
    split_sizes: tuple  # (train, test) of the full domain
    load: Callable = field(compare=False, repr=False)
    expected_files: Callable = field(compare=False, repr=False)
    urls: Callable = field(default=lambda: [], compare=False, repr=False)  # where its files come from
    iid_order: bool = False
    revision: int = 1
    subset_revision: int = 1

    def is_available(self, root) -> bool:
        from pathlib import Path

        return all(Path(p).exists() for p in self.expected_files(root))

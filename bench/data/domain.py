"""The in-memory form of a domain: uint8 image tensors, labels and ground-truth parameters.

Every loader (real or synthetic) returns a `DomainData`. Images are stored once, as a single
uint8 tensor of shape (N, C, H, W), so that the trainer can move a whole split to the device and
draw batches by indexing: no per-sample Python in the hot loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import torch


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

    def to(self, device) -> "Split":
        return Split(
            self.images.to(device),
            None if self.labels is None else self.labels.to(device),
            None if self.params is None else self.params.to(device),
        )


@dataclass
class DomainData:
    """Both splits of one domain."""

    name: str
    train: Split
    test: Split
    param_names: tuple = ()

    @property
    def image_shape(self) -> tuple:
        return tuple(self.train.images.shape[1:])

    def limited(self, max_train: Optional[int], max_test: Optional[int]) -> "DomainData":
        return replace(self, train=self.train.subset(max_train), test=self.test.subset(max_test))


@dataclass(frozen=True)
class DomainSpec:
    """What the registry knows about a domain before loading it.

    `load(root, download, max_train, max_test)` returns a DomainData at the domain's image size
    (`channels` x `size` x `size`). `expected_files(root)` lists the paths the loader needs, for
    the missing-data message and for `bench pairs`; synthetic domains expect none.
    """

    name: str
    size: int
    channels: int
    kind: str  # "real" or "synthetic"
    description: str
    split_sizes: tuple  # (train, test) of the full domain
    load: Callable = field(compare=False, repr=False)
    expected_files: Callable = field(compare=False, repr=False)

    def is_available(self, root) -> bool:
        from pathlib import Path

        return all(Path(p).exists() for p in self.expected_files(root))

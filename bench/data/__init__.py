"""The data layer: domains (real and synthetic), pairs, and loading a pair for a run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from bench.data.domain import DomainData, DomainSpec, Split
from bench.data.pairs import PAIRS, PairSpec
from bench.errors import BenchError


def _domains() -> dict:
    from bench.data.real import REAL_DOMAINS
    from bench.data.synthetic import SYNTHETIC_DOMAINS

    return {d.name: d for d in (*REAL_DOMAINS, *SYNTHETIC_DOMAINS)}


def domains() -> dict:
    return _domains()


def get_domain(name: str) -> DomainSpec:
    all_domains = _domains()
    if name not in all_domains:
        raise BenchError(f"Unknown domain {name!r}. Valid domains: {', '.join(sorted(all_domains))}.")
    return all_domains[name]


def get_pair(name: str) -> PairSpec:
    if name not in PAIRS:
        raise BenchError(f"Unknown pair {name!r}. Valid pairs: {', '.join(PAIRS)}.")
    return PAIRS[name]


def load_pair(
    pair: PairSpec,
    root,
    download: bool = False,
    max_train: Optional[int] = None,
    max_test: Optional[int] = None,
):
    """(training-domain data, novel-domain data), both with train splits capped at `max_train`
    (the novel domain's train split trains the pair's domain classifier and the oracle baselines)
    and test splits capped at `max_test`."""
    root = Path(root)
    train_spec, novel_spec = get_domain(pair.train), get_domain(pair.novel)
    train = train_spec.load(root, download=download, max_train=max_train, max_test=max_test)
    if pair.one_domain:
        novel = train
    else:
        novel = novel_spec.load(root, download=download, max_train=max_train, max_test=max_test)
    if train.image_shape != novel.image_shape:
        raise BenchError(
            f"Pair {pair.name}: domains {pair.train} {train.image_shape} and {pair.novel} {novel.image_shape} "
            "have different image shapes."
        )
    return train, novel


__all__ = ["DomainData", "DomainSpec", "Split", "PairSpec", "PAIRS", "domains", "get_domain", "get_pair", "load_pair"]

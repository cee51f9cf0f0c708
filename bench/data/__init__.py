"""The data layer: domains (real and synthetic), pairs, and loading a pair for a run."""

from __future__ import annotations

from dataclasses import replace
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


def load_domain(spec: DomainSpec, root, download: bool = False, max_train: Optional[int] = None, max_test: Optional[int] = None) -> DomainData:
    """One domain with its splits capped at max_train / max_test items: a seeded, label-stratified
    random subset (`DomainData.sampled`), or for domains stored in i.i.d. order (`iid_order`) the
    first items, which are such a sample already. Never the file order of a real dataset."""
    if not spec.iid_order:
        return spec.load(root, download=download).sampled(max_train, max_test)
    data = spec.load(root, download=download, max_train=max_train, max_test=max_test)
    notes = {}
    for split, cap, full in (("train", max_train, spec.split_sizes[0]), ("test", max_test, spec.split_sizes[1])):
        if cap is not None and cap < full:
            notes[split] = f"the first {int(cap)} of the {full} {split} images of the split's fixed i.i.d. random sequence"
    return replace(data, notes=notes)


def data_revisions(pair: PairSpec) -> dict:
    """{domain: revision} of the pair's domains (recorded with every result)."""
    return {name: get_domain(name).revision for name in dict.fromkeys((pair.train, pair.novel))}


def subset_revisions(pair: PairSpec) -> dict:
    """{domain: subset_revision}: how capped splits are drawn (recorded with results of budgets
    that cap a split)."""
    return {name: get_domain(name).subset_revision for name in dict.fromkeys((pair.train, pair.novel))}


def load_pair(
    pair: PairSpec,
    root,
    download: bool = False,
    max_train: Optional[int] = None,
    max_test: Optional[int] = None,
):
    """(training-domain data, novel-domain data), both with train splits capped at `max_train`
    (the novel domain's train split trains the pair's domain classifier and the oracle baselines)
    and test splits capped at `max_test` (`load_domain`: random, label-stratified subsets)."""
    root = Path(root)
    train_spec, novel_spec = get_domain(pair.train), get_domain(pair.novel)
    train = load_domain(train_spec, root, download, max_train, max_test)
    if pair.one_domain:
        novel = train
    else:
        novel = load_domain(novel_spec, root, download, max_train, max_test)
    if train.image_shape != novel.image_shape:
        raise BenchError(
            f"Pair {pair.name}: domains {pair.train} {train.image_shape} and {pair.novel} {novel.image_shape} "
            "have different image shapes."
        )
    return train, novel


__all__ = [
    "DomainData",
    "DomainSpec",
    "Split",
    "PairSpec",
    "PAIRS",
    "domains",
    "get_domain",
    "get_pair",
    "load_domain",
    "load_pair",
    "data_revisions",
    "subset_revisions",
]

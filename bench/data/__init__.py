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


def missing_files(pair: PairSpec, root) -> dict:
    """{domain: [missing paths]} of the pair's domains whose files are not all under `root`."""
    found = {}
    for name in dict.fromkeys((pair.train, pair.novel)):
        spec = get_domain(name)
        missing = [p for p in spec.expected_files(Path(root)) if not Path(p).exists()]
        if missing:
            found[name] = missing
    return found


def missing_data_error(pair: PairSpec, root, missing: dict) -> BenchError:
    """One paragraph naming every missing file of every domain of the pair, where it goes and
    the URL it comes from (downloads are off)."""
    root = Path(root)

    def shown(path):
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            return str(path)

    parts = []
    for name, paths in missing.items():
        try:
            urls = list(get_domain(name).urls())
        except Exception:  # torchvision too old to name them: the paths are enough
            urls = []
        source = f" (from {', '.join(urls)})" if urls else ""
        parts.append(f"{name}: {', '.join(shown(p) for p in paths)}{source}")
    return BenchError(
        f"Pair {pair.name} needs data that is not in {root}, and downloads are off (--offline or BENCH_OFFLINE=1). "
        f"Missing, in torchvision's layout under that folder: {'; '.join(parts)}. Run without --offline to download "
        "them there (with checksum checks), put the files there by hand, or point --data-dir (or BENCH_DATA_DIR) at "
        "a folder that has them."
    )


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
    missing = missing_files(pair, root)
    if missing and not download:  # every missing file of both domains in one message
        raise missing_data_error(pair, root, missing)
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
    "missing_files",
    "missing_data_error",
    "data_revisions",
    "subset_revisions",
]

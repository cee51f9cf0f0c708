"""The metric registry and the context every metric receives.

A metric is a function `fn(ctx) -> {key: MetricValue}` registered with `@register_metric(name,
description, applies=..., revision=..., keys={key: (direction, label)})`: it declares every key it
returns, which way is better ("lower", "higher", or None for a descriptive number) and the label
tables show, so `bench publish` needs nothing but the registry to present a new metric. It may only use the model's public interface (`encode` through `ctx.encode`,
`decode`, `interpolate`, `sample`) and the data in the context: metrics never import models.
`bench.scoring` times each metric and writes `{value, protocol, seconds, details}` per key into
`metrics.json`. A metric that cannot run here (missing weights, a pair without labels) raises
`MetricSkipped` with a message naming what is missing; the other metrics still run.

A metric's `revision` (recorded with every value) is bumped whenever what it measures changes
meaning (its definition, sample or protocol; not a refactor that keeps values): results of an
older revision are published apart from the current ones.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import torch

from bench import randomness
from bench.budgets import Budget, EvaluationProtocol
from bench.errors import BenchError
from bench.progress import progress_bar

if TYPE_CHECKING:
    from bench.data.domain import DomainData
    from bench.data.pairs import PairSpec
    from models.base import BenchModel


class MetricSkipped(Exception):
    """This metric does not run here; the message says why and what would make it run."""


@dataclass
class MetricValue:
    value: float
    protocol: dict
    details: Optional[dict] = None  # curves and per-alpha arrays (JSON-serialisable)

    def to_dict(self) -> dict:
        out = {"value": float(self.value), "protocol": self.protocol}
        if self.details is not None:
            out["details"] = self.details
        return out


LOWER, HIGHER = "lower", "higher"  # which way is better; None: a descriptive number
ORACLE_SUFFIX = "_oracle"  # appended to every key scored with `bench evaluate --encoder oracle`


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: Callable
    applies: Callable  # ctx -> bool
    description: str
    revision: int = 1
    keys: dict = field(default_factory=dict)  # {key: (direction, label)} of the values it returns


_METRICS: dict = {}
_ORDER: dict = {}  # name -> sort key: registry order does not depend on which module was imported first
FIRST_MODULE = "metrics.reconstruction"  # the headline metric; the noise-frequency reference reuses it


def register_metric(name: str, description: str, applies: Callable = lambda ctx: True, revision: int = 1, *, keys: dict):
    """Register `fn(ctx) -> {key: MetricValue}` as metric `name`; `keys` declares each key it
    returns as (direction, label): direction "lower" or "higher" (which way is better) or None."""
    if not name or not name.replace("_", "").isalnum() or name != name.lower():
        raise ValueError(f"metric names are lower-case words joined by '_', got {name!r}")
    if not isinstance(revision, int) or revision < 1:
        raise ValueError(f"metric {name!r}: revision must be a positive integer, got {revision!r}")
    _check_keys(name, keys)

    def wrap(fn):
        if name in _METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        taken = {key: other.name for other in _METRICS.values() for key in other.keys}
        clash = sorted(key for key in keys if key in taken)
        if clash:
            raise ValueError(f"metric {name!r}: keys {clash} are already returned by metric {taken[clash[0]]!r}")
        _METRICS[name] = MetricSpec(name, fn, applies, description, revision, dict(keys))
        _ORDER[name] = (fn.__module__ != FIRST_MODULE, fn.__module__, len(_ORDER))
        return fn

    return wrap


def _check_keys(name: str, keys) -> None:
    if not isinstance(keys, dict) or not keys:
        raise ValueError(f"metric {name!r}: keys must declare every key it returns, as {{key: (direction, label)}}")
    for key, declared in keys.items():
        ok = isinstance(key, str) and isinstance(declared, tuple) and len(declared) == 2
        if not ok or declared[0] not in (LOWER, HIGHER, None) or not isinstance(declared[1], str):
            raise ValueError(f"metric {name!r}: key {key!r} is declared as {declared!r}; expected (\"lower\" | \"higher\" | None, label)")
        if key.endswith(ORACLE_SUFFIX):
            raise ValueError(f"metric {name!r}: key {key!r} ends with {ORACLE_SUFFIX!r}, which the oracle encoder appends")


def metric_keys() -> dict:
    """{key: (direction, label)} of every registered metric (plug-ins loaded so far included),
    in registry order."""
    return {key: declared for spec in all_metrics().values() for key, declared in spec.keys.items()}


_loaded = False


def all_metrics() -> dict:
    """Every registered metric, in registry order (FIRST_MODULE's, then by module name, each
    module's in definition order); the package's modules are imported once, each registering its
    metrics by being imported."""
    global _loaded
    if not _loaded:
        _loaded = True
        import metrics

        for info in pkgutil.iter_modules(metrics.__path__):
            importlib.import_module(f"metrics.{info.name}")
    last = (True, "\uffff", 0)  # entries put in _METRICS without register_metric: after the others, in insertion order
    return {name: _METRICS[name] for name in sorted(_METRICS, key=lambda n: _ORDER.get(n, last))}


def get_metrics(names) -> list:
    """The specs for `names` (in registry order), with a clear error for unknown names."""
    known = all_metrics()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BenchError(f"Unknown metric {', '.join(map(repr, unknown))}. Valid metrics: {', '.join(known)}.")
    return [spec for name, spec in known.items() if name in names]


@dataclass
class MetricContext:
    """What a metric may look at: the model's public interface, the pair's data and the budget.

    `encode` is the encoder the evaluation uses: the model's own (`encoder="model"`, which for a
    GAN is inversion + refinement) or direct latent optimisation (`encoder="oracle"`).
    """

    model: BenchModel  # its public interface only
    pair: PairSpec
    train_domain: DomainData
    novel_domain: DomainData
    budget: Budget  # metrics read its `evaluation` protocol (and its name, for their protocols)
    seed: int
    cache_dir: Path
    encoder: str = "model"  # "model" or "oracle"
    pairing: str = "same-class"  # FID interpolation pairs: "same-class" or "any"
    require_fid: bool = False
    offline: bool = field(default_factory=lambda: os.environ.get("BENCH_OFFLINE") == "1")  # no downloads (FID weights)
    artifacts_dir: Optional[Path] = None  # where metrics may write image grids (run_dir/samples)
    warn: Callable = print
    progress: bool = False  # a progress bar over the metrics (some take minutes on a CPU)
    _shared: dict = field(default_factory=dict, repr=False)

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def evaluation(self) -> EvaluationProtocol:
        """The budget's evaluation protocol: test images and sample sizes."""
        return self.budget.evaluation

    @property
    def image_shape(self) -> tuple:
        return tuple(self.train_domain.image_shape)

    def generator(self, purpose: str, device=None) -> torch.Generator:
        """A torch generator seeded from the run seed and the purpose: metrics are reproducible
        and independent of the order they run in."""
        return randomness.generator(self.seed, purpose, device)

    def test_images(self, which: str, n: Optional[int] = None) -> torch.Tensor:
        """The first n test images of the "train" or "novel" domain as floats in [0, 1] on the
        model's device (at most the budget's eval_images). The runner loads a capped test split
        as a seeded, label-stratified random subset in draw order (`bench.data.load_pair`), so
        every prefix is a random sample of the whole split, never its file order."""
        domain = self.train_domain if which == "train" else self.novel_domain
        cap = self.evaluation.eval_images
        images = domain.test.images
        limit = min(x for x in (n, cap, images.shape[0]) if x is not None)
        return images[:limit].to(self.device).float().div_(255.0)

    def test_split_note(self, which: str) -> str:
        """How the "train" or "novel" domain's test images were drawn, for protocols."""
        domain = self.train_domain if which == "train" else self.novel_domain
        note = domain.split_note("test") if hasattr(domain, "split_note") else f"all {len(domain.test)} test images"
        cap = self.evaluation.eval_images
        if cap is not None and cap < len(domain.test):
            note += f"; the first {cap} of those"
        return note

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder == "oracle":
            from models.inversion import oracle_encode  # the shared latent optimiser, not a model's internals

            generator = self.shared("oracle-generator", lambda: self.generator("oracle"))  # fresh starts per batch
            return oracle_encode(self.model, x, steps=self.evaluation.refine_steps, generator=generator)
        return self.model.encode(x)

    def encoding_bar(self, total: int, desc: str):
        """A progress bar over `total` images to encode, shown where encoding is an optimisation
        (a GAN's inversion, the oracle encoder: minutes on a CPU), else a silent one."""
        slow = self.encoder == "oracle" or getattr(self.model, "generative", False)
        return progress_bar(total=total, desc=desc, unit="image", enabled=self.progress and slow)

    def encode_many(self, x: torch.Tensor, batch_size: int, desc: str = "encoding", decode: bool = False) -> torch.Tensor:
        """encode(x) (or decode(encode(x)) with `decode`) in batches, one call per batch."""
        bar = self.encoding_bar(x.shape[0], desc)
        out = []
        for i in range(0, x.shape[0], batch_size):
            z = self.encode(x[i : i + batch_size])
            out.append(self.model.decode(z).float() if decode else z)
            bar.update(out[-1].shape[0])
        bar.close()
        return torch.cat(out)

    def reconstruct(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        return self.encode_many(x, batch_size, "reconstructing", decode=True)

    def shared(self, key: str, build: Callable):
        """Compute-once values several metrics use (generated images, the domain classifier)."""
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]

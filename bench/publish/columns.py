"""What the numbers mean: each metric's direction and label, the headline metric of each pair,
and the role of each model (a competitor, a reference or an oracle).

Headline metric (the leaderboard's sort key, lower is better for every choice): the first of a
pair's preference list that has a value in at least one finished run of the pair.
- two-domain pairs (mnist-emnist, omniglot, ...): `fid`, else `fid_domain`, else
  `recon_l2_novel`. Few-shot generation in the novel domain is what the AugIntAE paper ranks
  models by (its Table 2); FID needs the Inception weights, so without them the offline domain
  FID ranks, and without any FID the novel-domain reconstruction error (its Table 1) does.
- `pole`: `gt_mse_mean`, the distance of interpolants to the true images (AEAI's figures).
- `lines`: `lines_mean_distance`, ACAI's headline score, else `gt_mse_mean`.
Reconstruction error alone is never preferred where more is measured: pixel fade reconstructs
perfectly (0) and an identity-like autoencoder would rank first without interpolating well.

Collapse: a model whose reconstructions barely vary with the input (`recon_spread_novel` below
COLLAPSE_BELOW) is marked "collapsed" wherever it is named, since on sparse images (lines, the
pole) a blank or mean output can score a low error and even win a column.

Roles: `pixel-fade` (registry family "reference") and models that train on the novel domain
(`wgan-gp-oracle`, the paper's upper bound) are listed and ranked like the others, but marked,
and never named the winner of a metric.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

from bench import data as data_layer
from metrics.base import HIGHER, LOWER, ORACLE_SUFFIX

COMPETITOR = "competitor"
REFERENCE = "reference"
ORACLE = "oracle"

# The column order of the tables after the headline metric. Direction and label are each metric's
# own declaration (`register_metric(keys=...)`, read through the registry); keys of metrics not
# named here (a new module, a plug-in) follow in registry order.
COLUMN_ORDER = (
    "fid", "fid_domain", "misclassification", "recon_l2_novel", "recon_l2_train", "gt_mse_mean",
    "gt_mse_peak", "alpha_error_median", "lines_mean_distance", "lines_smoothness", "adm_boundary_l2",
    "adm_smoothness", "adm_monotonicity", "adm_credibility", "recon_spread_novel", "noise_l2_mean",
    "noise_l2_min", "domain_classifier_accuracy",
)


def declared_keys() -> dict:
    """{key: (direction, label)} of every registered metric (plug-ins loaded so far included)."""
    from metrics.base import metric_keys

    return metric_keys()

# A model whose novel-domain reconstructions spread less than this fraction of the inputs' spread
# returns (nearly) one image for every input: its row is marked collapsed (metrics/reconstruction.py).
COLLAPSE_KEY, COLLAPSE_BELOW = "recon_spread_novel", 0.1


def is_collapsed(spread_mean) -> bool:
    return spread_mean is not None and math.isfinite(spread_mean) and spread_mean < COLLAPSE_BELOW


HEADLINE_PREFERENCES = {
    "two-domain": ("fid", "fid_domain", "recon_l2_novel"),
    "pole": ("gt_mse_mean", "recon_l2_novel"),
    "lines": ("lines_mean_distance", "gt_mse_mean", "recon_l2_novel"),
}


def _base(key: str) -> str:
    return key[: -len(ORACLE_SUFFIX)] if key.endswith(ORACLE_SUFFIX) else key


def direction(key: str) -> Optional[str]:
    """"lower", "higher" or None (no better side) for a metric key (oracle keys as their base)."""
    return declared_keys().get(_base(key), (None, ""))[0]


def label(key: str) -> str:
    text = declared_keys().get(_base(key), (None, key))[1]
    return text + (" (oracle encoder)" if key.endswith(ORACLE_SUFFIX) else "")


def arrow(key: str) -> str:
    return {LOWER: "↓", HIGHER: "↑"}.get(direction(key), "")


def headline_preferences(pair: str) -> tuple:
    spec = data_layer.get_pair(pair)
    if spec.name in HEADLINE_PREFERENCES:
        return HEADLINE_PREFERENCES[spec.name]
    return HEADLINE_PREFERENCES["two-domain"] if spec.train != spec.novel else HEADLINE_PREFERENCES["pole"]


def headline_metric(pair: str, available: Iterable[str]) -> Optional[str]:
    """The pair's headline metric among the keys with a finished value (None if none applies)."""
    available = set(available)
    return next((key for key in headline_preferences(pair) if key in available), None)


GROUND_TRUTH_FIRST = ("lines_mean_distance", "lines_smoothness", "gt_mse_mean", "gt_mse_peak", "alpha_error_median")


def ordered_metrics(keys: Iterable[str], headline: Optional[str] = None, pair: Optional[str] = None) -> list:
    """Metric keys in table order: the headline, the declared keys in COLUMN_ORDER, then in
    registry order (each followed by its oracle-encoder variant; on single-domain pairs the
    ground-truth scores come first), then any other key by name."""
    keys = set(keys)
    order = list(COLUMN_ORDER) + [k for k in declared_keys() if k not in COLUMN_ORDER]
    if pair is not None and data_layer.get_pair(pair).train == data_layer.get_pair(pair).novel:
        order = list(GROUND_TRUTH_FIRST) + [k for k in order if k not in GROUND_TRUTH_FIRST]
    known = [k for base in order for k in (base, base + ORACLE_SUFFIX) if k in keys]
    rest = sorted(keys - set(known))
    ordered = known + rest
    if headline in keys:
        ordered.remove(headline)
        ordered.insert(0, headline)
    return ordered


def model_family(name: str) -> str:
    """The registry's family of a model ("augintae", "interpolative", ...); "other" for a
    plug-in not loaded here."""
    from bench.errors import BenchError
    from models import registry

    try:
        return str(getattr(registry.get(name), "family", "other"))
    except BenchError:
        return "other"


def model_role(name: str) -> str:
    """"reference" (pixel fade), "oracle" (trains on the novel domain) or "competitor"."""
    from bench.errors import BenchError
    from models import registry

    try:
        cls = registry.get(name)
    except BenchError:  # a plug-in model not loaded here: a competitor
        return COMPETITOR
    if getattr(cls, "family", "") == "reference":
        return REFERENCE
    if getattr(cls, "trains_on", "train") == "novel":
        return ORACLE
    return COMPETITOR

"""Which published results come from the current models, metrics and data, and which do not.

Every result names what produced it: the model's revision (`config.json` "model_revision"), and
for each metric value the metric's revision, the revisions of the pair's domains and, where the
budget capped a split, of the rule that drew the subset ("revision", "data_revisions",
"subset_revisions" in its metrics.json entry). Records written before revisions existed are
revision 1 throughout (with subset revision 1 where their budget capped a split). A revision is bumped when what a model trains, what a metric measures or
which images a domain scores changes meaning (`BenchModel.revision`, `register_metric(revision=)`,
`DomainSpec.revision`), so a result of an older revision is not the same measurement and must
not be averaged with current ones.

`split_by_revision` keeps, for the tables, means and plots, only current values: a run of an
older model revision is left out whole; a current model's value of an older metric or data
revision is left out alone. Everything left out is returned as `Earlier` rows, which the pair
page lists under "Results of an earlier revision" (and runs.csv keeps, with its revision), never
dropped silently. Models and metrics this suite does not know (a plug-in not loaded now) are
taken as current: there is nothing to compare them with.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

from bench import data as data_layer


@lru_cache(maxsize=None)
def _current_metric_revisions() -> dict:
    from metrics.base import all_metrics

    return {name: spec.revision for name, spec in all_metrics().items()}


def current_model_revision(model: str) -> Optional[int]:
    """The registered model's revision, or None for a model not registered here."""
    from models import registry

    registry.load_builtin()
    return getattr(registry._REGISTRY.get(model), "revision", None)


def model_revision(run) -> int:
    value = run.record.get("model_revision", 1)
    return value if isinstance(value, int) else 1


def _capped(run) -> bool:
    budget = run.record.get("budget")
    return isinstance(budget, dict) and (budget.get("eval_images") is not None or budget.get("max_train") is not None)


def entry_revisions(run, key: str) -> tuple:
    """(metric name, metric revision, {domain: data revision}, {domain: subset revision}) of one
    metric value of a run; the last is empty where the run's budget capped no split."""
    entry = run.metrics.get(key)
    entry = entry if isinstance(entry, dict) else {}
    spec = data_layer.get_pair(run.pair)
    ones = {name: 1 for name in dict.fromkeys((spec.train, spec.novel))}
    domains = entry.get("data_revisions")
    domains = domains if isinstance(domains, dict) else ones
    subsets = entry.get("subset_revisions")
    subsets = subsets if isinstance(subsets, dict) else (ones if _capped(run) else {})
    revision = entry.get("revision", 1)
    return entry.get("metric", key), revision if isinstance(revision, int) else 1, domains, subsets


def revision_tag(run) -> str:
    """The folder name an earlier record of this run is kept under: 'model-r1-data-r1-subset-r1'."""
    data, subset = _run_data_revisions(run)
    tag = f"model-r{model_revision(run)}-data-r{data}"
    return tag + (f"-subset-r{subset}" if subset is not None else "")


def _run_data_revisions(run) -> tuple:
    """(lowest data revision, lowest subset revision or None) over the run's values."""
    data, subsets = [], []
    for key in run.metrics:
        _, _, domains, subset = entry_revisions(run, key)
        data += domains.values()
        subsets += subset.values()
    if not run.metrics:
        data += (run.record.get("data_revisions") or {}).values()
        subsets += (run.record.get("subset_revisions") or ({"": 1} if _capped(run) else {})).values()
    return min(data, default=1), min(subsets, default=None)


def revision_rank(run) -> tuple:
    """Orders two results of the same model and seed: the higher is the newer revision."""
    data, subset = _run_data_revisions(run)
    return (model_revision(run), data, subset or 0)


def model_is_current(run) -> bool:
    current = current_model_revision(run.model)
    return current is None or model_revision(run) == current


def stale_reason(run, key: str) -> str:
    """'' for a current value, else what is older about it ('data r1 (now r2)', 'metric admissibility r1 (now r2)')."""
    metric, revision, domains, subsets = entry_revisions(run, key)
    spec = data_layer.get_pair(run.pair)
    reasons = []
    for what, recorded, current in (
        ("data", domains, data_layer.data_revisions(spec)),
        ("test subset", subsets, data_layer.subset_revisions(spec)),
    ):
        old = [d for d, r in sorted(recorded.items()) if d in current and r != current[d]]
        if old:
            reasons.append(f"{what} " + ", ".join(f"{d} r{recorded[d]} (now r{current[d]})" for d in old))
    now = _current_metric_revisions().get(metric)
    if now is not None and revision != now:
        reasons.append(f"metric {metric} r{revision} (now r{now})")
    return "; ".join(reasons)


def revision_label(run) -> str:
    """How the run's revision reads in tables: 'model r1 (now r2)' or 'model r2'."""
    current = current_model_revision(run.model)
    own = model_revision(run)
    return f"model r{own}" + ("" if current is None or own == current else f" (now r{current})")


@dataclass
class Earlier:
    """Results of one run that are not current: a whole run of an older model revision, or some
    metric values of a current run measured under an older metric or data revision."""

    run: object  # bench.publish.collect.Run
    keys: list  # the metric keys listed here
    why: str  # 'model r1 (now r2)', or the metric/data revisions
    superseded: bool = False  # a rerun at the current revision replaced it in the tables
    values: dict = field(default_factory=dict)

    def value(self, key: str) -> float:
        return self.run.value(key) if key in self.keys else math.nan


def split_by_revision(runs) -> tuple:
    """(current runs, [Earlier]): runs of a current model revision, holding only current metric
    values; and everything else, one Earlier per run that has anything not current."""
    current, earlier = [], []
    for run in runs:
        superseded = bool(getattr(run, "superseded", False))
        if superseded or not model_is_current(run):
            if not model_is_current(run):
                why = revision_label(run)
            else:
                why = "; ".join(sorted({stale_reason(run, key) for key in run.metrics} - {""})) or "an earlier record of this run"
            earlier.append(Earlier(run, sorted(run.metrics), why, superseded))
            continue
        stale = {key: stale_reason(run, key) for key in run.metrics}
        stale = {key: why for key, why in stale.items() if why}
        if not stale:
            current.append(run)
            continue
        for why in sorted(set(stale.values())):
            earlier.append(Earlier(run, sorted(k for k, w in stale.items() if w == why), why))
        kept = {k: v for k, v in run.metrics.items() if k not in stale}
        if kept:  # a run none of whose values is current is not a current result
            current.append(dataclasses.replace(run, payload={**run.payload, "metrics": kept}))
    return current, earlier


def current_matrix_rows(table):
    """Boolean mask of the recon-matrix rows (bench/recon_matrix.py) of the current model and
    subset revisions; rows written before those columns existed are revision 1. A blank subset
    revision is current only where the row's budget caps no split (nothing was drawn); rows merged
    from before the column existed are blank too, and at a capping budget they are revision 1."""
    import pandas as pd

    from bench.budgets import BUDGETS

    def column(name, default):
        values = table[name] if name in table.columns else pd.Series(default, index=table.index)
        return pd.to_numeric(values, errors="coerce")

    model_now = table["model"].astype(str).map(lambda m: current_model_revision(m))
    model_ok = model_now.isna() | (column("model_revision", 1).fillna(1) == model_now)
    known = data_layer.domains()
    subset_now = max((known[c].subset_revision for c in table.columns if c in known), default=1)
    recorded = column("subset_revision", 1)
    capped = table["budget"].astype(str).map(lambda b: BUDGETS[b].caps_a_split if b in BUDGETS else True)
    subset_ok = (recorded == subset_now) | (recorded.isna() & ("subset_revision" in table.columns) & ~capped)
    return (model_ok & subset_ok).to_numpy()

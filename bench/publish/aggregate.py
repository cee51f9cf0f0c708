"""The leaderboard: one row per (model, budget) with the mean and 95% confidence interval of every
metric over its finished seeds, sorted by the pair's headline metric.

CI: Student t, half-width t_{0.975, n-1} * s / sqrt(n) with the sample standard deviation s
(ddof 1) over the seeds whose value is finite; undefined (NaN, an empty CSV cell) for one seed,
where no spread can be estimated. The best competitor per metric is compared with the runner-up
by Welch's two-sided t-test over their seeds (`Lead`), so a reader sees whether a win is more
than seed noise; with fewer than two seeds on either side no test is made. Only finished runs
enter means; diverged, failed and incomplete runs are counted (n_failed, n_incomplete) so a
model that diverged on every seed still has its row.
Runs of different budgets never share a row. Seeds of one (model, budget) that differ in
configuration are averaged but listed in `config_hashes`, so the mix is visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd
from scipy import stats

from bench.publish.collect import FINISHED, INCOMPLETE, metric_keys
from bench.publish.columns import COLLAPSE_KEY, COMPETITOR, direction, headline_metric, is_collapsed, model_role

CONFIDENCE = 0.95
SIGNIFICANCE = 0.05  # Welch p-value under which the best model is called ahead of the runner-up


def mean_ci(values) -> tuple:
    """(mean, CI half-width, n) over the finite values; (NaN, NaN, 0) for none, half-width NaN for one."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(v.mean())
    if n < 2:
        return mean, math.nan, 1
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return mean, half, n


@dataclass
class Board:
    pair: str
    table: pd.DataFrame  # leaderboard.csv
    headline: Optional[str]
    metrics: list  # metric keys in table order (headline first)
    samples: dict = field(default_factory=dict)  # (model, budget, metric) -> finite per-seed values

    def budgets(self) -> list:
        return sorted(self.table["budget"].unique())

    def for_budget(self, budget: str) -> pd.DataFrame:
        return self.table[self.table["budget"] == budget]


def _joined(values) -> str:
    return ";".join(sorted({str(v) for v in values if v not in (None, "")}))


def leaderboard(runs, pair: str) -> Board:
    keys = metric_keys(runs)
    headline = headline_metric(pair, [k for k in keys if any(r.status == FINISHED and math.isfinite(r.value(k)) for r in runs)])
    if headline in keys:
        keys = [headline] + [k for k in keys if k != headline]
    groups = {}
    for r in runs:
        groups.setdefault((r.model, r.budget), []).append(r)
    rows, samples = [], {}
    for (model, budget), group in groups.items():
        finished = [r for r in group if r.status == FINISHED]
        row = {
            "pair": pair,
            "model": model,
            "budget": budget,
            "role": model_role(model),
            "n_seeds": len(finished),
            "n_failed": sum(r.status not in (FINISHED, INCOMPLETE) for r in group),
            "n_incomplete": sum(r.status == INCOMPLETE for r in group),
        }
        for key in keys:
            values = [r.value(key) for r in finished]
            samples[(model, budget, key)] = tuple(v for v in values if math.isfinite(v))
            mean, half, _ = mean_ci(values)
            row[f"{key}_mean"], row[f"{key}_ci95"] = mean, half
        row["collapsed"] = is_collapsed(row.get(f"{COLLAPSE_KEY}_mean"))
        train = [r.payload.get("train_seconds") for r in finished]
        row["train_seconds_mean"] = mean_ci([float(t) for t in train if isinstance(t, (int, float))])[0]
        row["seeds"] = ";".join(str(r.seed) for r in sorted(finished, key=lambda r: r.seed))
        row["devices"] = _joined(r.record.get("device") for r in finished)
        row["code_versions"] = _joined(r.record.get("code_version") for r in finished)
        row["config_hashes"] = _joined(r.record.get("config_hash") for r in finished)
        rows.append(row)
    base = ["pair", "model", "budget", "role", "n_seeds", "n_failed", "n_incomplete"]
    table = pd.DataFrame(rows) if rows else pd.DataFrame(columns=base + ["collapsed", "train_seconds_mean", "seeds", "devices", "code_versions", "config_hashes"])
    sort_cols, ascending = ["budget"], [True]
    if headline is not None:
        table["_key"] = table[f"{headline}_mean"] * (-1 if direction(headline) == "higher" else 1)
        sort_cols, ascending = ["budget", "_key"], [True, True]
    table = table.sort_values(sort_cols + ["model"], ascending=ascending + [True], na_position="last", kind="mergesort")
    table = table.drop(columns=["_key"], errors="ignore").reset_index(drop=True)
    return Board(pair, table, headline, keys, samples)


@dataclass(frozen=True)
class Lead:
    """The best competitor on one metric, and the runner-up it is tested against."""

    metric: str
    model: str
    mean: float
    collapsed: bool = False
    runner_up: Optional[str] = None
    runner_up_mean: float = math.nan
    p_value: Optional[float] = None  # Welch, two-sided; None when either side has fewer than 2 seeds
    # when the runner-up has too few seeds to test: the next-best model that has enough, and its test
    tested_runner_up: Optional[str] = None
    tested_p_value: Optional[float] = None
    # when the best model collapsed (its low error is the mean image's): the best one that did not
    uncollapsed: Optional[str] = None
    uncollapsed_mean: float = math.nan

    @property
    def separated(self) -> Optional[bool]:
        """True: ahead beyond seed noise; False: not separated; None: untested or no runner-up."""
        return None if self.p_value is None else self.p_value < SIGNIFICANCE


def welch_p(a, b) -> Optional[float]:
    """Two-sided Welch t-test p-value of two seed samples; None with fewer than 2 values on a side.
    Two spread-free samples are 0 apart if their means differ, else 1 (scipy gives NaN there).
    With one spread-free side (a collapsed model's monotonicity 1, 1, 1) Welch's statistic and
    degrees of freedom are exactly the one-sample test's against that constant, which is used
    directly (scipy's two-sample routine warns of precision loss there)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return None
    if a.std() == 0 and b.std() == 0:
        return 0.0 if a.mean() != b.mean() else 1.0
    if a.std() == 0 or b.std() == 0:
        constant, spread = (a[0], b) if a.std() == 0 else (b[0], a)
        return float(stats.ttest_1samp(spread, constant).pvalue)
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def best_by_metric(board: Board, budget: str) -> dict:
    """{metric: Lead}: the best competitor (references and oracles excluded) per metric with a
    direction, on one budget, and the runner-up it is tested against; ties go to the first model
    by name. A collapsed leader is kept (it did score best) but the best non-collapsed model is
    named beside it, since that is the one that interpolates."""
    table = board.for_budget(budget)
    table = table[table["role"] == COMPETITOR]
    best = {}
    for key in board.metrics:
        side = direction(key)
        if side is None:
            continue
        values = table[["model", f"{key}_mean", "collapsed"]].dropna(subset=[f"{key}_mean"])
        if values.empty:
            continue
        values = values.sort_values([f"{key}_mean", "model"], ascending=[side == "lower", True], kind="mergesort")
        ranked = [(str(m), float(v), bool(c)) for m, v, c in values.itertuples(index=False)]
        (model, mean, collapsed), second = ranked[0], ranked[1] if len(ranked) > 1 else None
        first_seeds = board.samples.get((model, budget, key), ())
        runner_up, runner_up_mean, p = None, math.nan, None
        if second is not None:
            runner_up, runner_up_mean = second[0], second[1]
            p = welch_p(first_seeds, board.samples.get((runner_up, budget, key), ()))
        tested_runner_up, tested_p = (None, None) if p is not None else _next_testable(board, budget, key, first_seeds, ranked[2:])
        working = [(m, v) for m, v, c in ranked if not c] if collapsed else []
        uncollapsed, uncollapsed_mean = working[0] if working else (None, math.nan)
        best[key] = Lead(key, model, mean, collapsed, runner_up, runner_up_mean, p, tested_runner_up, tested_p, uncollapsed, uncollapsed_mean)
    return best


def _next_testable(board: Board, budget: str, key: str, first_seeds, rest) -> tuple:
    """(model, p) for the best-ranked of `rest` that the leader can be tested against, or (None, None).
    A runner-up with one seed cannot be tested; without this the leader's claim would go untested
    even when a close model with several seeds is right behind it."""
    for model, _, _ in rest:
        p = welch_p(first_seeds, board.samples.get((model, budget, key), ()))
        if p is not None:
            return model, p
    return None, None

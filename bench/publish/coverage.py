"""Which registered models a pair's leaderboard covers at a budget, and at how many seeds.

A leaderboard only ranks the models that were run, so a reader cannot tell from it alone whether
a missing model lost or was never tried. The pair README and the index say it instead: the
registered models with no finished run at that budget, and those with fewer than the seeds the
checked-in leaderboards aim for (`TARGET_SEEDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.publish.collect import FINISHED
from bench.publish.palette import model_sort_key

TARGET_SEEDS = 3


@dataclass(frozen=True)
class Coverage:
    registered: int  # registered models, plus any run model not registered here (a plug-in)
    run: list  # models with at least one finished run, in plot order
    without_finished_run: list  # registered models with no finished run (never run, incomplete or failed)
    few_seeds: dict  # model -> finished seeds, for models below TARGET_SEEDS

    def at_target(self) -> int:
        return len(self.run) - len(self.few_seeds)


def coverage(runs, budget: str, registered: list) -> Coverage:
    """Finished seeds per model at `budget`; models run but not registered (a plug-in not loaded
    here) still count as run, so the numbers never hide a result."""
    seeds = {}
    for r in runs:
        if r.budget == budget and r.status == FINISHED:
            seeds.setdefault(r.model, set()).add(r.seed)
    run = sorted(seeds, key=model_sort_key)
    return Coverage(
        registered=len(set(registered) | set(seeds)),
        run=run,
        without_finished_run=sorted(set(registered) - set(seeds), key=model_sort_key),
        few_seeds={m: len(seeds[m]) for m in run if len(seeds[m]) < TARGET_SEEDS},
    )


def coverage_cell(cov: Coverage) -> str:
    """Index cell: '10 / 17 (9 at 3+ seeds)'."""
    return f"{len(cov.run)} / {cov.registered} ({cov.at_target()} at {TARGET_SEEDS}+ seeds)"


def coverage_sentence(cov: Coverage, budget: str) -> str:
    """Pair README line naming what is missing at this budget."""
    text = f"Coverage at `{budget}`: {len(cov.run)} of {cov.registered} registered models have finished runs"
    text += f", {cov.at_target()} of them at {TARGET_SEEDS} or more seeds."
    if cov.few_seeds:
        text += " Fewer seeds: " + ", ".join(f"{m} ({n})" for m, n in cov.few_seeds.items()) + "."
    if cov.without_finished_run:
        text += " No finished run yet: " + ", ".join(cov.without_finished_run) + "."
    return text

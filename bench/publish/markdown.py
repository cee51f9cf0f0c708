"""The READMEs: `<out>/<pair>/README.md` (the leaderboard as Markdown, the paper's numbers
beside ours, plots) and the index `<out>/README.md` (each pair's headline winner).

Deterministic text: no dates of generation, no absolute paths, fixed number formatting (a mean
is rounded to two significant digits of its CI; a single seed shows 4 significant digits).
"""

from __future__ import annotations

import math
import re
from typing import Optional

import numpy as np
import pandas as pd

from bench import data as data_layer
from bench.publish.aggregate import SIGNIFICANCE, Board, Lead, best_by_metric
from bench.publish.collect import FINISHED
from bench.publish.columns import COLLAPSE_BELOW, COMPETITOR, ORACLE, REFERENCE, arrow, direction, label, ordered_metrics
from bench.publish.coverage import TARGET_SEEDS, coverage, coverage_cell, coverage_sentence
from bench.publish.palette import model_sort_key
from bench.publish.paper import PAPER, caveats_for

DASH = "–"
EARLIER_COLUMNS = 6  # metric columns of the earlier-revision table (all of them are in runs.csv)
ROLE_NOTE = {REFERENCE: "reference", ORACLE: "oracle"}
COLLAPSED = "(collapsed)"
COLLAPSE_NOTE = (
    f"**{COLLAPSED}**: the model's novel-domain reconstructions spread less than {COLLAPSE_BELOW:g} of the inputs' spread "
    "(`recon_spread_novel`): it returns nearly one image whatever the input, so its low errors do not mean it interpolates."
)

# Why our numbers may differ from the paper's, by budget (None: every budget below `paper`).
_PAPER_GAP = {
    "paper": "At `paper` the training schedule and the metrics' sample sizes are the paper's, but the networks are the suite's shared backbones (see each model's docstring), so the numbers can still differ.",
    None: "Budgets below `paper` train far shorter and score fewer images than the paper, so expect a gap.",
}


def fmt_value(value) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return f"{value:.4g}"


def fmt_mean_ci(mean, ci) -> str:
    """'58.2 ± 3.1'; the mean alone when there is no CI (one seed)."""
    if mean is None or not math.isfinite(mean):
        return DASH
    if ci is None or not math.isfinite(ci):
        return fmt_value(mean)
    if ci == 0:
        return f"{mean:.4g} ± 0"
    decimals = max(0, 1 - math.floor(math.log10(abs(ci))))
    if decimals > 6:
        # A CI below 1e-6 is either a tiny value (a path smoothness of 1e-9: e-notation, the mean
        # to the CI's two digits) or float noise around a large one (a classifier accuracy of 99.85
        # stored at float32 by some runs: 4 significant digits, never '1e+02').
        # significant digits down to the CI's second: the mean's magnitude plus the CI's decimals
        digits = 2 if mean == 0 else min(4, max(2, 1 + math.floor(math.log10(abs(mean))) + decimals))
        return f"{mean:.{digits}g} ± {ci:.2g}"
    return f"{mean:.{decimals}f} ± {ci:.{decimals}f}"


def lead_verdict(lead: Lead) -> str:
    """Whether the best model is ahead of the runner-up beyond seed noise, in words."""
    if lead.runner_up is None:
        return "only model measured"
    if lead.p_value is None:
        untested = f"untested vs {lead.runner_up} (needs 2+ seeds each)"
        if lead.tested_runner_up is None:
            return untested
        word = "yes" if lead.tested_p_value < SIGNIFICANCE else "no"
        return f"{untested}; {word} vs {lead.tested_runner_up}, the next with 2+ seeds (Welch p = {lead.tested_p_value:.2g})"
    word = "yes" if lead.separated else "no"
    return f"{word} vs {lead.runner_up} (Welch p = {lead.p_value:.2g})"


def _table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _model_cell(model: str, role: str, collapsed: bool = False) -> str:
    text = f"{model} *({ROLE_NOTE[role]})*" if role in ROLE_NOTE else model
    return text + (f" **{COLLAPSED}**" if collapsed else "")


def _leader_cell(lead: Lead) -> str:
    """The best model; when it collapsed, also the best one that did not, with its mean."""
    text = _model_cell(lead.model, COMPETITOR, lead.collapsed)
    if lead.uncollapsed:
        text += f"; best not collapsed: {lead.uncollapsed} ({fmt_value(lead.uncollapsed_mean)})"
    return text


def _seed_cell(row) -> str:
    text = str(int(row["n_seeds"]))
    extra = [f"{int(row[c])} {w}" for c, w in (("n_failed", "failed/diverged"), ("n_incomplete", "incomplete")) if row[c]]
    return text + (f" (+{', '.join(extra)})" if extra else "")


def distinct_devices(finished) -> list:
    """The devices of runs, each once: a record that names no processor ("cpu:1 threads", written
    before records named it) is left out when another names the processor of the same setting."""
    devices = {str(r.record.get("device", "?")) for r in finished}
    return sorted(d for d in devices if not any(other.startswith(d + " (") for other in devices))


def _hardware(finished) -> str:
    """Devices and torch versions of a budget's finished runs."""
    devices = distinct_devices(finished) or ["?"]
    torches = sorted({str(r.record.get("versions", {}).get("torch", "?")) for r in finished if isinstance(r.record.get("versions"), dict)})
    text = "device " + ", ".join(f"`{d}`" for d in devices)
    if torches:
        text += "; torch " + ", ".join(torches)
    return text


MAX_LISTED_VERSIONS = 3


def _code_versions(finished) -> str:
    """The code versions behind a budget's runs: listed when few, else counted (runs.csv has each run's)."""
    versions = sorted({str(r.record.get("code_version", "?")) for r in finished})
    if len(versions) > MAX_LISTED_VERSIONS:
        return f"{len(versions)} code versions (each run's is in runs.csv)"
    return "code " + (", ".join(f"`{v}`" for v in versions) or "?")


def _budget_description(runs, budget: str) -> str:
    for r in runs:
        b = r.record.get("budget")
        if r.budget == budget and isinstance(b, dict) and b.get("description"):
            return str(b["description"])
    return ""


def _without_links(text: str) -> str:
    """Markdown links reduced to their text, for an image's alt text (plain text there)."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)


TABLE_METRICS = 9  # metric columns of a page's table, headline first in the publish order; the rest in the CSV


def verdict(board: Board, budget: str, published: dict) -> str:
    """The section's opening paragraph: who leads on the headline metric, whether beyond seed
    noise, and the paper's number for that model where there is one ("" without a headline)."""
    lead = best_by_metric(board, budget).get(board.headline) if board.headline else None
    if lead is None:
        return ""
    text = (
        f"**Verdict.** On the headline metric `{board.headline}` ({label(board.headline)}, {direction(board.headline)} "
        f"is better) **{lead.model}** leads the competitors with {fmt_value(lead.mean)}"
    )
    if lead.runner_up is not None:
        text += f"; ahead of the runner-up {lead.runner_up} ({fmt_value(lead.runner_up_mean)}) beyond seed noise: {lead_verdict(lead)}"
    text += "."
    if lead.collapsed:
        text += f" It collapsed (its score is that of a mean image); the best model that did not: {lead.uncollapsed or 'none'}"
        text += f" ({fmt_value(lead.uncollapsed_mean)})." if lead.uncollapsed else "."
    paper = published.get((lead.model, board.headline))
    if paper is not None:
        text += f" The paper reports {fmt_value(paper.value)} for {lead.model}."
    return text


def budget_section(board: Board, runs, budget: str, published: dict, plots: list, registered: list) -> str:
    table = board.for_budget(budget)
    keys = [k for k in board.metrics if table[f"{k}_mean"].notna().any()]
    finished = [r for r in runs if r.budget == budget and r.status == FINISHED]
    parts = [f"## Budget `{budget}`", ""]
    opening = verdict(board, budget, published)
    if opening:
        parts += [opening, ""]
    description = _budget_description(runs, budget)
    parts.append(
        f"{len(finished)} finished runs of {table['model'].nunique()} models; {_hardware(finished)}; "
        f"{_code_versions(finished)}."
        + (f" Budget: {description}." if description else "")
    )
    parts += ["", coverage_sentence(coverage(runs, budget, registered), budget), ""]
    shown_keys, more = keys[:TABLE_METRICS], keys[TABLE_METRICS:]  # the rest: leaderboard.csv and results.json
    header = ["#", "model", "seeds"] + [f"{k} {arrow(k)}".strip() for k in shown_keys] + ["train s"]
    rows = []
    for rank, (_, row) in enumerate(table.iterrows(), start=1):
        cells = [str(rank), _model_cell(row["model"], row["role"], bool(row["collapsed"])), _seed_cell(row)]
        cells += [fmt_mean_ci(row[f"{k}_mean"], row[f"{k}_ci95"]) for k in shown_keys]
        cells.append(fmt_value(row["train_seconds_mean"]))
        rows.append(cells)
    parts += [_table(header, rows), ""]
    sort_note = f"Sorted by `{board.headline}` ({label(board.headline)}, {direction(board.headline)} is better)" if board.headline else "No headline metric was measured"
    parts.append(
        f"{sort_note}. Cells: mean ± 95% confidence interval (Student t) over the finished seeds; one seed shows "
        "its value alone. ↓ lower is better, ↑ higher is better, no arrow: descriptive. *reference*: pixel fade "
        "(no learning); *oracle*: trained on the novel domain. Column definitions: the README's metrics table."
    )
    if more:
        parts[-1] += f" More columns, in [leaderboard.csv](leaderboard.csv) and [results.json](results.json): {', '.join(f'`{k}`' for k in more)}."
    parts.append("")
    if table["collapsed"].any():
        parts += [COLLAPSE_NOTE, ""]

    best = best_by_metric(board, budget)
    if best:
        parts += [
            "### Best per metric",
            "",
            "References and oracles are left out. *Ahead?*: whether the best model beats the runner-up beyond seed "
            f"noise (Welch's two-sided t-test over seeds, p < {SIGNIFICANCE:g}); untested below two seeds each, in which case the "
            "best is also tested against the next model that has two.",
            "",
        ]
        rows = [
            [f"{k} {arrow(k)}", _leader_cell(lead), fmt_value(lead.mean), lead.runner_up or DASH, fmt_value(lead.runner_up_mean) if lead.runner_up else DASH, lead_verdict(lead)]
            for k, lead in best.items()
        ]
        parts.append(_table(["metric", "best model", "mean", "runner-up", "runner-up mean", "ahead?"], rows))
        parts.append("")

    beside, shown = [], set()  # shown: the published metrics in the table, for their caveats
    for _, row in table.iterrows():
        for key in keys:
            paper = published.get((row["model"], key))
            if paper is not None:
                shown.add(key)
                beside.append([row["model"], f"{key} {arrow(key)}", fmt_mean_ci(row[f"{key}_mean"], row[f"{key}_ci95"]), fmt_value(paper.value), f"{paper.source}, {paper.note}"])
    if beside:
        parts += ["### Next to the paper", ""]
        parts.append(f"Published numbers from {PAPER} (single numbers, no seeds or intervals given); ours at the `{budget}` budget.")
        parts.append(_PAPER_GAP.get(budget, _PAPER_GAP[None]) + " See `bench/publish/paper.py` for each mapping.")
        parts += ["", _table(["model", "metric", f"ours ({budget})", "paper", "source"], beside), ""]
        caveats = caveats_for(board.pair, shown)
        if caveats:
            parts += ["Protocol differences measured in the suite's `leaderboards/reproduce.md`:", ""]
            parts += [f"- {text}" for text in caveats] + [""]

    unfinished = [r for r in runs if r.budget == budget and r.status != FINISHED]
    if unfinished:
        parts += ["### Runs that did not finish", ""]
        parts.append(_table(["model", "seed", "status", "note"], [[r.model, r.seed, r.status, r.note or DASH] for r in unfinished]))
        parts.append("")

    if plots:
        parts += ["### Plots", ""]
        for name, caption in plots:
            parts += [f"**{caption}**", "", f"![{_without_links(caption)}]({name})", ""]
    return "\n".join(parts)


_REBUILT_ONE = (
    "{count} run is known only from its values, rebuilt from an earlier runs.csv after its run folder was lost: {listed}. "
    "Its metrics are in every table, but its curves (noise frequency, ground truth) are missing from the plots and it has "
    "no row in the image grids; rerunning it restores both."
)
_REBUILT_MANY = (
    "{count} runs are known only from their values, rebuilt from an earlier runs.csv after their run folders were lost: "
    "{listed}. Their metrics are in every table, but their curves (noise frequency, ground truth) are missing from the "
    "plots and they have no row in the image grids; rerunning them restores both."
)


def rebuilt_sentence(runs) -> str:
    """Names the runs known only from values rebuilt from an earlier runs.csv (no curves), or ''."""
    seeds = {}
    for r in runs:
        if r.rebuilt:
            seeds.setdefault((r.model, r.budget), []).append(str(r.seed))
    if not seeds:
        return ""
    listed = "; ".join(f"{model} at `{budget}` (seed{'s' * (len(s) > 1)} {', '.join(s)})" for (model, budget), s in sorted(seeds.items(), key=lambda kv: (model_sort_key(kv[0][0]), kv[0][1])))
    count = sum(len(s) for s in seeds.values())
    template = _REBUILT_ONE if count == 1 else _REBUILT_MANY
    return template.format(count=count, listed=listed)


def earlier_section(board: Board, earlier: list) -> str:
    """'Results of an earlier revision': what the tables above leave out because a newer model,
    metric or data revision changed its meaning (bench/publish/revisions.py), mean over seeds;
    one table per reason, with the first EARLIER_COLUMNS of the metrics it concerns."""
    if not earlier:
        return ""
    by_reason = {}
    for item in earlier:
        by_reason.setdefault(item.why, []).append(item)
    parts = [
        "## Results of an earlier revision",
        "",
        "Left out of the tables, means and plots above because the model, a metric, or the data or test subset it was "
        "scored on has changed meaning since (each is versioned: `BenchModel.revision`, `register_metric(revision=)`, "
        "`DomainSpec.revision` and `subset_revision`; see `bench/publish/revisions.py`). Mean over the listed seeds; "
        "*rerun since*: a run at the current revision has replaced it above. Every value is in [runs.csv](runs.csv) "
        "and the records.",
        "",
    ]
    for why, items in sorted(by_reason.items(), key=lambda kv: (not kv[0].startswith("model"), kv[0])):
        keys = {k for item in items for k in item.keys}
        order = [k for k in board.metrics if k in keys] + ordered_metrics(keys - set(board.metrics), pair=board.pair)
        shown = order[:EARLIER_COLUMNS]
        groups = {}
        for item in items:
            groups.setdefault((item.run.budget, item.run.model, item.superseded), []).append(item)
        rows = []
        for (budget, model, superseded), group in sorted(groups.items(), key=lambda kv: (kv[0][0], model_sort_key(kv[0][1]), kv[0][2])):
            seeds = ", ".join(str(i.run.seed) for i in sorted(group, key=lambda i: i.run.seed))
            cells = [model + (" (rerun since)" if superseded else ""), f"`{budget}`", seeds]
            for key in shown:
                values = [v for v in (i.value(key) for i in group if i.run.status == FINISHED) if math.isfinite(v)]
                cells.append(fmt_value(float(np.mean(values))) if values else DASH)
            rows.append(cells)
        more = f" ({len(order) - len(shown)} more metrics in runs.csv)" if len(order) > len(shown) else ""
        parts += [f"**{why}**{more}", "", _table(["model", "budget", "seeds"] + [f"{k} {arrow(k)}".strip() for k in shown], rows), ""]
    return "\n".join(parts)


def pair_readme(board: Board, runs, published: dict, plots: dict, registered: list, earlier_figures: Optional[str] = None, earlier: tuple = (), n_dirs: Optional[int] = None) -> str:
    """plots: {budget: [(file name, caption)]};
    registered: every registered model name (the coverage line lists those without a finished run);
    earlier_figures: link to the hand-kept folder of figures drawn before run folders were lost, if any;
    earlier: the results of an earlier revision (`revisions.Earlier`), listed apart;
    n_dirs: how many run records the page was built from (default: len(runs))."""
    spec = data_layer.get_pair(board.pair)
    statuses = pd.Series([r.status for r in runs]).value_counts().sort_index()
    counts = ", ".join(f"{n} {s}" for s, n in statuses.items())
    n_earlier = len({(i.run.budget, i.run.model, i.run.seed, i.superseded) for i in earlier})
    apart = f"; results of {n_earlier} runs of an earlier revision, in whole or in part, are listed apart at the end" if earlier else ""
    parts = [
        f"# {board.pair}",
        "",
        f"{spec.train} → {spec.novel}: {spec.description}.",
        f"Written by `bench publish` (or `bench leaderboard --pair {board.pair}`) from {n_dirs or len(runs)} run records "
        f"({counts} at the current revision{apart}); regenerate rather than edit.",
        "",
    ]
    rebuilt = rebuilt_sentence(runs)
    if rebuilt and earlier_figures:
        rebuilt += f" The figures drawn from the original runs, before their folders were lost, are kept unchanged in [{earlier_figures}]({earlier_figures})."
    if rebuilt:
        parts += [rebuilt, ""]
    if board.headline:
        parts += [f"Headline metric: `{board.headline}` ({label(board.headline)}, {direction(board.headline)} is better); the choice per pair is explained in `bench/publish/columns.py`.", ""]
    for budget in board.budgets():
        parts += [budget_section(board, runs, budget, published, plots.get(budget, []), registered), ""]
    section = earlier_section(board, list(earlier))
    if section:
        parts += [section]
    parts += [
        "## Files",
        "",
        "- [runs.csv](runs.csv): one row per run directory (every status), every metric, config hash, code version, device, times.",
        "- [leaderboard.csv](leaderboard.csv): one row per model and budget: `<metric>_mean`, `<metric>_ci95` (95% CI half-width), seed counts.",
        f"- [records](../records/{board.pair}/): config.json and metrics.json of every run with a result, and the recon-matrix rows: a runs folder without checkpoints, from which `bench publish` regenerates this page (see `bench/publish/archive.py`).",
        "",
    ]
    return "\n".join(parts)


def wins_by_model(best: dict) -> str:
    """'ae: fid, recon_l2_novel; vae: adm_monotonicity' from best_by_metric's {metric: Lead}."""
    wins = {}
    for key, lead in best.items():
        wins.setdefault(_model_cell(lead.model, COMPETITOR, lead.collapsed), []).append(f"`{key}`")
    return "; ".join(f"{model}: {', '.join(keys)}" for model, keys in wins.items())


def index_readme(boards: dict, runs_by_pair: dict, extra_links: list, registered: list, figures: Optional[dict] = None) -> str:
    """boards: {pair: Board}. One row per pair and budget: how many registered models were run,
    the headline metric and its winner; then per pair, which model is best on which metric and the
    pair's headline plot and image grid (figures: {pair: [(path relative to the index, caption)]})."""
    rows, any_collapsed, leads = [], False, {}
    for pair, board in boards.items():
        spec = data_layer.get_pair(pair)
        runs = runs_by_pair[pair]
        for budget in board.budgets():
            finished = [r for r in runs if r.budget == budget and r.status == FINISHED]
            total = [r for r in runs if r.budget == budget]
            leads[(pair, budget)] = best_by_metric(board, budget)
            best = leads[(pair, budget)].get(board.headline) if board.headline else None
            any_collapsed |= bool(best and best.collapsed)
            rows.append(
                [
                    f"[{pair}]({pair}/README.md)",
                    f"{spec.train} → {spec.novel}",
                    f"`{budget}`",
                    f"{len(finished)} / {len(total)}",
                    coverage_cell(coverage(runs, budget, registered)),
                    f"{board.headline} {arrow(board.headline)}" if board.headline else DASH,
                    _leader_cell(best) if best else DASH,
                    fmt_value(best.mean) if best else DASH,
                    lead_verdict(best) if best else DASH,
                    ", ".join(distinct_devices(finished)) or DASH,
                ]
            )
    parts = [
        "# Leaderboards",
        "",
        "Results of the suite's runs, regenerated by `bench publish` from the run directories; do not edit by hand.",
        "Each pair's README has the full table (mean ± 95% CI over seeds for every metric), the best model per metric,",
        "the AugIntAE paper's numbers beside ours where it gives them, plots and image grids.",
        "",
        _table(["pair", "domains", "budget", "finished runs", "models run", "headline metric", "winner", "mean", "ahead of runner-up?", "hardware"], rows),
        "",
        "The winner is the best mean on the headline metric among competitors: pixel fade (a reference) and models "
        "trained on the novel domain (oracles) are ranked in each table but never named winner. "
        f"*Ahead of runner-up?*: Welch's two-sided t-test over seeds, p < {SIGNIFICANCE:g}; untested below two seeds each, "
        "in which case the winner is also tested against the next model that has two. "
        "*Models run*: registered models with a finished run at that budget, and how many of them have "
        f"{TARGET_SEEDS}+ seeds (each pair's README names the ones missing). "
        "Headline metrics: FID for two-domain pairs (else domain FID, else novel-domain reconstruction error), "
        "ground-truth MSE for `pole`, ACAI's mean distance for `lines` (see `bench/publish/columns.py`).",
        "",
    ]
    if any_collapsed:
        parts += [COLLAPSE_NOTE, ""]
    for pair, board in boards.items():
        parts += [f"## [{pair}]({pair}/README.md)", ""]
        for budget in board.budgets():
            wins = wins_by_model(leads[(pair, budget)])
            parts += [f"Best per metric at `{budget}` (competitors only): {wins or 'nothing measured yet'}.", ""]
        for path, caption in (figures or {}).get(pair, []):
            parts += [f"![{caption}]({path})", ""]
    for name, caption in extra_links:
        parts += [f"- [{caption}]({name})"]
    if extra_links:
        parts.append("")
    return "\n".join(parts)


"""Metric plots of one pair and budget, as PNG (matplotlib Agg through `Figure`, no pyplot state).

Each function returns True when it wrote its file and False, writing nothing, when its data is
absent (a metric the pair does not have, curves a run did not record), so a pair gets the plots
its runs support. Curves are means over the finished seeds of a (model, budget), with a 95% t
band when there are several; colours come from `palette.model_color` everywhere. Files carry no
timestamp or version metadata: the same runs give the same bytes.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.publish.aggregate import Board, mean_ci
from bench.publish.collect import FINISHED
from bench.publish.columns import COMPETITOR, REFERENCE, arrow, label, model_family, model_role
from bench.publish.palette import model_color, model_sort_key
from bench.publish.revisions import current_matrix_rows
from bench.recon_matrix import MATRIX_ID_COLUMNS

DPI = 110
STYLE = "whitegrid"
LEGEND_COLUMNS = 5
LEGEND_ROW_INCHES = 0.2  # figure height added per legend row
LEGEND_MAX_WIDTH = 0.97  # share of the figure's width a legend may take (a margin for hinting)
NOTE_WIDTH = 80  # characters per line of a title's "not drawn" note: a long list ran off the figure


FAMILY_PALETTE = tuple(sns.color_palette("tab10").as_hex())  # distinct colours within a family panel
LOG_SPAN = 10.0  # bars on a log scale when the largest mean is more than this times the smallest
MAX_ASPECT = 3.0  # no figure wider than 3:1: a strip of panels is unreadable at page width
TITLE_CHARS_PER_INCH = 11  # characters of a 10-point title per inch of figure width
GRID_COLUMNS = 2  # panels per row of a multi-panel figure


def _figure(ncols: int = 1, width: float = 6.0, height: float = 3.8, legend: bool = False):
    """A figure with one row of axes. `legend`: a figure legend will go under the axes
    (constrained layout places it; `_models_legend` adds the height its rows take)."""
    with sns.axes_style(STYLE):
        # drawn at the saved dpi, so that measured text extents are the saved ones
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if legend else None)
        axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _panel_grid(panels: int, panel_width: float, panel_height: float, legend: bool = False):
    """A figure of `panels` axes, GRID_COLUMNS to a row (unused cells hidden): (figure, axes)."""
    ncols = min(GRID_COLUMNS, panels)
    nrows = math.ceil(panels / ncols)
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(panel_width * ncols, panel_height * nrows), dpi=DPI, layout="constrained" if legend else None)
        grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in grid[panels:]:
        ax.set_visible(False)
    return fig, list(grid[:panels])


def _save(fig: Figure, path: Path) -> None:
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})


def _models_legend(fig: Figure, colors: dict) -> None:
    """One legend {label: colour} of the models under the axes: with a dozen models a legend
    inside the axes hides the curves it labels. It takes as many of LEGEND_COLUMNS columns as fit
    the figure's width (long names such as "wgan-gp-oracle (n=3)" ran off the right edge), and the
    figure grows by the rows it takes."""
    handles = [Line2D([], [], color=c, marker=".") for c in colors.values()]
    renderer = FigureCanvasAgg(fig).get_renderer()
    for ncols in range(min(LEGEND_COLUMNS, max(1, len(colors))), 0, -1):
        legend = fig.legend(handles, list(colors), loc="outside lower center", ncols=ncols, fontsize=7, frameon=False)
        if ncols == 1 or legend.get_window_extent(renderer).width <= LEGEND_MAX_WIDTH * fig.bbox.width:
            break
        legend.remove()
    fig.set_figheight(fig.get_figheight() + LEGEND_ROW_INCHES * math.ceil(len(colors) / ncols))


def _finished(runs, budget: str) -> dict:
    """{model: [finished runs of this budget]}, models in palette order."""
    by_model = {}
    for r in runs:
        if r.status == FINISHED and r.budget == budget:
            by_model.setdefault(r.model, []).append(r)
    return dict(sorted(by_model.items(), key=lambda kv: model_sort_key(kv[0])))


def _missing_note(groups: dict, drawn, what: str) -> str:
    """A line naming the models with finished runs but no recorded `what` (records rebuilt from an
    earlier runs.csv keep values only), so a figure never drops a model without saying so; or ''."""
    missing = [m for m in groups if m not in drawn]
    if not missing:
        return ""
    return "\n" + textwrap.fill(f"no {what} recorded, not drawn: {', '.join(missing)}", width=NOTE_WIDTH, break_on_hyphens=False)


def _bars(ax, table: pd.DataFrame, key: str, published: dict | None = None) -> bool:
    table = table[np.isfinite(table[f"{key}_mean"].astype(float))]
    if table.empty:
        return False
    x = np.arange(len(table))
    means = table[f"{key}_mean"].astype(float).to_numpy()
    errors = table[f"{key}_ci95"].astype(float).to_numpy()
    colors = [model_color(m) for m in table["model"]]
    log = bool((means > 0).all() and means.max() > LOG_SPAN * means.min())
    if log:  # one model ten times the others would flatten every other bar
        ax.set_yscale("log")
    bars = ax.bar(x, means, color=colors, edgecolor="black", linewidth=0.4)
    shown = np.isfinite(errors)  # one seed: no interval to draw
    if shown.any():
        lower = errors[shown]
        if (means >= 0).all():  # a non-negative metric: the interval stops at 0 (on a log scale, at a tenth of the bar)
            lower = np.minimum(lower, means[shown] * (0.9 if log else 1.0))
        ax.errorbar(x[shown], means[shown], yerr=[lower, errors[shown]], fmt="none", ecolor="black", capsize=3, linewidth=1)

    for bar, role in zip(bars, table["role"]):
        if role != COMPETITOR:
            bar.set_hatch("//")
    marked = False
    for i, model in enumerate(table["model"]):
        paper = (published or {}).get((model, key))
        if paper is not None:
            ax.scatter([i], [paper.value], marker="D", color="black", s=22, zorder=5, label=None if marked else "paper")
            marked = True
    if marked:
        ax.legend(loc="best", fontsize=8)
    collapsed = table["collapsed"].fillna(False).astype(bool).tolist() if "collapsed" in table else [False] * len(table)
    ticks = [f"{m} (n={n}{', collapsed' if c else ''})" for m, n, c in zip(table["model"], table["n_seeds"], collapsed)]
    ax.set_xticks(x, ticks, rotation=40, ha="right", rotation_mode="anchor", fontsize=8)
    for tick, c in zip(ax.get_xticklabels(), collapsed):
        if c:  # a collapsed model's low error is the mean image's: marked where the bar is read
            tick.set_color("firebrick")
    ax.set_ylabel(f"{label(key)} {arrow(key)}", fontsize=9)
    return True


def headline_bars(board: Board, budget: str, path: Path, published: dict) -> bool:
    """The headline metric per model: mean with its 95% CI; hatched bars are references/oracles,
    black diamonds the paper's number."""
    if board.headline is None:
        return False
    table = board.for_budget(budget)
    width = max(5.0, 0.6 * len(table) + 2.0)
    fig, (ax,) = _figure(width=width)
    if not _bars(ax, table, board.headline, published):
        return False
    title = f"{board.pair}, {budget} budget: {board.headline} (mean ± 95% CI over seeds)"
    ax.set_title(textwrap.fill(title, int(width * TITLE_CHARS_PER_INCH)), fontsize=10)  # wrapped, never cut
    _save(fig, path)
    return True


def admissibility_bars(board: Board, budget: str, path: Path) -> bool:
    """One panel per admissibility score (AEAI's conditions), mean ± 95% CI per model."""
    table = board.for_budget(budget)
    keys = [k for k in board.metrics if k.startswith("adm_") and np.isfinite(table[f"{k}_mean"].astype(float)).any()]
    if not keys:
        return False
    fig, axes = _panel_grid(len(keys), max(5.0, 0.45 * len(table) + 1.8), 4.0)
    for ax, key in zip(axes, keys):
        _bars(ax, table, key)
        ax.set_title(key, fontsize=9)
    fig.suptitle(f"{board.pair}, {budget} budget: admissibility of novel-domain paths", fontsize=10)
    _save(fig, path)
    return True


def _stacked(curves: list, length: int) -> np.ndarray:
    return np.array([c for c in curves if len(c) == length], dtype=np.float64)


def _mean_band(rows: np.ndarray):
    """Per-point mean and 95% t half-width over seeds (rows)."""
    stats = [mean_ci(rows[:, j]) for j in range(rows.shape[1])]
    return np.array([s[0] for s in stats]), np.array([s[1] for s in stats])


def _curve(ax, x, rows: np.ndarray, color: str, **kwargs) -> np.ndarray:
    mean, half = _mean_band(rows)
    ax.plot(x, mean, color=color, **kwargs)
    if rows.shape[0] > 1 and np.isfinite(half).all():
        low = mean - half
        if (rows[np.isfinite(rows)] >= 0).all():  # a non-negative quantity: its band stops at 0
            low = np.maximum(low, 0.0)
        ax.fill_between(x, low, mean + half, color=color, alpha=0.2, linewidth=0)
    return mean


def _series(runs, key: str, field: str, x_field: str):
    """(x, rows) of a details curve over seeds that recorded the same x; None if no seed has it."""
    found = [(r.details(key).get(x_field), r.details(key).get(field)) for r in runs]
    found = [(x, y) for x, y in found if isinstance(x, list) and isinstance(y, list) and len(x) == len(y) and x]
    if not found:
        return None
    x0 = found[0][0]
    rows = _stacked([[math.nan if v is None else v for v in y] for x, y in found if x == x0], len(x0))
    return np.asarray(x0, dtype=np.float64), rows


def noise_frequency_curves(runs, pair: str, budget: str, path: Path) -> bool:
    """Reconstruction L2 of uniform noise against its frequency f (AugIntAE Figure 11), with each
    model's novel-domain reconstruction error as a dotted line of its colour."""
    curves = {}
    groups = _finished(runs, budget)
    for model, group in groups.items():
        series = _series(group, "noise_l2_mean", "l2", "frequencies")
        if series is not None:
            refs = [r.details("noise_l2_mean").get("novel_reference") for r in group]
            curves[model] = (*series, mean_ci([float(v) for v in refs if isinstance(v, (int, float))])[0])
    if not curves:
        return False
    flat = {m: c for m, c in curves.items() if np.nanmax(np.abs(c[1])) == 0}  # pixel fade: no prior
    drawn = {m: c for m, c in curves.items() if m not in flat}
    if not drawn:
        return False
    families: dict = {}
    for model in drawn:
        families.setdefault(model_family(model), []).append(model)
    values = np.concatenate([c[1].ravel() for c in drawn.values()] + [np.array([c[2] for c in drawn.values()])])
    values = values[np.isfinite(values)]
    log_y = bool(values.size and values.min() > 0 and values.max() / values.min() > 30)
    # small multiples, one panel per model family: each family's models in colours that tell them
    # apart (tab10 within the panel), every other model's mean in grey behind them
    fig, axes = _panel_grid(len(families), 5.2, 3.8)
    for ax, (family, members) in zip(axes, sorted(families.items())):
        for model, (x, rows, _) in drawn.items():
            if model not in members:
                ax.plot(x, np.nanmean(rows, axis=0), color="0.82", linewidth=0.8, zorder=1)
        for k, model in enumerate(members):
            x, rows, ref = drawn[model]
            color = FAMILY_PALETTE[k % len(FAMILY_PALETTE)]
            _curve(ax, x, rows, color, marker=".", label=f"{model} (n={rows.shape[0]})", zorder=3)
            if math.isfinite(ref):
                ax.axhline(ref, color=color, linestyle=":", linewidth=1.2, zorder=2)
        ax.plot([], [], color="black", linestyle=":", linewidth=1.2, label="novel-domain error (dotted, model's colour)")
        ax.legend(fontsize=6, loc="best")
        if log_y:
            ax.set_yscale("log")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("noise frequency f (f x f grid, upscaled)", fontsize=8)
        ax.set_ylabel("reconstruction L2 (255 x MSE)", fontsize=8)
        ax.set_title(f"{family} models (grey: the others)", fontsize=9)
    title = f"{pair}, {budget} budget: reconstruction of noise of frequency f (AugIntAE Fig. 11)"
    if flat:
        title += f"\n{', '.join(flat)}: 0 at every f (no image prior), not drawn"
    title += _missing_note(groups, curves, "noise curve")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
    return True


def _loss_series(run, key: str):
    """(steps, values) of one logged loss of a run's loss_history; None if it never logged it."""
    history = run.payload.get("loss_history")
    points = [(h.get("step"), (h.get("losses") or {}).get(key)) for h in history if isinstance(h, dict)] if isinstance(history, list) else []
    points = [(s, v) for s, v in points if isinstance(s, (int, float)) and isinstance(v, (int, float))]
    return (tuple(s for s, _ in points), [float(v) for _, v in points]) if points else None


def balance_factor_curves(runs, pair: str, budget: str, path: Path) -> bool:
    """The AugIntAE balance factor k over training (appendix A.1), per adversarial model: mean over
    seeds with a 95% band, from the runs' loss histories. k = 1 weighs the adversarial term fully;
    k = 0 leaves a plain autoencoder."""
    curves = {}
    for model, group in _finished(runs, budget).items():
        found = [s for s in (_loss_series(r, "k") for r in group) if s is not None]
        if not found:
            continue
        steps = found[0][0]
        rows = _stacked([v for x, v in found if x == steps], len(steps))
        curves[model] = (np.asarray(steps, dtype=np.float64), rows)
    if not curves:
        return False
    fig, (ax,) = _figure(width=7.0, height=3.6, legend=True)
    legend = {}
    for model, (x, rows) in curves.items():
        color = model_color(model)
        _curve(ax, x, rows, color, marker=".", markersize=3)
        legend[f"{model} (n={rows.shape[0]})"] = color
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("training step")
    ax.set_ylabel("balance factor k")
    ax.set_title(f"{pair}, {budget} budget: k over training (1: adversarial term on, 0: plain autoencoder)", fontsize=9)
    _models_legend(fig, legend)
    _save(fig, path)
    return True


def _median_curve(ax, x, rows: np.ndarray, color: str, **kwargs) -> None:
    """The median over seeds (rows) with the interquartile range as a band: with three seeds a
    Student-t interval spans the whole axis, the quartiles show the spread itself."""
    with np.errstate(all="ignore"):
        median = np.nanmedian(rows, axis=0)
        ax.plot(x, median, color=color, **kwargs)
        if rows.shape[0] > 1:
            low, high = np.nanpercentile(rows, 25, axis=0), np.nanpercentile(rows, 75, axis=0)
            if np.isfinite(low).all() and np.isfinite(high).all():
                ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)


def ground_truth_curves(runs, pair: str, budget: str, path: Path) -> bool:
    """AEAI's synthetic-pair figures, one panel per quantity: MSE to the true image vs alpha;
    predicted vs true alpha; parameter distance of the interpolant to the source, and to the
    target, vs alpha. Medians over seeds with interquartile bands."""
    groups = _finished(runs, budget)
    mse = {m: s for m, g in groups.items() if (s := _series(g, "gt_mse_mean", "mse_mean", "alphas")) is not None}
    pred = {m: s for m, g in groups.items() if (s := _series(g, "alpha_error_median", "alpha_pred_median", "alphas")) is not None}
    distance = {"source": {}, "target": {}}
    perfect = {}
    for m, g in groups.items():
        for end, field in (("source", "a"), ("target", "b")):
            found = _series(g, "alpha_error_median", f"param_distance_to_{field}_mean", "alphas")
            if found is not None:
                distance[end][m] = found
                if perfect.get(end) is None:  # the first model that recorded the perfect curve
                    perfect[end] = _series(g, "alpha_error_median", f"perfect_distance_to_{field}_mean", "alphas")
    panels = [p for p, data in (("mse", mse), ("alpha", pred), ("source", distance["source"]), ("target", distance["target"])) if data]
    if not panels:
        return False
    drawn = {m: model_color(m) for m in groups if m in mse or m in pred or m in distance["source"] or m in distance["target"]}
    fig, axes = _panel_grid(len(panels), 5.0, 4.0, legend=True)
    for ax, panel in zip(axes, panels):
        ax.set_xlabel("alpha")
        if panel == "mse":
            for model, (x, rows) in mse.items():
                _median_curve(ax, x, rows, model_color(model), marker=".")
            medians = np.array([np.nanmedian(rows) for _, rows in mse.values()])
            if (medians > 0).all() and medians.max() > LOG_SPAN * medians.min():  # one model far above would flatten the rest
                ax.set_yscale("log")
            ax.set_ylabel("MSE to the true image")
            ax.set_title("interpolant vs ground truth", fontsize=9)
        elif panel == "alpha":
            ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1, label="perfect")
            for model, (x, rows) in pred.items():
                _median_curve(ax, x, rows, model_color(model), marker=".")
            ax.set_ylabel("predicted alpha (median over pairs)")
            ax.set_ylim(-0.1, 1.1)  # the meaningful range: a model far off it is off the chart, not squashing the rest
            ax.set_title("predicting alpha (axis clipped to -0.1..1.1)", fontsize=9)
            ax.legend(fontsize=6, loc="best")
        else:
            for model, (x, rows) in distance[panel].items():
                _median_curve(ax, x, rows, model_color(model))
            if perfect.get(panel) is not None:
                px, prow = perfect[panel]
                ax.plot(px, np.nanmean(prow, axis=0), color="black", linestyle=":", linewidth=1.2, label="perfect interpolation")
                ax.legend(fontsize=6, loc="best")
            ax.set_ylabel(f"parameter distance to the {panel} (mean over pairs)")
            ax.set_title(f"distance to the {panel}", fontsize=9)
    _models_legend(fig, drawn)
    note = _missing_note(groups, drawn, "ground-truth curve")
    fig.suptitle(f"{pair}, {budget} budget: ground-truth interpolation (median over seeds, band: interquartile range){note}", fontsize=10)
    _save(fig, path)
    return True


def recon_matrix_heatmap(table, pair: str, budget: str, path: Path, runs=()) -> bool:
    """The paper's Table 1 as a heatmap: mean reconstruction L2 of each model (rows, with the
    domain it trained on and the number of runs averaged) on every evaluation domain (columns),
    over the CSV's runs at `budget`; the title names the models of `runs` at `budget` that finished
    with no row."""
    if table is None:
        return False
    table = table[table["budget"].astype(str) == budget]
    current = current_matrix_rows(table)
    earlier, table = int((~current).sum()), table[current]
    domains = [c for c in table.columns if c not in MATRIX_ID_COLUMNS and pd.api.types.is_numeric_dtype(table[c])]
    if not domains or table.empty:
        return False
    rows = table.groupby(["model", "trained_on"], sort=False)
    grid, counts = rows[domains].mean(), rows.size()
    grid = grid.loc[sorted(grid.index, key=lambda mt: (model_sort_key(mt[0]), mt[1]))]
    grid.index = [f"{m} ({t}, n={counts[(m, t)]})" for m, t in grid.index]
    finished = sorted({r.model for r in runs if r.budget == budget and r.status == FINISHED and model_role(r.model) != REFERENCE}, key=model_sort_key)  # pixel fade: nothing to reconstruct
    note = _missing_note(dict.fromkeys(finished), set(table["model"].astype(str)), "reconstruction-matrix row")
    if earlier:
        note += f"\n{earlier} row{'s' * (earlier > 1)} of an earlier model or test-subset revision left out (in the CSV)"
    fig, (ax,) = _figure(width=1.6 * len(domains) + 5.0, height=max(3.0, 0.45 * len(grid) + 2.0))
    sns.heatmap(grid, ax=ax, annot=True, fmt=".2f", cmap="viridis_r", cbar_kws={"label": "255 x MSE"})
    ax.set_xlabel("evaluation domain (test split)")
    ax.set_ylabel("model (trained on)")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(f"{pair}, {budget} budget: reconstruction L2 across domains (AugIntAE Table 1){note}", fontsize=10)
    _save(fig, path)
    return True

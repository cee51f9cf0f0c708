"""`bench leaderboard` / `bench publish` on a synthetic runs folder written here (fake run records,
no training): aggregation against hand computation, statuses, determinism, plots, atomicity."""

import json
import math
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from bench.cli import cli
from bench.errors import BenchError
from bench.publish import columns, plots, publish, publish_pair
from bench.publish.aggregate import Lead, mean_ci, welch_p
from bench.publish.collect import scan_pair
from bench.publish.coverage import coverage
from bench.publish.markdown import fmt_mean_ci, lead_verdict
from bench.publish.paper import PUBLISHED, caveats_for, published_for
from models import registry

FID = {"ae": [60.0, 62.0, 67.0], "augintae": [50.0, 53.0], "pixel-fade": [40.0]}
RECON = {"ae": [3.0, 3.2, 3.4], "augintae": [4.0, 4.4], "pixel-fade": [0.0]}
MONOTONE = {"ae": [0.9, 0.95, 0.92], "augintae": [0.97, 0.99], "pixel-fade": [1.0]}
GT_MSE = {"ae": [0.004, 0.005, 0.0045], "pixel-fade": [0.0003]}
ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _entry(value, details=None):
    entry = {"value": value, "protocol": {"budget": "quick"}, "seconds": 1.0, "metric": "test"}
    if details is not None:
        entry["details"] = details
    return entry


def _current_revision(model) -> int:
    return registry.get(model).revision if model in registry.names() else 1


def _write_run(root, pair, model, seed, payload=None, checkpoint=False, model_revision=None):
    run_dir = Path(root) / pair / model / f"seed{seed}"
    run_dir.mkdir(parents=True)
    record = {
        "model": model, "pair": pair, "seed": seed, "image_shape": [1, 28, 28], "hyperparameters": {},
        "budget": {"name": "quick", "description": "test budget"}, "config_hash": f"hash-{model}",
        "code_version": "0.1.0+test", "device": "cpu:2 threads", "versions": {"torch": "2.x"},
        "model_revision": _current_revision(model) if model_revision is None else model_revision,
    }  # fmt: skip
    (run_dir / "config.json").write_text(json.dumps(record))
    if checkpoint:
        (run_dir / "checkpoint.pt").write_bytes(b"not read")
    if payload is not None:
        (run_dir / "metrics.json").write_text(json.dumps(payload))
    return run_dir


def _finished(metrics, seed):
    return {"status": "finished", "metrics": metrics, "steps": 100, "train_seconds": 10.0 + seed, "wall_seconds": 30.0, "finished_at": "2026-01-01T00:00:00Z"}


def make_runs(root):
    """omniglot: ae 3 seeds, augintae 2 finished + 1 diverged, pixel-fade 1, wgan-gp incomplete;
    pole: ae 3 seeds and pixel-fade with ground-truth curves."""
    for model in FID:
        for seed, fid in enumerate(FID[model]):
            noise = {"frequencies": [1, 2, 4, 8], "l2": [40.0 + seed, 42.0, 45.0, 50.0 - seed], "novel_reference": RECON[model][seed]}
            if model == "pixel-fade":
                noise["l2"] = [0.0] * 4
            metrics = {
                "fid": _entry(fid),
                "recon_l2_novel": _entry(RECON[model][seed]),
                "adm_monotonicity": _entry(MONOTONE[model][seed]),
                "noise_l2_mean": _entry(float(np.mean(noise["l2"])), noise),
            }
            _write_run(root, "omniglot", model, seed, _finished(metrics, seed))
    _write_run(root, "omniglot", "augintae", 2, {"status": "diverged", "diverged_at_step": 7, "metrics": {}, "finished_at": "2026-01-01T00:00:00Z"})
    _write_run(root, "omniglot", "wgan-gp", 0, checkpoint=True)
    for model, values in GT_MSE.items():
        for seed, mse in enumerate(values):
            gt = {"alphas": ALPHAS, "mse_mean": [mse * (1 + a * (1 - a)) for a in ALPHAS]}
            alpha = {
                "alphas": ALPHAS, "alpha_pred_median": [min(1.0, a + 0.05 * seed) for a in ALPHAS],
                "param_distance_to_a_mean": [30 * a for a in ALPHAS], "param_distance_to_b_mean": [30 * (1 - a) for a in ALPHAS],
                "perfect_distance_to_a_mean": [30 * a for a in ALPHAS], "perfect_distance_to_b_mean": [30 * (1 - a) for a in ALPHAS],
            }  # fmt: skip
            metrics = {"gt_mse_mean": _entry(mse, gt), "alpha_error_median": _entry(0.05 * seed, alpha), "recon_l2_novel": _entry(1.0 + seed)}
            metrics["recon_spread_novel"] = _entry(1.0 if model == "pixel-fade" else 0.01 * (seed + 1))  # the ae collapsed
            _write_run(root, "pole", model, seed, _finished(metrics, seed))
    (Path(root) / "lb").mkdir()  # not a pair: ignored
    pd.DataFrame(
        {"run": ["a", "b"], "model": ["ae", "ae"], "seed": [0, 1], "budget": ["quick"] * 2, "trained_on": ["omniglot-background"] * 2, "model_revision": [2, 2], "subset_revision": [2, 2], "mnist": [10.0, 12.0], "omniglot-evaluation": [3.0, 3.5]}
    ).to_csv(Path(root) / "omniglot" / "recon_matrix.csv", index=False)
    return Path(root)


def _snapshot(folder) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One runs folder, published twice into two folders (and once more over the first)."""
    base = tmp_path_factory.mktemp("publish")
    runs = make_runs(base / "runs")
    out = base / "leaderboards"
    out.mkdir()
    (out / "perf.md").write_text("# perf, written by someone else\n")
    (out / "reproduce.md").write_text("# how, written by hand\n")
    (out / "perf.csv").write_text("figure,value\n")
    publish(runs, out, echo=lambda m: None)
    first = _snapshot(out)
    publish(runs, out, echo=lambda m: None)
    return {"runs": runs, "out": out, "first": first, "again": _snapshot(out)}


def test_leaderboard_means_cis_and_seed_counts_match_hand_computation(published):
    board = pd.read_csv(published["out"] / "omniglot" / "leaderboard.csv").set_index("model")
    for model, values in FID.items():
        n = len(values)
        mean = float(np.mean(values))
        assert board.loc[model, "fid_mean"] == pytest.approx(mean, rel=1e-5)
        if n > 1:
            low, high = stats.t.interval(0.95, n - 1, loc=mean, scale=stats.sem(values))
            assert board.loc[model, "fid_ci95"] == pytest.approx((high - low) / 2, rel=1e-5)
            low, high = stats.t.interval(0.95, n - 1, loc=np.mean(RECON[model]), scale=stats.sem(RECON[model]))
            assert board.loc[model, "recon_l2_novel_ci95"] == pytest.approx((high - low) / 2, rel=1e-5)
        else:
            assert math.isnan(board.loc[model, "fid_ci95"])  # one seed: no interval
        assert board.loc[model, "n_seeds"] == n
    assert board.loc["ae", "fid_ci95"] == pytest.approx(4.302653 * np.std([60, 62, 67], ddof=1) / np.sqrt(3), rel=1e-5)
    assert (board.loc["augintae", "n_failed"], board.loc["augintae", "n_incomplete"]) == (1, 0)
    assert (board.loc["wgan-gp", "n_seeds"], board.loc["wgan-gp", "n_incomplete"]) == (0, 1)
    assert (board.loc["pixel-fade", "role"], board.loc["ae", "role"]) == ("reference", "competitor")
    # sorted by the headline (fid, lower first), models without a value last
    assert list(board.index) == ["pixel-fade", "augintae", "ae", "wgan-gp"]


def test_welch_comparison_of_the_best_two_models():
    assert welch_p([50.0, 53.0], [60.0, 62.0, 67.0]) == pytest.approx(stats.ttest_ind([50, 53], [60, 62, 67], equal_var=False).pvalue)
    assert welch_p([1.0], [2.0, 3.0]) is None  # one seed: no spread, no test
    assert welch_p([2.0, 2.0], [3.0, 3.0]) == 0.0 and welch_p([2.0, 2.0], [2.0, 2.0]) == 1.0  # spread-free samples
    spread = [0.89375, 0.960625, 0.98625]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one spread-free side: exact, so no precision warning
        assert welch_p([1.0, 1.0, 1.0], spread) == pytest.approx(stats.ttest_1samp(spread, 1.0).pvalue)
    assert lead_verdict(Lead("fid", "ae", 1.0, runner_up="vae", runner_up_mean=2.0, p_value=0.2)) == "no vs vae (Welch p = 0.2)"
    assert lead_verdict(Lead("fid", "ae", 1.0, runner_up="vae", runner_up_mean=2.0)) == "untested vs vae (needs 2+ seeds each)"


def test_mean_ci_edge_cases():
    assert mean_ci([])[2] == 0 and math.isnan(mean_ci([])[0])
    mean, half, n = mean_ci([2.0, float("nan"), 4.0, None])
    assert (mean, n) == (3.0, 2)
    assert half == pytest.approx(stats.t.ppf(0.975, 1) * np.std([2, 4], ddof=1) / np.sqrt(2))
    assert mean_ci([5.0, 5.0, 5.0])[1] == 0.0
    assert fmt_mean_ci(63.0, 8.957) == "63.0 ± 9.0"
    assert fmt_mean_ci(0.0045, 0.00124) == "0.0045 ± 0.0012"
    assert fmt_mean_ci(40.0, float("nan")) == "40"
    assert fmt_mean_ci(7.4e-9, 1.2e-9) == "7.4e-09 ± 1.2e-09"
    assert fmt_mean_ci(99.85, 1.5e-6) == "99.85 ± 1.5e-06"  # float noise around a large mean keeps its digits


def test_every_run_keeps_its_status_in_runs_csv_and_readme(published):
    runs = pd.read_csv(published["out"] / "omniglot" / "runs.csv")
    assert len(runs) == 8  # 3 + 3 + 1 + 1: nothing dropped
    diverged = runs[(runs.model == "augintae") & (runs.seed == 2)].iloc[0]
    assert diverged.status == "diverged" and "step 7" in diverged.note and math.isnan(diverged.fid)
    incomplete = runs[runs.model == "wgan-gp"].iloc[0]
    assert incomplete.status == "incomplete" and "checkpoint" in incomplete.note
    assert runs.run_dir.tolist()[0] == "omniglot/ae/seed0"  # relative: the output does not depend on where runs live
    readme = (published["out"] / "omniglot" / "README.md").read_text()
    assert re.search(r"\| augintae \| 2 \| diverged \| diverged at step 7 \|", readme)
    assert "| wgan-gp | 0 | incomplete |" in readme
    assert "| 2 | augintae | 2 (+1 failed/diverged) | 52 ± 19 |" in readme


def test_readme_puts_paper_numbers_beside_ours_and_names_the_winner(published):
    readme = (published["out"] / "omniglot" / "README.md").read_text()
    # AugIntAE Table 2, Omniglot row: AugIntAE FID 82.5; Table 1: AE on Omni (test) 8.30
    assert re.search(r"\| augintae \| fid ↓ \| 52 ± 19 \| 82\.5 \| AugIntAE Table 2", readme)
    assert re.search(r"\| ae \| recon_l2_novel ↓ \| 3\.20 ± 0\.50 \| 8\.3 \| AugIntAE Table 1", readme)
    # the Omniglot FID caveat follows the table; no misclassification is beside ours, so no caveat for it
    caveats = readme.split("### Next to the paper")[1].split("###")[0]
    assert "- `fid` on Omniglot: the suite compares 28 px images with 28 px test drawings." in caveats
    assert "`misclassification`" not in caveats
    assert "device `cpu:2 threads`" in readme and "Budget: test budget" in readme
    index = (published["out"] / "README.md").read_text()
    # pixel fade has the lowest FID but is a reference: augintae wins
    # augintae [50, 53] vs ae [60, 62, 67]: Welch p = 0.021, ahead beyond seed noise
    # models run: ae (3 seeds), augintae (2 finished), pixel-fade (1); wgan-gp's only run is incomplete
    n = len(registry.names())
    assert f"| [omniglot](omniglot/README.md) | omniglot-background → omniglot-evaluation | `quick` | 6 / 8 | 3 / {n} (1 at 3+ seeds) | fid ↓ | augintae | 51.5 | yes vs ae (Welch p = 0.021) |" in index
    # the pole ae returns one image whatever the input: named, but marked
    assert f"| [pole](pole/README.md) | pole → pole | `quick` | 4 / 4 | 2 / {n} (1 at 3+ seeds) | gt_mse_mean ↓ | ae **(collapsed)** | 0.0045 | only model measured |" in index
    assert "it returns nearly one image whatever the input" in index
    # who wins which metric, and the pair's headline plot, on the index page itself
    assert "Best per metric at `quick` (competitors only): augintae: `fid`, `adm_monotonicity`; ae: `recon_l2_novel`." in index
    assert "![omniglot, quick: headline metric per model](omniglot/headline_quick.png)" in index
    assert (published["out"] / "omniglot" / "headline_quick.png").is_file()
    readme = (published["out"] / "omniglot" / "README.md").read_text()
    # recon: ae [3.0, 3.2, 3.4] vs augintae [4.0, 4.4]: better mean, but two seeds leave it within noise
    assert "| recon_l2_novel ↓ | ae | 3.2 | augintae | 4.2 | no vs augintae (Welch p = 0.066) |" in readme
    assert "collapsed" not in readme  # no spread recorded: nothing is marked
    pole = (published["out"] / "pole" / "README.md").read_text()
    assert re.search(r"\| 2 \| ae \*\*\(collapsed\)\*\* \| 3 \| 0\.0045 ± 0\.0012 \|", pole)
    assert "| pixel-fade *(reference)* | 1 |" in pole and pole.count("**(collapsed)**") >= 3  # table row, note, best-per-metric
    assert "[Speed figures (`bench perf`)](perf.md)" in index
    assert "- [How the checked-in results were produced (commands, budget, hardware)](reproduce.md)" in index


def test_readme_names_the_registered_models_without_a_finished_run(published):
    readme = (published["out"] / "omniglot" / "README.md").read_text()
    n = len(registry.names())
    assert f"Coverage at `quick`: 3 of {n} registered models have finished runs, 1 of them at 3 or more seeds." in readme
    assert "Fewer seeds: pixel-fade (1), augintae (2)." in readme  # the diverged augintae seed does not count
    missing = re.search(r"No finished run yet: ([^.]*)\.", readme).group(1).split(", ")
    assert set(missing) == set(registry.names()) - {"ae", "augintae", "pixel-fade"}  # wgan-gp included: incomplete
    assert missing.index("ae-gan") < missing.index("wgan-gp")  # plot order, not alphabetical


def test_coverage_counts_a_plugin_model_that_was_run_but_is_not_registered_here(published):
    runs = scan_pair(published["runs"], "omniglot")
    runs[0].model = "my-plugin"
    cov = coverage(runs, "quick", ["ae", "augintae", "vae"])
    assert cov.registered == 5 and "my-plugin" in cov.run and cov.without_finished_run == ["vae"]
    assert coverage(runs, "paper", ["ae"]).run == []  # another budget: nothing run


def test_coverage_counts_built_in_models_and_named_plugins_not_whatever_else_is_installed(published, tmp_path, monkeypatch):
    """With a third-party plug-in installed, publish wrote '2 of 19 registered models' where a
    machine without it wrote '2 of 17': the bytes must depend on the inputs only."""
    import types

    from models.ae import AE

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_NAMED_PLUGINS", set())
    builtin = registry.counted_names()
    installed = types.new_class("Installed", (AE,))
    installed.__module__ = "someones_package.models"
    registry.register("someones-ae", family="autoencoder", description="x", paper="x")(installed)
    assert registry.counted_names() == builtin
    (tmp_path / "named_plugin.py").write_text(
        "from models.ae import AE\nfrom models.registry import register\n"
        "@register('named-ae', family='autoencoder', description='x', paper='x')\nclass NamedAE(AE):\n    pass\n"
    )
    registry.load_plugin(str(tmp_path / "named_plugin.py"))
    assert registry.counted_names() == sorted([*builtin, "named-ae"])
    out = _published_copy(published, tmp_path)
    monkeypatch.setattr(registry, "_NAMED_PLUGINS", set())
    publish(published["runs"], out, echo=lambda m: None)
    assert f"of {len(builtin)} registered models" in (out / "omniglot" / "README.md").read_text()


def test_a_collapsed_winner_is_shown_with_the_best_model_that_did_not_collapse(tmp_path):
    """On pole a model returning the mean scene scores a low ground-truth MSE; the reader must
    also see which model that really moves the pole did best."""
    for seed in range(2):
        for model, mse, spread in (("vae", 0.0006, 0.02), ("aeai", 0.0010, 0.9), ("ae", 0.0030, 0.8)):
            metrics = {"gt_mse_mean": _entry(mse + 0.0001 * seed), "recon_spread_novel": _entry(spread)}
            _write_run(tmp_path / "runs", "pole", model, seed, _finished(metrics, seed))
    publish(tmp_path / "runs", tmp_path / "out", echo=lambda m: None)
    index = (tmp_path / "out" / "README.md").read_text()
    assert "| gt_mse_mean ↓ | vae **(collapsed)**; best not collapsed: aeai (0.00105) | 0.00065 |" in index
    readme = (tmp_path / "out" / "pole" / "README.md").read_text()
    assert "| gt_mse_mean ↓ | vae **(collapsed)**; best not collapsed: aeai (0.00105) | 0.00065 | aeai |" in readme
    assert index.count("best not collapsed") == 1  # the per-metric wins line names leaders only


def test_a_winner_whose_runner_up_has_one_seed_is_tested_against_the_next_with_two(tmp_path):
    """A one-seed runner-up cannot be tested; the reader still needs to know whether the winner
    beats the closest model that can be (omniglot's augintae-scale against the ae)."""
    for model, fids in (("augintae-scale", [52.0, 53.0, 51.0]), ("augintae-shear", [52.5]), ("ae", [53.0, 54.0, 52.5]), ("vae", [90.0, 95.0])):
        for seed, fid in enumerate(fids):
            _write_run(tmp_path / "runs", "omniglot", model, seed, _finished({"fid": _entry(fid)}, seed))
    publish(tmp_path / "runs", tmp_path / "out", echo=lambda m: None)
    p = stats.ttest_ind([52.0, 53.0, 51.0], [53.0, 54.0, 52.5], equal_var=False).pvalue
    verdict = f"untested vs augintae-shear (needs 2+ seeds each); no vs ae, the next with 2+ seeds (Welch p = {p:.2g})"
    assert f"| {verdict} |" in (tmp_path / "out" / "README.md").read_text()
    assert f"| augintae-shear | 52.5 | {verdict} |" in (tmp_path / "out" / "omniglot" / "README.md").read_text()
    lead = Lead("fid", "ae", 1.0, runner_up="x", tested_runner_up="vae", tested_p_value=0.001)
    assert lead_verdict(lead) == "untested vs x (needs 2+ seeds each); yes vs vae, the next with 2+ seeds (Welch p = 0.001)"


def test_publish_is_deterministic_and_leaves_other_files_alone(published):
    assert published["first"] == published["again"]  # CSVs, Markdown and PNGs, byte for byte
    assert {"omniglot/runs.csv", "omniglot/leaderboard.csv", "omniglot/README.md", "README.md"} <= published["first"].keys()
    assert published["again"]["perf.md"] == b"# perf, written by someone else\n"
    assert published["again"]["perf.csv"] == b"figure,value\n"
    assert not [p for p in published["out"].iterdir() if p.name.startswith(".")]  # no staging or lock left
    assert not (published["out"] / "lb").exists()


def test_plots_are_written_non_empty_and_skipped_without_data(published):
    snap = published["first"]
    for name in ("omniglot/headline_quick.png", "omniglot/noise_frequency_quick.png", "omniglot/admissibility_quick.png",
                 "omniglot/recon_matrix_quick.png", "pole/headline_quick.png", "pole/ground_truth_quick.png"):  # fmt: skip
        assert snap[name].startswith(b"\x89PNG") and len(snap[name]) > 5000, name
    from io import BytesIO

    from PIL import Image

    for name, data in snap.items():
        if name.endswith(".png"):
            width, height = Image.open(BytesIO(data)).size
            assert width <= plots.MAX_ASPECT * height, f"{name} is {width}x{height}: wider than 3:1, unreadable at page width"
    assert "omniglot/ground_truth_quick.png" not in snap  # no ground truth on a two-domain pair
    assert "pole/admissibility_quick.png" not in snap
    readme = snap["omniglot/README.md"].decode()
    assert "![noise-frequency curves (AugIntAE Figure 11)](noise_frequency_quick.png)" in readme
    assert "ground_truth" not in readme


def _saved_figure(monkeypatch, draw):
    """The one figure `draw()` saves (no file written)."""
    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig))
    assert draw()
    (fig,) = saved
    return fig


def _figure_text(monkeypatch, draw) -> str:
    """Every title and suptitle of the figure `draw()` saves, as one string."""
    fig = _saved_figure(monkeypatch, draw)
    return " ".join([fig._suptitle.get_text() if fig._suptitle else ""] + [ax.get_title() for ax in fig.axes])


def test_curve_plots_name_the_models_whose_runs_kept_no_curves(tmp_path, monkeypatch):
    runs = make_runs(tmp_path / "runs")
    for seed in range(3):  # ae's records rebuilt from values: no curves
        path = runs / "pole" / "ae" / f"seed{seed}" / "metrics.json"
        payload = json.loads(path.read_text())
        payload["metrics"] = {k: {"value": v["value"]} for k, v in payload["metrics"].items()}
        path.write_text(json.dumps(payload))
    text = _figure_text(monkeypatch, lambda: plots.ground_truth_curves(scan_pair(runs, "pole"), "pole", "quick", tmp_path / "gt.png"))
    assert "no ground-truth curve recorded, not drawn: ae" in text
    text = _figure_text(monkeypatch, lambda: plots.noise_frequency_curves(scan_pair(runs, "omniglot"), "omniglot", "quick", tmp_path / "n.png"))
    assert "not drawn" in text and "recorded" not in text  # every finished omniglot run kept its curve


def _every_model_finished(runs, keep_curves: bool):
    """`runs` with a finished omniglot seed 0 of every registered model, copied from ae's; without
    `keep_curves` the copies keep only their values (as rebuilt records do)."""
    template = runs / "omniglot" / "ae" / "seed0"
    for name in registry.names():
        if not (runs / "omniglot" / name).exists():
            target = runs / "omniglot" / name / "seed0"
            shutil.copytree(template, target)
            record = json.loads((target / "config.json").read_text())
            (target / "config.json").write_text(json.dumps({**record, "model": name}))
            if not keep_curves:
                payload = json.loads((target / "metrics.json").read_text())
                payload["metrics"] = {k: {"value": v["value"]} for k, v in payload["metrics"].items()}
                (target / "metrics.json").write_text(json.dumps(payload))
    return runs


def test_a_long_list_of_models_without_curves_wraps_inside_the_figure(tmp_path, monkeypatch):
    """Omniglot after the loss named fourteen models in one title line, cut off at both edges."""
    runs = _every_model_finished(make_runs(tmp_path / "runs"), keep_curves=False)
    fig = _saved_figure(monkeypatch, lambda: plots.noise_frequency_curves(scan_pair(runs, "omniglot"), "omniglot", "quick", tmp_path / "n.png"))
    canvas = FigureCanvasAgg(fig)  # as saved: the constrained layout runs on draw
    canvas.draw()
    renderer = canvas.get_renderer()
    title = fig._suptitle  # the figure's title above the family panels
    assert "not drawn: " in title.get_text() and title.get_text().count("\n") >= 2  # the note took more than one line
    box = title.get_window_extent(renderer)
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1


def test_noise_curves_are_small_multiples_by_family_with_every_model_labelled_inside_the_figure(tmp_path, monkeypatch):
    """Seventeen overlapping bands in one panel, the AugIntAE variants in near-identical greens:
    one panel per model family, distinct colours within it, the others in grey behind, and each
    panel's legend (models and the dotted reference line) inside the figure."""
    runs = _every_model_finished(make_runs(tmp_path / "runs"), keep_curves=True)
    fig = _saved_figure(monkeypatch, lambda: plots.noise_frequency_curves(scan_pair(runs, "omniglot"), "omniglot", "quick", tmp_path / "n.png"))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_legend()]
    assert len(panels) >= 3 and all(ax.get_title().endswith("models (grey: the others)") for ax in panels)
    labels = [t.get_text() for ax in panels for t in ax.get_legend().get_texts()]
    assert "wgan-gp-oracle (n=1)" in labels and labels.count("novel-domain error (dotted, model's colour)") == len(panels)
    augintae = next(ax for ax in panels if ax.get_title().startswith("augintae"))
    colours = [line.get_color() for line in augintae.get_lines() if line.get_color() != "0.82" and line.get_label().startswith("augintae")]
    assert len(colours) == len(set(colours)) >= 2  # the variants tell apart
    for ax in panels:
        box = ax.get_legend().get_window_extent(canvas.get_renderer())
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0


def test_the_recon_heatmap_counts_the_runs_of_each_row_and_names_finished_models_without_one(tmp_path, monkeypatch):
    runs = make_runs(tmp_path / "runs")
    table = pd.read_csv(runs / "omniglot" / "recon_matrix.csv")  # ae seeds 0 and 1 only
    fig = _saved_figure(monkeypatch, lambda: plots.recon_matrix_heatmap(table, "omniglot", "quick", tmp_path / "m.png", scan_pair(runs, "omniglot")))
    (ax, *_colorbar) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ae (omniglot-background, n=2)"]
    assert ax.get_title().endswith("\nno reconstruction-matrix row recorded, not drawn: augintae")  # wgan-gp never finished; pixel fade has nothing to reconstruct


def test_curve_plots_label_models_in_one_legend_under_the_axes(tmp_path, monkeypatch):
    """With a dozen models a legend inside the axes hid the curves: models go in the figure's
    legend, and a panel's own legend keeps only its line styles."""
    runs = make_runs(tmp_path / "runs")
    fig = _saved_figure(monkeypatch, lambda: plots.ground_truth_curves(scan_pair(runs, "pole"), "pole", "quick", tmp_path / "gt.png"))
    (legend,) = fig.legends
    assert {"ae", "pixel-fade"} <= {t.get_text() for t in legend.get_texts()}
    panel_labels = {t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()}
    assert panel_labels and not panel_labels & {"ae", "pixel-fade"}


def test_a_failure_mid_publish_keeps_the_previous_leaderboards(published, tmp_path, monkeypatch):
    out = tmp_path / "lb"
    shutil.copytree(published["out"], out)
    runs = tmp_path / "runs"
    shutil.copytree(published["runs"], runs)
    shutil.rmtree(runs / "omniglot" / "augintae")  # the new publish would differ
    before = _snapshot(out)
    written = []

    def broken(board, budget, path, *args):
        written.append(Path(path).parent.parent.name)  # after runs.csv, leaderboard.csv, headline plot
        raise RuntimeError("plot failed")

    monkeypatch.setattr(plots, "admissibility_bars", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        publish(runs, out, echo=lambda m: None)
    assert written and written[0].startswith(".publish-")  # it was writing into the staging folder
    assert _snapshot(out) == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_leaderboard_of_one_pair_writes_only_its_folder(published, tmp_path):
    result = CliRunner().invoke(cli, ["leaderboard", "--pair", "pole", "--runs", str(published["runs"]), "--out", str(tmp_path / "lb")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "lb").iterdir()) == ["pole", "records"]
    assert sorted(p.name for p in (tmp_path / "lb" / "records").iterdir()) == ["pole"]
    assert (tmp_path / "lb" / "pole" / "leaderboard.csv").read_bytes() == published["first"]["pole/leaderboard.csv"]


def _published_copy(published, tmp_path) -> Path:
    out = tmp_path / "lb"
    shutil.copytree(published["out"], out)
    return out


def test_records_keep_published_runs_whose_folders_are_gone(published, tmp_path):
    out = _published_copy(published, tmp_path)
    snap = published["first"]
    assert json.loads(snap["records/omniglot/quick/ae/seed1/metrics.json"]) == json.loads((published["runs"] / "omniglot/ae/seed1/metrics.json").read_text())
    assert "records/omniglot/quick/wgan-gp/seed0/config.json" not in snap  # incomplete: not a result yet
    new_runs = tmp_path / "new_runs"  # another machine: one new run and its recon-matrix row, no old run folders
    _write_run(new_runs, "omniglot", "vae", 0, _finished({"fid": _entry(55.0), "recon_l2_novel": _entry(2.0)}, 0))
    pd.DataFrame({"run": ["c"], "model": ["vae"], "seed": [0], "budget": ["quick"], "trained_on": ["omniglot-background"], "model_revision": [1], "subset_revision": [2], "mnist": [9.0]}).to_csv(new_runs / "omniglot" / "recon_matrix.csv", index=False)
    publish(new_runs, out, echo=lambda m: None)
    table = pd.read_csv(out / "omniglot" / "runs.csv")
    assert sorted(table["model"].unique()) == ["ae", "augintae", "pixel-fade", "vae"]  # old runs kept, vae added
    assert "wgan-gp" not in set(table["model"])  # the incomplete run was only in the old runs folder
    board = pd.read_csv(out / "omniglot" / "leaderboard.csv").set_index("model")
    assert board.loc["ae", "fid_mean"] == pytest.approx(np.mean(FID["ae"])) and board.loc["ae", "n_seeds"] == 3
    assert (out / "records/omniglot/quick/vae/seed0/metrics.json").is_file()
    matrix = pd.read_csv(out / "records/omniglot/recon_matrix.csv")
    assert matrix[["model", "seed"]].values.tolist() == [["ae", 0], ["ae", 1], ["vae", 0]]
    assert (out / "pole" / "runs.csv").read_bytes() == snap["pole/runs.csv"]  # from its records alone
    assert "[pole](pole/README.md)" in (out / "README.md").read_text()


def test_a_new_run_replaces_the_record_of_the_same_model_and_seed_but_an_incomplete_one_does_not(published, tmp_path):
    out = _published_copy(published, tmp_path)
    new_runs = tmp_path / "new_runs"
    _write_run(new_runs, "omniglot", "ae", 0, _finished({"fid": _entry(99.0)}, 0))
    _write_run(new_runs, "omniglot", "ae", 1, checkpoint=True)  # rerun in progress: the record of seed 1 stays
    publish(new_runs, out, echo=lambda m: None)
    table = pd.read_csv(out / "omniglot" / "runs.csv")
    ae = table[table["model"] == "ae"].sort_values(["seed", "status"])
    assert ae[["seed", "status"]].values.tolist() == [[0, "finished"], [1, "finished"], [1, "incomplete"], [2, "finished"]]
    assert ae["fid"].tolist()[:2] == [99.0, FID["ae"][1]]
    assert json.loads((out / "records/omniglot/quick/ae/seed0/metrics.json").read_text())["metrics"]["fid"]["value"] == 99.0
    assert json.loads((out / "records/omniglot/quick/ae/seed1/metrics.json").read_text())["metrics"]["fid"]["value"] == FID["ae"][1]


def test_results_of_an_earlier_model_revision_are_listed_apart_and_kept_when_rerun(published, tmp_path):
    """ae-gan's revision 2 changed its LSGAN targets: a revision-1 result is another model, so it
    must leave the tables and means, be listed apart, and survive its rerun in the records."""
    out = _published_copy(published, tmp_path)
    old_runs = tmp_path / "old_runs"
    for seed, fid in enumerate((70.0, 72.0)):
        _write_run(old_runs, "omniglot", "ae-gan", seed, _finished({"fid": _entry(fid), "recon_l2_novel": _entry(3.0)}, seed), model_revision=1)
    publish(old_runs, out, echo=lambda m: None)
    board = pd.read_csv(out / "omniglot" / "leaderboard.csv")
    assert "ae-gan" not in set(board["model"])  # not averaged with anything, not ranked
    readme = (out / "omniglot" / "README.md").read_text()
    earlier = readme.split("## Results of an earlier revision")[1].split("## Files")[0]
    assert "**model r1 (now r2)**" in earlier and "| ae-gan | `quick` | 0, 1 | 71 |" in earlier
    runs = pd.read_csv(out / "omniglot" / "runs.csv")
    assert runs[runs["model"] == "ae-gan"]["revision"].tolist() == ["model r1 (now r2)"] * 2

    new_runs = tmp_path / "new_runs"  # the rerun at revision 2, seed 0 only
    _write_run(new_runs, "omniglot", "ae-gan", 0, _finished({"fid": _entry(50.0), "recon_l2_novel": _entry(2.0)}, 0))
    publish(new_runs, out, echo=lambda m: None)
    board = pd.read_csv(out / "omniglot" / "leaderboard.csv").set_index("model")
    assert board.loc["ae-gan", "fid_mean"] == 50.0 and board.loc["ae-gan", "n_seeds"] == 1
    kept = out / "records/omniglot/quick/ae-gan/seed0/earlier/model-r1-data-r1"
    assert json.loads((kept / "metrics.json").read_text())["metrics"]["fid"]["value"] == 70.0
    assert json.loads((out / "records/omniglot/quick/ae-gan/seed0/metrics.json").read_text())["metrics"]["fid"]["value"] == 50.0
    earlier = (out / "omniglot" / "README.md").read_text().split("## Results of an earlier revision")[1]
    assert "| ae-gan (rerun since) | `quick` | 0 | 70 |" in earlier and "| ae-gan | `quick` | 1 | 72 |" in earlier
    again = _snapshot(out)  # from the records alone (a clone): the same pages, the earlier record included
    publish(out / "records", out, echo=lambda m: None)
    assert _snapshot(out) == again


def test_values_of_an_earlier_metric_or_test_subset_revision_are_listed_apart_alone(published, tmp_path):
    out = _published_copy(published, tmp_path)
    new_runs = tmp_path / "new_runs"
    stale = {**_entry(0.5), "metric": "admissibility", "revision": 1}  # admissibility is at revision 2
    current = {**_entry(2.5), "metric": "recon", "revision": 1, "data_revisions": {"omniglot-background": 1, "omniglot-evaluation": 1}}
    _write_run(new_runs, "omniglot", "vae", 0, _finished({"adm_monotonicity": stale, "recon_l2_novel": current}, 0))
    capped = _write_run(new_runs, "omniglot", "vae", 1, _finished({"recon_l2_novel": _entry(9.0)}, 1))
    record = json.loads((capped / "config.json").read_text())  # a capped test split drawn in file order (subset r1)
    (capped / "config.json").write_text(json.dumps({**record, "budget": {**record["budget"], "eval_images": 2000}}))
    publish(new_runs, out, echo=lambda m: None)
    board = pd.read_csv(out / "omniglot" / "leaderboard.csv").set_index("model")
    assert board.loc["vae", "recon_l2_novel_mean"] == 2.5 and board.loc["vae", "n_seeds"] == 1
    assert math.isnan(board.loc["vae", "adm_monotonicity_mean"])
    earlier = (out / "omniglot" / "README.md").read_text().split("## Results of an earlier revision")[1]
    assert "**metric admissibility r1 (now r2)**" in earlier and "| vae | `quick` | 0 | 0.5 |" in earlier
    assert "**test subset omniglot-background r1 (now r2), omniglot-evaluation r1 (now r2)**" in earlier
    assert "| vae | `quick` | 1 | 9 |" in earlier


def test_a_run_of_another_budget_joins_the_record_of_the_same_model_and_seed(published, tmp_path):
    """A `paper` run of omniglot ae seed 0 (trained on a GPU into its own runs folder) is published
    next to the `quick` record of ae seed 0, not over it: records are kept per budget."""
    out = _published_copy(published, tmp_path)
    paper_runs = tmp_path / "paper-runs"
    target = paper_runs / "omniglot/ae/seed0"
    shutil.copytree(published["runs"] / "omniglot/ae/seed0", target)
    record = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**record, "budget": {"name": "paper", "description": "test paper budget"}}))
    paper_row = {"run": ["p"], "model": ["ae"], "seed": [0], "budget": ["paper"], "trained_on": ["omniglot-background"], "model_revision": [2], "subset_revision": [None], "mnist": [7.0], "omniglot-evaluation": [2.0]}
    pd.DataFrame(paper_row).to_csv(paper_runs / "omniglot" / "recon_matrix.csv", index=False)
    publish_pair(paper_runs, "omniglot", out, echo=lambda m: None)
    quick = json.loads((out / "records/omniglot/quick/ae/seed0/config.json").read_text())
    paper = json.loads((out / "records/omniglot/paper/ae/seed0/config.json").read_text())
    assert (quick["budget"]["name"], paper["budget"]["name"]) == ("quick", "paper")
    board = pd.read_csv(out / "omniglot/leaderboard.csv")
    ae = board[board["model"] == "ae"].set_index("budget")
    assert ae.loc["quick", "n_seeds"] == published_seeds(published, "omniglot", "ae") and ae.loc["paper", "n_seeds"] == 1
    runs = pd.read_csv(out / "omniglot/runs.csv")
    assert sorted(runs[(runs["model"] == "ae") & (runs["seed"] == 0)]["budget"]) == ["paper", "quick"]
    paper_section, quick_section = (out / "omniglot/README.md").read_text().split("## Budget `quick`")
    assert "At `paper` the training schedule" in paper_section and "expect a gap" not in paper_section
    assert "Budgets below `paper` train far shorter" in quick_section
    matrix = pd.read_csv(out / "records/omniglot/recon_matrix.csv")
    assert matrix[["budget", "model", "seed", "mnist"]].values.tolist() == [["paper", "ae", 0, 7.0], ["quick", "ae", 0, 10.0], ["quick", "ae", 1, 12.0]]
    assert "(recon_matrix_paper.png)" in paper_section and "(recon_matrix_quick.png)" in quick_section
    assert (out / "omniglot/recon_matrix_paper.png").stat().st_size > 5000


def test_a_recon_matrix_without_budgets_is_refused_with_the_fix(published, tmp_path):
    """Rows written before they named their budget could replace a row of another budget: refused."""
    out = _published_copy(published, tmp_path)
    legacy = out / "records/omniglot/recon_matrix.csv"
    pd.read_csv(legacy).drop(columns="budget").to_csv(legacy, index=False)
    before = (out / "omniglot/README.md").read_bytes()
    result = CliRunner().invoke(cli, ["publish", "--runs", str(published["runs"]), "--out", str(out)])
    assert result.exit_code == 2 and "no budget column" in result.output and "add a column `budget`" in result.output
    assert "Traceback" not in result.output and (out / "omniglot/README.md").read_bytes() == before


def test_records_in_the_layout_before_budgets_are_refused_not_skipped(published, tmp_path):
    out = _published_copy(published, tmp_path)
    shutil.move(out / "records/omniglot/quick/ae", out / "records/omniglot/ae")  # as written before the budget level
    result = CliRunner().invoke(cli, ["publish", "--runs", str(published["runs"]), "--out", str(out)])
    assert result.exit_code == 2 and "layout before budgets" in result.output and "omniglot/ae/seed0" in result.output
    assert (out / "records/omniglot/ae/seed0/config.json").is_file()  # nothing moved or written


def published_seeds(published, pair: str, model: str) -> int:
    """How many finished seeds of `model` the module's runs folder holds."""
    return sum(1 for d in (published["runs"] / pair / model).iterdir() if json.loads((d / "metrics.json").read_text())["status"] == "finished")


def test_one_pair_refreshes_the_index_without_runs_the_other_pages_do_not_show(published, tmp_path):
    """`bench leaderboard --pair omniglot` rewrites the index row of every other pair from its records
    (what its page was built from): a pole run still under way and a pair never published stay out."""
    out = _published_copy(published, tmp_path)
    runs = tmp_path / "runs"
    shutil.copytree(published["runs"], runs)
    _write_run(runs, "pole", "vae", 0)  # started, no metrics.json yet
    _write_run(runs, "lines", "ae", 0, _finished({"lines_mean_distance": _entry(0.3)}, 0))
    pole_row = next(l for l in published["first"]["README.md"].decode().splitlines() if l.startswith("| [pole]"))
    publish_pair(runs, "omniglot", out, echo=lambda m: None)
    index = (out / "README.md").read_text()
    assert pole_row in index.splitlines()  # not "4 / 5": the page says 4 runs
    assert "[lines]" not in index and not (out / "lines").exists()


def test_publishing_from_the_records_alone_gives_the_same_bytes_but_no_incomplete_run(published, tmp_path):
    out = _published_copy(published, tmp_path)
    result = CliRunner().invoke(cli, ["publish", "--runs", str(out / "records"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    now, before = _snapshot(out), published["again"]
    same = [name for name in before if name.startswith(("pole/", "records/")) or name.endswith(".png")]
    assert same and all(now[name] == before[name] for name in same)
    old_rows = before["omniglot/runs.csv"].decode().splitlines()
    assert now["omniglot/runs.csv"].decode().splitlines() == [row for row in old_rows if ",wgan-gp,0," not in row]


def test_rebuilt_records_are_named_in_the_readme_and_one_pair_refreshes_the_index(published, tmp_path):
    out = _published_copy(published, tmp_path)
    metrics_path = out / "records/pole/quick/ae/seed2/metrics.json"
    payload = json.loads(metrics_path.read_text())
    payload["rebuilt_from"] = "pole/runs.csv"
    payload["metrics"] = {k: {"value": v["value"]} for k, v in payload["metrics"].items()}
    payload["metrics"]["gt_mse_mean"]["value"] = 0.0001  # now the best ae seed: the index must follow
    metrics_path.write_text(json.dumps(payload))
    publish_pair(out / "records", "pole", out, echo=lambda m: None)
    readme = (out / "pole" / "README.md").read_text()
    assert "1 run is known only from its values, rebuilt from an earlier runs.csv after its run folder was lost" in readme
    assert "rerunning it restores both" in readme
    assert "ae at `quick` (seed 2)" in readme
    assert "figures-before-the-loss" not in readme  # no such folder yet: no link to nothing
    kept = out / "figures-before-the-loss" / "pole" / "noise_frequency_quick.png"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"drawn before the loss")
    publish_pair(out / "records", "pole", out, echo=lambda m: None)
    assert "kept unchanged in [../figures-before-the-loss/pole/](../figures-before-the-loss/pole/)" in (out / "pole" / "README.md").read_text()
    assert kept.read_bytes() == b"drawn before the loss"  # hand-kept: publish never touches it
    assert "figures-before-the-loss/README.md" not in (out / "README.md").read_text()
    (kept.parent.parent / "README.md").write_text("# what these are\n")
    publish_pair(out / "records", "pole", out, echo=lambda m: None)
    assert "(figures-before-the-loss/README.md)" in (out / "README.md").read_text()
    assert (out / "README.md").read_text() != published["first"]["README.md"].decode()
    assert (out / "omniglot" / "runs.csv").read_bytes() == published["first"]["omniglot/runs.csv"]


def test_code_versions_are_listed_when_few_and_counted_when_many(tmp_path):
    runs = tmp_path / "runs"
    for seed in range(5):
        run_dir = _write_run(runs, "omniglot", "ae", seed, _finished({"fid": _entry(50.0 + seed)}, seed))
        record = json.loads((run_dir / "config.json").read_text())
        record["code_version"] = f"0.1.0+g{seed}"
        (run_dir / "config.json").write_text(json.dumps(record))
    publish_pair(runs, "omniglot", tmp_path / "many", echo=lambda m: None)
    text = (tmp_path / "many" / "omniglot" / "README.md").read_text()
    assert "5 code versions (each run's is in runs.csv)" in text and "`0.1.0+g3`" not in text
    for seed in range(2, 5):
        shutil.rmtree(runs / "omniglot" / "ae" / f"seed{seed}")
    publish_pair(runs, "omniglot", tmp_path / "few", echo=lambda m: None)
    assert "code `0.1.0+g0`, `0.1.0+g1`." in (tmp_path / "few" / "omniglot" / "README.md").read_text()


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown-pair", "Unknown pair 'nope'"),
        ("pair-without-runs", "No runs of pair 'lines'"),
        ("empty-runs", "holds no runs"),
        ("missing-runs", "does not exist"),
        ("bad-metrics", "Cannot read"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, case, message):
    runs = tmp_path / "runs"
    runs.mkdir()
    args = ["publish", "--runs", str(runs), "--out", str(tmp_path / "lb")]
    if case == "unknown-pair":
        args = ["leaderboard", "--pair", "nope", "--runs", str(runs), "--out", str(tmp_path / "lb")]
    elif case == "pair-without-runs":
        args = ["leaderboard", "--pair", "lines", "--runs", str(runs), "--out", str(tmp_path / "lb")]
    elif case == "missing-runs":
        args[2] = str(tmp_path / "absent")
    elif case == "bad-metrics":
        _write_run(runs, "pole", "ae", 0, _finished({}, 0))
        (runs / "pole" / "ae" / "seed0" / "metrics.json").write_text('{"status": "fini')
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "lb").exists()


def test_headline_metric_per_pair_kind():
    assert columns.headline_metric("omniglot", {"recon_l2_novel", "fid_domain", "fid"}) == "fid"
    assert columns.headline_metric("mnist-fashion", {"recon_l2_novel", "recon_l2_train"}) == "recon_l2_novel"
    assert columns.headline_metric("pole", {"recon_l2_novel", "gt_mse_mean", "fid"}) == "gt_mse_mean"
    assert columns.headline_metric("lines", {"gt_mse_mean", "lines_mean_distance"}) == "lines_mean_distance"
    assert columns.direction("adm_monotonicity_oracle") == "higher" and columns.direction("noise_l2_mean") is None
    with pytest.raises(BenchError):
        columns.headline_metric("nope", {"fid"})


def test_caveats_apply_to_their_metric_and_pairs_only():
    mnist = caveats_for("mnist-emnist", {"fid", "misclassification", "recon_l2_novel"})
    assert len(mnist) == 1 and mnist[0].startswith("`misclassification`")
    omniglot = caveats_for("omniglot", {"fid", "misclassification"})
    assert [c.split(":")[0] for c in omniglot] == ["`misclassification`", "`fid` on Omniglot"]
    assert caveats_for("omniglot", {"recon_l2_novel"}) == []


def test_paper_numbers_match_the_papers_tables():
    omniglot = published_for("omniglot")
    assert omniglot[("augintae", "fid")].value == 82.5 and omniglot[("wgan-gp-oracle", "misclassification")].value == 24.8
    assert published_for("mnist-emnist")[("vae", "recon_l2_novel")].value == 23.10
    assert len(PUBLISHED) == 12 + 2 * 4 * 5
    paper = sorted(Path(__file__).resolve().parents[3].glob("shared/seeds/001_*.txt"))
    if not paper:
        pytest.skip("the paper's text (../shared/seeds) is not next to this checkout")
    lines = paper[0].read_text().splitlines()

    def cells(first_line: str, start: int = 0) -> list:
        line = next(l for l in lines[start:] if l.startswith(first_line + "\t"))
        return [float(c) if re.fullmatch(r"[\d.]+", c) else c for c in line.split("\t")[1:]]

    # Table 2: rows are pairs, columns WGAN-GP (train), AE, IntAE, AugIntAE, WGAN-GP (test)
    table2 = {"mnist-emnist": "MNIST \\rightarrow EMNIST", "omniglot": "Omniglot (train \\rightarrow test)",
              "celeba": "CelebA (male \\rightarrow female)", "cifar10-cifar100": "CIFAR-10 \\rightarrow CIFAR-100"}  # fmt: skip
    models = ("wgan-gp", "ae-gan", "intae", "augintae", "wgan-gp-oracle")
    starts = {m: next(i for i, l in enumerate(lines) if l.startswith(h)) for m, h in (("fid", "FID ("), ("misclassification", "Misclassification rate ("))}
    for pair, row in table2.items():
        for metric, start in starts.items():
            assert cells(row, start) == [published_for(pair)[(m, metric)].value for m in models], (pair, metric)
    # Table 1: columns MNIST, EMNIST, Omni (train), Omni (test), then CIFAR-10's row
    mnist, vae, omni = cells("MNIST"), cells("MNIST (VAE)"), cells("Omniglot (train)")
    expect = {
        ("mnist-emnist", "ae"): (mnist[0], mnist[1]), ("mnist-omniglot", "ae"): (mnist[0], mnist[3]),
        ("mnist-emnist", "vae"): (vae[0], vae[1]), ("mnist-omniglot", "vae"): (vae[0], vae[3]),
        ("omniglot", "ae"): (omni[2], omni[3]), ("cifar10-cifar100", "ae"): (mnist[5], mnist[6]),
    }  # fmt: skip
    assert mnist[4] == "CIFAR-10"
    for (pair, model), (train, novel) in expect.items():
        numbers = published_for(pair)
        assert (numbers[(model, "recon_l2_train")].value, numbers[(model, "recon_l2_novel")].value) == (train, novel), (pair, model)


def test_images_draw_one_row_per_model_and_are_kept_without_images(tmp_path):
    """--images loads the run's model (random weights here) and the pair's data; a later publish
    without --images keeps the published grids."""
    import torch
    from PIL import Image

    from bench.atomic import torch_save
    from bench.budgets import get_budget
    from bench.publish.writer import ImageOptions
    from models import registry

    cls, shape = registry.get("ae"), (1, 32, 32)
    run_dir = _write_run(tmp_path / "runs", "lines", "ae", 0, _finished({"lines_mean_distance": _entry(0.3)}, 0))
    record = json.loads((run_dir / "config.json").read_text())
    record.update(image_shape=list(shape), hyperparameters=cls.Config().to_dict(), budget=get_budget("smoke", cuda_available=False).for_images(shape).to_dict())
    (run_dir / "config.json").write_text(json.dumps(record))
    torch.manual_seed(0)
    torch_save({"model": "ae", "config_hash": record["config_hash"], "state_dict": cls(cls.Config(), shape).state_dict()}, run_dir / "model.pt")

    out = tmp_path / "lb"
    publish_pair(tmp_path / "runs", "lines", out, images=ImageOptions(tmp_path / "no-data-needed", "cpu"), echo=lambda m: None)
    grid = Image.open(out / "lines" / "interpolations_smoke.png")
    few_shot = Image.open(out / "lines" / "few_shot_smoke.png")
    assert grid.size[0] > 1000 and few_shot.size[1] > 150  # 2 x 11 tiles per row; seeds + 2 model rows
    readme = (out / "lines" / "README.md").read_text()
    assert "](interpolations_smoke.png)" in readme and "](few_shot_smoke.png)" in readme
    before = (out / "lines" / "interpolations_smoke.png").read_bytes()
    publish_pair(tmp_path / "runs", "lines", out, echo=lambda m: None)
    assert (out / "lines" / "interpolations_smoke.png").read_bytes() == before
    assert "](few_shot_smoke.png)" in (out / "lines" / "README.md").read_text()
    # --images again once the weights are gone (records only, as on a clone): the grids stay
    (run_dir / "model.pt").unlink()
    publish_pair(tmp_path / "runs", "lines", out, images=ImageOptions(tmp_path / "no-data-needed", "cpu"), echo=lambda m: None)
    assert (out / "lines" / "interpolations_smoke.png").read_bytes() == before
    assert "](few_shot_smoke.png)" in (out / "lines" / "README.md").read_text()


def test_image_grids_draw_only_runs_that_have_weights(tmp_path):
    """A run known only from the published records has no model.pt: no row, instead of a load error."""
    from bench.publish.images import representative_runs, without_weights_note

    with_weights = _write_run(tmp_path / "runs", "lines", "ae", 1, _finished({}, 1))
    (with_weights / "model.pt").write_bytes(b"weights")
    _write_run(tmp_path / "runs", "lines", "ae", 0, _finished({}, 0))  # lower seed, no weights
    _write_run(tmp_path / "runs", "lines", "vae", 0, _finished({}, 0))
    runs = scan_pair(tmp_path / "runs", "lines")
    chosen = representative_runs(runs, "quick")
    assert {model: run.seed for model, run in chosen.items()} == {"ae": 1}
    assert without_weights_note(runs, "quick", chosen) == "\nno weights kept, no row: vae"  # the grid says who is missing
    assert without_weights_note(runs, "quick", {**chosen, "vae": None}) == ""


def test_image_grid_row_labels_are_not_cut_at_the_left_edge(tmp_path):
    """The longest model name ('augintae-translate') once ran off the left edge of the omniglot
    interpolation grid: the saved PNG must keep a blank margin left of every label."""
    import torch
    from PIL import Image

    from bench.publish.images import _labelled_rows

    rows = [torch.zeros(11, 3, 48, 48) for _ in range(18)]
    labels = ["pixel-fade", "ae", "augintae-translate"] + ["wgan-gp-oracle"] * 15
    _labelled_rows(rows, labels, "title\nsecond line", tmp_path / "grid.png")
    ink = np.asarray(Image.open(tmp_path / "grid.png").convert("L")) < 128
    first_inked_column = int(ink.any(axis=0).argmax())
    assert first_inked_column >= 3


def test_k_over_training_is_plotted_for_the_models_that_log_it(tmp_path):
    runs_dir = tmp_path / "runs"
    for seed in range(2):
        history = [{"step": s, "losses": {"recon": 0.1, "k": max(0.0, 1 - s / 200 + 0.1 * seed)}} for s in (50, 100, 150, 200)]
        _write_run(runs_dir, "omniglot", "augintae", seed, {**_finished({"fid": _entry(50.0)}, seed), "loss_history": history})
    _write_run(runs_dir, "omniglot", "ae", 0, {**_finished({"fid": _entry(60.0)}, 0), "loss_history": [{"step": 50, "losses": {"recon": 0.1}}]})
    runs = scan_pair(runs_dir, "omniglot")
    assert plots.balance_factor_curves(runs, "omniglot", "quick", tmp_path / "k.png")
    assert (tmp_path / "k.png").stat().st_size > 5000
    assert not plots.balance_factor_curves([r for r in runs if r.model == "ae"], "omniglot", "quick", tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()
    out = tmp_path / "out"
    publish(runs_dir, out, echo=lambda m: None)
    assert "(balance_k_quick.png)" in (out / "omniglot" / "README.md").read_text()


def test_the_recon_heatmap_leaves_out_rows_of_an_earlier_model_or_test_subset_revision(tmp_path):
    table = pd.DataFrame(
        {
            "run": list("abcd"), "model": ["ae", "ae", "vae", "vae"], "seed": [0, 1, 0, 1], "budget": ["quick"] * 4,
            "trained_on": ["mnist"] * 4, "model_revision": [2, 1, 1, 1], "subset_revision": [2, 2, 2, 1],
            "mnist": [1.0, 50.0, 2.0, 60.0], "fashion-mnist": [3.0, 70.0, 4.0, 80.0],
        }
    )  # fmt: skip
    from bench.publish.revisions import current_matrix_rows

    assert current_matrix_rows(table).tolist() == [True, False, True, False]  # ae r1; vae's file-order subset
    assert current_matrix_rows(table.drop(columns=["model_revision", "subset_revision"])).tolist() == [False, False, False, False]
    # rows merged from before the column existed are blank: revision 1 at a budget that caps the
    # test split (quick), current at one that draws nothing (paper)
    merged = table.assign(subset_revision=[2, 2, None, None], budget=["quick", "quick", "quick", "paper"])
    assert current_matrix_rows(merged).tolist() == [True, False, False, True]
    drawn = {}
    monkey = pytest.MonkeyPatch()
    monkey.setattr(plots.sns, "heatmap", lambda grid, **kw: drawn.setdefault("grid", grid.copy()))
    try:
        assert plots.recon_matrix_heatmap(table, "mnist-fashion", "quick", tmp_path / "m.png")
    finally:
        monkey.undo()
    assert drawn["grid"].values.tolist() == [[1.0, 3.0], [2.0, 4.0]]


def test_a_full_disk_while_publishing_exits_2_and_keeps_the_previous_pages(published, tmp_path, monkeypatch):
    import errno
    import os

    out = _published_copy(published, tmp_path)
    before = _snapshot(out)
    (out / ".publish-killed1234").mkdir()  # left by a publish that was SIGKILLed
    (out / ".publish-killed1234" / "half.csv").write_text("a,b\n")

    def full(fig, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(plots, "_save", full)
    result = CliRunner().invoke(cli, ["publish", "--runs", str(published["runs"]), "--out", str(out)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "No space left on device" in result.output and "Nothing in" in result.output and "Traceback" not in result.output
    assert _snapshot(out) == before  # the stale staging folder is gone, nothing else changed
    assert not list(out.glob(".publish-*"))


def test_publish_shows_its_progress(published, tmp_path):
    out = _published_copy(published, tmp_path)
    result = CliRunner().invoke(cli, ["publish", "--runs", str(published["runs"]), "--out", str(out)])
    assert result.exit_code == 0 and "publishing" in result.output


def test_the_hardware_column_names_each_device_once():
    from types import SimpleNamespace

    from bench.publish.markdown import distinct_devices

    runs = [SimpleNamespace(record={"device": d}) for d in ("cpu:1 threads", "cpu:1 threads (AMD EPYC)", "cpu:2 threads", "cuda:NVIDIA H100 80GB HBM3")]
    assert distinct_devices(runs) == ["cpu:1 threads (AMD EPYC)", "cpu:2 threads", "cuda:NVIDIA H100 80GB HBM3"]


def test_headline_bars_go_log_beyond_a_tenfold_span_clip_intervals_at_zero_and_mark_collapse():
    from matplotlib.figure import Figure

    table = pd.DataFrame({
        "model": ["gaia", "ae", "vae"], "role": ["competitor"] * 3, "n_seeds": [3, 3, 3],
        "fid_mean": [400.0, 12.0, 30.0], "fid_ci95": [50.0, 20.0, 5.0], "collapsed": [False, True, False],
    })  # fmt: skip
    ax = Figure().subplots()
    assert plots._bars(ax, table, "fid")
    assert ax.get_yscale() == "log"
    lows = [segment[0][1] for segment in ax.collections[0].get_segments()]  # the intervals' lower ends
    assert min(lows) == pytest.approx(1.2)  # ae's interval (12 +- 20) stops at a tenth of its bar on a log scale
    assert [t.get_text() for t in ax.get_xticklabels()] == ["gaia (n=3)", "ae (n=3, collapsed)", "vae (n=3)"]
    linear = Figure().subplots()
    plots._bars(linear, table.assign(fid_mean=[40.0, 12.0, 30.0]), "fid")
    assert linear.get_yscale() == "linear" and min(seg[0][1] for seg in linear.collections[0].get_segments()) == 0.0


def test_each_budget_section_opens_with_a_verdict_on_the_headline_metric(published):
    readme = published["first"]["omniglot/README.md"].decode()
    section = readme.split("## Budget `quick`", 1)[1].lstrip()
    assert section.startswith("**Verdict.** On the headline metric `fid`")
    assert " leads the competitors with " in section.split("\n", 1)[0]


def test_results_json_holds_the_leaderboard_for_other_tools(published):
    import json

    data = json.loads(published["first"]["omniglot/results.json"])
    from io import BytesIO

    board = pd.read_csv(BytesIO(published["first"]["omniglot/leaderboard.csv"]))
    assert data["format"] == 1 and data["pair"] == "omniglot" and data["headline"] == "fid"
    assert [(e["model"], e["budget"]) for e in data["entries"]] == list(zip(board.model, board.budget))
    ae = next(e for e in data["entries"] if e["model"] == "ae")
    row = board[board.model == "ae"].iloc[0]
    assert ae["metrics"]["fid"]["mean"] == pytest.approx(row["fid_mean"]) and ae["metrics"]["fid"]["better"] == "lower"
    assert ae["n_seeds"] == row["n_seeds"] and ae["seeds"] == [int(s) for s in str(row["seeds"]).split(";")]


def test_a_page_table_keeps_the_first_columns_and_names_the_rest(published, tmp_path, monkeypatch):
    from bench.publish import markdown

    monkeypatch.setattr(markdown, "TABLE_METRICS", 2)
    publish_pair(published["runs"], "omniglot", tmp_path / "out", echo=lambda m: None)
    readme = (tmp_path / "out" / "omniglot" / "README.md").read_text()
    header = next(line for line in readme.splitlines() if line.startswith("| # | model | seeds |"))
    assert header.startswith("| # | model | seeds | fid ↓ |") and len(header.strip("|").split("|")) == 3 + 2 + 1
    named = readme.split("More columns, in [leaderboard.csv](leaderboard.csv) and [results.json](results.json): ", 1)[1].split(".\n", 1)[0]
    assert named.count("`") >= 2 and all(k.strip("`") not in header for k in named.split(", "))


def test_ground_truth_figure_has_one_panel_per_quantity_with_median_and_quartiles(tmp_path, monkeypatch):
    runs = make_runs(tmp_path / "runs")
    fig = _saved_figure(monkeypatch, lambda: plots.ground_truth_curves(scan_pair(runs, "pole"), "pole", "quick", tmp_path / "gt.png"))
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles[0] == "interpolant vs ground truth" and titles[1].startswith("predicting alpha")
    assert titles[2:] == ["distance to the source", "distance to the target"]
    assert "median over seeds, band: interquartile range" in fig._suptitle.get_text()

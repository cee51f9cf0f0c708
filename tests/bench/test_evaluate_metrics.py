"""The evaluation layer: metric selection, skipping with a warning, protocol stamping, re-evaluation
of a finished run, and the reconstruction matrix, as `bench evaluate` / `bench recon-matrix` use them."""

import json

import pytest
import torch
from click.testing import CliRunner

from bench import data as data_layer
from bench.budgets import BUDGETS
from bench.cli import cli
from bench.scoring import evaluate
from bench.budgets import budget_from_record
from bench.rundir import lock_run_dir
from metrics import base as metric_base
from metrics.base import MetricContext, MetricSkipped, MetricSpec, MetricValue
from models import registry


def _context(tmp_path, warnings, model_name="pixel-fade", encoder="model"):
    pair = data_layer.get_pair("lines")
    train, novel = data_layer.load_pair(pair, tmp_path, max_train=64, max_test=16)
    cls = registry.get(model_name)
    model = cls(cls.Config(), train.image_shape).eval()
    return MetricContext(model, pair, train, novel, BUDGETS["smoke"], seed=3, cache_dir=tmp_path, encoder=encoder, warn=warnings.append)


def _install(monkeypatch, name, fn, applies=lambda ctx: True, keys=("const_a",)):
    declared = {key: ("lower", key) for key in keys}
    monkeypatch.setitem(metric_base._METRICS, name, MetricSpec(name, fn, applies, "test metric", keys=declared))


def test_a_skipped_metric_warns_once_and_the_others_still_run(tmp_path, monkeypatch):
    def broken(ctx):
        raise MetricSkipped("weights file /x/y.pth is missing; put it there")

    _install(monkeypatch, "needs_weights", broken)
    warnings = []
    results, skipped = evaluate(_context(tmp_path, warnings), ["recon", "needs_weights"])
    assert set(results) == {"recon_l2_train", "recon_l2_novel", "recon_spread_novel"}
    assert skipped == {"needs_weights": "weights file /x/y.pth is missing; put it there"}
    assert len(warnings) == 1 and "needs_weights" in warnings[0] and "/x/y.pth" in warnings[0]


def test_entries_carry_metric_name_seed_budget_and_time(tmp_path, monkeypatch):
    _install(monkeypatch, "constant", lambda ctx: {"const_a": MetricValue(1.5, {"what": "a"}, {"curve": [1, 2]})})
    results, _ = evaluate(_context(tmp_path, []), ["constant"])
    entry = results["const_a"]
    assert entry["value"] == 1.5 and entry["details"] == {"curve": [1, 2]}
    assert entry["metric"] == "constant" and entry["seconds"] >= 0
    assert entry["protocol"] == {"what": "a", "seed": 3, "budget": "smoke"}


def test_requested_metric_that_does_not_apply_is_reported_not_run(tmp_path, monkeypatch):
    called = []
    _install(monkeypatch, "two_domains_only", lambda ctx: called.append(1) or {}, applies=lambda ctx: ctx.pair.train != ctx.pair.novel)
    results, skipped = evaluate(_context(tmp_path, []), ["two_domains_only"])
    assert not called and results == {}
    assert "does not apply to pair lines" in skipped["two_domains_only"]
    results, skipped = evaluate(_context(tmp_path, []), None)  # "all": silently left out
    assert "two_domains_only" not in skipped and not called


def test_pixel_fade_reconstructs_perfectly_and_metrics_are_deterministic(tmp_path):
    first, _ = evaluate(_context(tmp_path, []), ["recon"])
    second, _ = evaluate(_context(tmp_path, []), ["recon"])
    assert first["recon_l2_novel"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert first == {k: {**v, "seconds": first[k]["seconds"]} for k, v in second.items()}


def test_budget_from_record_fills_fields_a_newer_suite_added_from_the_named_budget():
    recorded = BUDGETS["smoke"].for_images((1, 28, 28)).to_dict()
    for newer_field in ("fid_images", "noise_trials", "refine_steps"):
        recorded.pop(newer_field)
    recorded["steps"] = 7  # what the run actually used is kept
    budget = budget_from_record({"budget": recorded, "image_shape": [1, 28, 28]})
    assert budget.training.steps == 7
    assert budget.evaluation.fid_images == BUDGETS["smoke"].evaluation.fid_images  # not the paper's 5000
    assert budget.evaluation.refine_steps == BUDGETS["smoke"].evaluation.refine_steps


@pytest.fixture(scope="module")
def finished_lines_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lines-run")
    result = CliRunner().invoke(
        cli,
        ["run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--out", str(root / "runs"),
         "--leaderboard-dir", str(root / "lb"), "--metrics", "recon", "--no-progress"],
        env={"BENCH_CACHE_DIR": str(root / "cache"), "TORCH_HOME": str(root / "torch")},
    )
    assert result.exit_code == 0, result.output
    return root, root / "runs" / "lines" / "ae" / "seed0"


def test_bench_evaluate_of_a_run_another_process_holds_fails_at_once_and_writes_nothing(finished_lines_run):
    root, run_dir = finished_lines_run
    before = (run_dir / "metrics.json").read_bytes()
    with lock_run_dir(run_dir):  # this test process is the `bench run --force` retraining it
        result = CliRunner().invoke(cli, ["evaluate", str(run_dir), "--metrics", "recon", "--data-dir", str(root / "data")],
                                    env={"BENCH_CACHE_DIR": str(root / "cache")})
    assert result.exit_code == 2 and f"{run_dir} is in use by another `bench run` or `bench evaluate`" in result.output
    assert (run_dir / "metrics.json").read_bytes() == before


def test_bench_evaluate_merges_new_values_into_the_run(finished_lines_run):
    root, run_dir = finished_lines_run
    before = json.loads((run_dir / "metrics.json").read_text())
    assert set(before["metrics"]) == {"recon_l2_train", "recon_l2_novel", "recon_spread_novel"}
    result = CliRunner().invoke(cli, ["evaluate", str(run_dir), "--metrics", "recon", "--data-dir", str(root / "data")],
                                env={"BENCH_CACHE_DIR": str(root / "cache")})
    assert result.exit_code == 0, result.output
    after = json.loads((run_dir / "metrics.json").read_text())
    assert after["status"] == "finished" and after["config_hash"] == before["config_hash"]
    assert after["metrics"]["recon_l2_novel"]["value"] == pytest.approx(before["metrics"]["recon_l2_novel"]["value"])


def test_bench_recon_matrix_matches_the_runs_own_reconstruction_metric(finished_lines_run, tmp_path):
    root, run_dir = finished_lines_run
    out = tmp_path / "matrix.csv"
    result = CliRunner().invoke(cli, ["recon-matrix", str(run_dir), "--out", str(out), "--max-images", "128",
                                      "--data-dir", str(root / "data")], env={"BENCH_CACHE_DIR": str(root / "cache")})
    assert result.exit_code == 0, result.output
    import pandas as pd

    table = pd.read_csv(out)
    recorded = json.loads((run_dir / "metrics.json").read_text())["metrics"]["recon_l2_novel"]["value"]
    assert list(table["trained_on"]) == ["lines"] and "lines" in table.columns
    assert list(table["budget"]) == [json.loads((run_dir / "config.json").read_text())["budget"]["name"]]  # rows of two budgets stay apart
    assert table.loc[0, "lines"] == pytest.approx(recorded, rel=1e-3)


@pytest.mark.parametrize("progress", [True, False])
def test_recon_matrix_shows_a_progress_bar_over_runs_unless_told_not_to(finished_lines_run, capsys, progress):
    from bench.recon_matrix import recon_matrix

    root, run_dir = finished_lines_run
    recon_matrix([run_dir], root / "data", torch.device("cpu"), max_images=16, echo=lambda line: None, progress=progress)
    assert ("recon matrix" in capsys.readouterr().err) == progress


@pytest.mark.parametrize("args", [["--metrics", "bogus"], ["--metrics", " , "]])
def test_unknown_metrics_are_refused_before_anything_is_written(tmp_path, args):
    result = CliRunner().invoke(cli, ["run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--out", str(tmp_path / "runs"), *args])
    assert result.exit_code == 2
    assert "Error:" in result.output and "metric" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_bench_figure_generalization_writes_one_panel_per_run(finished_lines_run, tmp_path):
    root, run_dir = finished_lines_run
    out = tmp_path / "fig.png"
    args = ["figure", "generalization", str(run_dir), str(run_dir), "--out", str(out), "-n", "4", "--data-dir", str(root / "data")]
    result = CliRunner().invoke(cli, args, env={"BENCH_CACHE_DIR": str(root / "cache")})
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(out) as image:
        width, height = image.size
    assert width > height  # two panels side by side
    assert not list(tmp_path.glob(".fig.png.*"))  # no temporary file left behind


def test_generalization_rows_use_the_encoder_and_the_oracle(finished_lines_run):
    from bench.figure_generalization import ROWS, generalization_rows
    from bench.loading import load_run

    root, run_dir = finished_lines_run
    model, record = load_run(run_dir)
    rows = generalization_rows(model, record, root / "data", n=3)
    assert len(rows) == len(ROWS) and all(r.shape == (3, 1, 32, 32) for r in rows)
    assert torch.equal(rows[2], torch.full_like(rows[2], 0.5))  # an autoencoder has no samples
    with torch.no_grad():
        assert torch.allclose(rows[4], model.reconstruct(rows[3]).clamp(0, 1), atol=1e-5)
    assert not torch.allclose(rows[5], rows[4])  # the oracle optimises its own latents


def test_a_metric_declares_its_keys_and_publish_presents_them_from_the_registry(monkeypatch):
    from bench.publish import columns

    metric_base.all_metrics()  # the built-ins load into the real registry, not the copy below
    monkeypatch.setattr(metric_base, "_METRICS", dict(metric_base._METRICS))
    monkeypatch.setattr(metric_base, "_ORDER", dict(metric_base._ORDER))
    metric_base.register_metric("sharpness", "a plug-in metric", keys={"sharpness_mean": ("higher", "sharpness, mean")})(lambda ctx: {})
    assert columns.direction("sharpness_mean") == "higher" and columns.arrow("sharpness_mean") == "↑"
    assert columns.label("sharpness_mean_oracle") == "sharpness, mean (oracle encoder)"
    order = columns.ordered_metrics(["sharpness_mean", "fid", "zzz_undeclared"])
    assert order == ["fid", "sharpness_mean", "zzz_undeclared"]  # declared keys before undeclared ones
    # the built-ins' declarations are what the tables always showed
    assert columns.direction("adm_monotonicity") == "higher" and columns.label("fid") == "FID (Inception)"
    assert columns.direction("noise_l2_mean") is None


@pytest.mark.parametrize("keys, problem", [
    (None, "keys must declare"),
    ({"a": ("up", "A")}, "expected"),
    ({"a_oracle": ("lower", "A")}, "oracle encoder appends"),
    ({"fid": ("lower", "again")}, "already returned by metric 'fid'"),
])
def test_bad_key_declarations_are_refused(monkeypatch, keys, problem):
    monkeypatch.setattr(metric_base, "_METRICS", dict(metric_base._METRICS))
    metric_base.all_metrics()
    with pytest.raises(ValueError, match=problem):
        metric_base.register_metric("new_metric", "d", keys=keys)(lambda ctx: {})


def test_a_metric_returning_an_undeclared_key_is_stopped(tmp_path, monkeypatch):
    _install(monkeypatch, "sloppy", lambda ctx: {"const_a": MetricValue(1.0, {}), "surprise": MetricValue(2.0, {})})
    with pytest.raises(ValueError, match=r"'sloppy' returned keys \['surprise'\]"):
        evaluate(_context(tmp_path, []), ["sloppy"])

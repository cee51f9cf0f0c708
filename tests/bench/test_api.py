"""The Python API as a notebook user calls it: names and strings in, rows and models out."""

import subprocess
import sys

import torch

import bench


def test_run_load_evaluate_publish_without_building_budgets_or_devices(tmp_path):
    out = tmp_path / "runs"
    rows = bench.run(models=["ae"], pair="pole", budget="smoke", seeds=[0], metrics="recon", out=out, device="cpu", progress=False)
    assert [(r["model"], r["seed"], r["budget"], r["status"]) for r in rows] == [("ae", 0, "smoke", "finished")]
    assert (out / "pole.csv").is_file()  # rows go with the runs

    model, record = bench.load_run(out / "pole" / "ae" / "seed0")
    assert record["model"] == "ae" and not model.training
    x = torch.rand(2, *record["image_shape"])
    assert model.decode(model.encode(x)).shape == x.shape

    values = bench.evaluate(out / "pole" / "ae" / "seed0", metrics=["recon"], device="cpu")
    assert values["recon_l2_novel"]["value"] == rows[0]["recon_l2_novel"]  # deterministic on the CPU

    written = bench.publish_leaderboards(out, tmp_path / "site")
    assert (tmp_path / "site" / "pole" / "README.md") in written or (tmp_path / "site" / "pole") in written
    assert (tmp_path / "site" / "pole" / "leaderboard.csv").is_file()


def test_importing_bench_loads_no_torch():
    code = "import sys, bench; print('torch' in sys.modules, callable(bench.run))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_runs_download_by_default_and_not_offline(monkeypatch, tmp_path):
    from bench import runner

    seen = []
    monkeypatch.setattr(runner, "run_benchmark", lambda opts, echo: seen.append(opts.download) or [])
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    bench.run(models="ae", pair="pole", budget="smoke", out=tmp_path, progress=False)
    bench.run(models="ae", pair="pole", budget="smoke", out=tmp_path, progress=False, offline=True)
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    bench.run(models="ae", pair="pole", budget="smoke", out=tmp_path, progress=False)
    assert seen == [True, False, False]

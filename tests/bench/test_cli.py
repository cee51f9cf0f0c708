"""End-to-end CLI runs as a user types them (subprocesses), on the synthetic pole pair."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def bench(*args, cwd=None, env=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=600)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("smoke")
    env = {"BENCH_CACHE_DIR": str(work / "cache"), "TORCH_HOME": str(work / "torch-home")}  # no Inception weights, as on CI
    result = bench("run", "--models", "ae,pixel-fade", "--pair", "pole", "--budget", "smoke", "--n-seeds", "2", "--out", str(work / "runs"), "--leaderboard-dir", str(work / "lb"), cwd=work, env=env)
    return work, env, result


def test_smoke_run_writes_runs_and_leaderboard(smoke_run):
    work, _, result = smoke_run
    assert result.returncode == 0, result.stderr
    assert "Results" in result.stdout and "recon_l2_novel" in result.stdout
    table = pd.read_csv(work / "lb" / "pole.csv")
    assert sorted(zip(table.model, table.seed)) == [("ae", 0), ("ae", 1), ("pixel-fade", 0), ("pixel-fade", 1)]
    assert (table.status == "finished").all() and (table.budget == "smoke").all()
    fade = table[table.model == "pixel-fade"]
    assert (fade.recon_l2_novel == 0).all()  # pixel fade reconstructs exactly
    assert (table[table.model == "ae"].recon_l2_novel > 0).all()
    run = work / "runs" / "pole" / "ae" / "seed0"
    config = json.loads((run / "config.json").read_text())
    assert config["hyperparameters"]["lr"] == 1e-3 and config["budget"]["name"] == "smoke"
    assert {"torch", "python"} <= set(config["versions"]) and config["code_version"]
    metrics = json.loads((run / "metrics.json").read_text())
    entry = metrics["metrics"]["recon_l2_train"]
    assert entry["protocol"]["images"] == 128 and entry["seconds"] >= 0
    for name in ("reconstructions_train.png", "reconstructions_novel.png", "interpolations_novel.png"):
        assert (run / "samples" / name).stat().st_size > 100
    assert (run / "model.pt").exists() and not (run / "checkpoint.pt").exists()


def test_smoke_run_scores_every_metric_that_applies_and_skips_fid_without_weights(smoke_run):
    work, _, result = smoke_run
    assert result.returncode == 0, result.stderr
    # one warning per run naming the missing Inception weights file; the run still completes
    assert result.stdout.count("metric fid skipped") == 4 and "pt_inception-2015-12-05-6726825d.pth" in result.stdout
    metrics = json.loads((work / "runs" / "pole" / "ae" / "seed0" / "metrics.json").read_text())
    assert "fid" in metrics["skipped_metrics"]
    expected = {"noise_l2_mean", "adm_smoothness", "adm_monotonicity", "adm_boundary_l2", "gt_mse_mean", "gt_mse_peak", "alpha_error_median"}
    assert expected <= set(metrics["metrics"])
    assert not {"misclassification", "fid_domain", "adm_credibility"} & set(metrics["metrics"])  # one-domain pair
    curve = metrics["metrics"]["gt_mse_mean"]["details"]["mse_mean"]
    assert len(curve) == 17 and curve[8] > 0  # alpha 0.5 of a 20-step model is not the true image
    table = pd.read_csv(work / "lb" / "pole.csv")
    fade, ae = table[table.model == "pixel-fade"], table[table.model == "ae"]
    assert (fade.adm_monotonicity == 1).all()  # a cross-fade is monotone by construction
    assert (table.gt_mse_mean > 0).all()


def test_finished_runs_are_reused_not_overwritten(smoke_run):
    work, env, _ = smoke_run
    metrics = work / "runs" / "pole" / "ae" / "seed0" / "metrics.json"
    before = metrics.read_bytes()
    again = bench("run", "--models", "ae", "--pair", "pole", "--budget", "smoke", "--out", str(work / "runs"), "--leaderboard-dir", str(work / "lb"), cwd=work, env=env)
    assert again.returncode == 0, again.stderr
    assert "reusing" in again.stdout
    assert metrics.read_bytes() == before
    assert len(pd.read_csv(work / "lb" / "pole.csv")) == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--models", "nope", "--pair", "pole"], "Unknown model 'nope'"),
        (["run", "--models", "ae", "--pair", "nope"], "Unknown pair 'nope'"),
        (["run", "--models", "ae", "--pair", "pole", "--budget", "huge"], "Unknown budget 'huge'"),
        (["run", "--models", "ae", "--pair", "pole", "--device", "tpu"], "Unknown device 'tpu'"),
        (["run", "--models", "ae", "--pair", "pole", "--seeds", "x"], "--seeds 'x'"),
        (["run", "--models", "ae", "--pair", "pole", "--set", "nope=1"], "Valid keys"),
        (["run", "--models", "ae", "--pair", "pole", "--set", "lr=abc"], "finite number"),
        (["run", "--models", "ae", "--pair", "pole", "--plugin", "no_such_plugin_mod"], "failed to import"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, args, message):
    result = bench(*args, "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(tmp_path / "lb"), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "lb").exists()


def test_missing_real_data_exits_2_naming_domain_files_and_dir(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = bench("run", "--models", "ae", "--pair", "mnist-emnist", "--data-dir", str(empty), "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(tmp_path / "lb"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    err = result.stderr
    assert "Traceback" not in err and "mnist" in err and str(empty) in err and "--offline" in err and "emnist-letters" in err
    assert "train-images-idx3-ubyte" in err


def test_pairs_and_models_listings(tmp_path):
    pairs = bench("pairs", "--data-dir", str(tmp_path))
    assert pairs.returncode == 0
    for name in ("mnist-emnist", "omniglot", "mnist-fashion", "mnist-omniglot", "cifar10-cifar100", "celeba", "lines", "pole"):
        assert name in pairs.stdout
    assert "synthetic" in pairs.stdout and "1x28x28" in pairs.stdout and "3x128x128" in pairs.stdout
    models = bench("models")
    assert models.returncode == 0 and "pixel-fade" in models.stdout and "Wertheimer" in models.stdout


def readme_snippet(heading: str) -> str:
    """The first ```python block after `heading` in README.md, as a user would copy it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    after = readme.split(heading, 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def console_script(tmp_path):
    """A launcher like the `bench` console script pip installs: outside the current folder, so
    Python does not put the current folder on sys.path (as `python -m` would)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "bench_script.py").write_text("from bench.cli import main\nmain()\n")
    return [sys.executable, str(folder / "bench_script.py")]


def test_the_readmes_plugin_example_runs_as_written_from_the_current_folder_and_as_a_file(tmp_path):
    work = tmp_path / "work"
    (work / "plugins").mkdir(parents=True)
    snippet = readme_snippet("### Adding a model")
    (work / "my_module.py").write_text(snippet)
    (work / "plugins" / "my_file.py").write_text(snippet)
    env = {**os.environ, "BENCH_CACHE_DIR": str(tmp_path / "cache"), "TORCH_HOME": str(tmp_path / "torch-home")}
    common = [*console_script(tmp_path), "run", "--models", "my-ae", "--pair", "pole", "--budget", "smoke", "--metrics", "recon", "--leaderboard-dir", "lb"]
    for plugin, out in (("my_module", "runs-a"), ("plugins/my_file.py", "runs-b")):
        result = subprocess.run([*common, "--plugin", plugin, "--out", out], capture_output=True, text=True, cwd=work, env=env, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads((work / out / "pole" / "my-ae" / "seed0" / "metrics.json").read_text())["status"] == "finished"


def test_python_dash_m_bench_is_the_bench_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench", "models"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0 and "pixel-fade" in result.stdout


def test_run_rows_go_with_the_runs_not_into_the_checkout(tmp_path):
    # in a clone's root the default used to append to the checked-in leaderboards/<pair>.csv
    result = bench("run", "--models", "pixel-fade", "--pair", "pole", "--budget", "smoke", "--metrics", "recon", "--out", "myruns", cwd=tmp_path, env={"BENCH_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "myruns" / "pole.csv").is_file() and not (tmp_path / "leaderboards").exists()
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().split()
    assert "/runs/" in ignored  # the default --out of a run started in the checkout is git-ignored


@pytest.mark.parametrize(
    "args, code",
    [
        (["run", "--models", "ae", "--pair", "nope"], 2),
        (["run", "--models", "nope", "--pair", "pole"], 2),
        (["run", "--models", "ae", "--pair", "pole", "--metrics", "nope"], 2),
        (["run", "--models", "ae", "--pair", "pole", "--budget", "nope"], 2),
        (["run", "--models", "ae", "--pair", "pole", "--seeds", "0,0"], 2),
        (["models"], 0),
        (["pairs"], 0),
        (["metrics"], 0),
    ],
)
def test_refusals_and_listings_answer_without_importing_torch(args, code, tmp_path):
    """`bench run --pair nope` took 4 s of CPU to refuse (torch was imported first)."""
    script = (
        "import sys\nfrom bench.cli import cli\ntry:\n    cli.main(sys.argv[1:], prog_name='bench')\n"
        "except SystemExit as exc:\n    print('EXIT', exc.code, 'torch' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert f"EXIT {code} False" in result.stderr, result.stderr[-1500:]


def test_the_catalogues_read_from_the_source_match_the_imported_registries():
    import importlib

    from bench.catalogue import metric_descriptions
    from metrics.base import all_metrics
    from models import registry

    assert metric_descriptions() == {m.name: m.description for m in all_metrics().values()}
    assert list(metric_descriptions()) == list(all_metrics())  # the order `bench metrics` lists
    registry.load_builtin()
    catalogue = registry._catalogue()
    assert set(catalogue) == {n for n, c in registry._REGISTRY.items() if c.__module__.startswith("models.")}
    for name, (module, family, description, paper) in catalogue.items():
        cls = registry.get(name)
        assert (cls.__module__, cls.family, cls.description, cls.paper) == (module, family, description, paper)
        assert importlib.import_module(module) is not None


def test_the_smoke_budget_keeps_fid_small_enough_for_its_promise():
    # FID on 128 + 128 images through Inception was 114 s of a 145 s smoke run of ae on the pole
    from bench.budgets import BUDGETS

    smoke = BUDGETS["smoke"]
    assert smoke.evaluation.fid_images <= 32 and "FID on 32 generated images" in smoke.description

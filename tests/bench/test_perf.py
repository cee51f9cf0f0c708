"""`bench perf`: the CSV it writes, its refusals, and the measuring pieces (no timing targets here:
those are read from the figures the benchmark prints)."""

import math
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import BenchError
from bench.perf import measure
from bench.perf.figures import random_images
from bench.perf.report import COLUMNS, Figure
from bench.perf.suite import QUICK
from bench.perf.training import ReferenceTrainingSet, TrainingSetup, training_figure
from bench.trainer import augmentation_engine
from metrics.inception import WEIGHTS_FILE
from models.ae import AE, AEConfig
from models.vae import VAE, VAEConfig

QUICK_FIGURES = {"augment/triplets", "train/ae/b8", "train/ae/b16", "fid/inception_features", "fid/frechet_distance"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("perf")
    env = {"TORCH_HOME": str(work / "torch-home"), "BENCH_CACHE_DIR": str(work / "cache")}  # no Inception weights, as on CI
    out = work / "tmp" / "perf.csv"
    result = CliRunner().invoke(cli, ["perf", "--quick", "--device", "cpu", "--models", "ae", "--out", str(out)], env=env)
    return result, out


def test_quick_run_writes_every_figure_with_its_baseline(quick_run):
    result, out = quick_run
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS
    assert set(table.figure) == QUICK_FIGURES and len(table) == len(QUICK_FIGURES)
    measured = table[table.figure != "fid/inception_features"]
    for col in ("value", "baseline", "ratio", "speedup", "peak_rss_mib", "baseline_peak_rss_mib"):
        assert np.isfinite(measured[col]).all() and (measured[col] > 0).all(), col
    np.testing.assert_allclose(measured.ratio, measured.value / measured.baseline, rtol=1e-4)
    rates = measured.unit == "images/s"
    np.testing.assert_allclose(measured.speedup[rates], measured.ratio[rates], rtol=1e-4)
    np.testing.assert_allclose(measured.speedup[~rates], 1 / measured.ratio[~rates], rtol=1e-4)
    assert (table.device.str.startswith("cpu")).all() and (table.torch == torch.__version__).all()
    assert (table.threads == torch.get_num_threads()).all() and (table.compile == "off").all()
    assert (~table.channels_last).all() and table.peak_gpu_mib.isna().all()
    assert (measured.reps == measured.figure.map(lambda f: QUICK.train_reps if f.startswith("train/") else 3)).all()
    assert (measured.peak_rss_mib > 50).all()
    assert set(table.set_index("figure").precision[["train/ae/b8", "fid/frechet_distance"]]) == {"fp32", "fp64"}
    assert set(table.unit) == {"images/s", "s"} and table.set_index("figure").unit["fid/frechet_distance"] == "s"
    assert "train/ae/b16" in result.output and f"Wrote {out}" in result.output


def test_missing_inception_weights_skip_that_figure_with_a_note(quick_run):
    _, out = quick_run
    row = pd.read_csv(out).set_index("figure").loc["fid/inception_features"]
    assert math.isnan(row.value) and math.isnan(row.ratio)
    assert row.note.startswith("skipped:") and WEIGHTS_FILE in row.note


@pytest.mark.parametrize(
    "args, message",
    [
        (["--device", "tpu"], "Unknown device 'tpu'"),
        (["--models", "ae,nope"], "Unknown model 'nope'"),
        (["--models", "pixel-fade"], "not trained"),
        (["--models", ","], "No model named"),
    ],
)
def test_bad_device_or_models_exit_2_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "perf.csv"
    result = CliRunner().invoke(cli, ["perf", "--quick", "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_out_folder_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["perf", "--quick", "--device", "cpu", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_cuda_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["perf", "--quick", "--device", "cuda", "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "CUDA is not available" in result.output


def test_alternate_warms_up_then_runs_abba_and_counts_work():
    calls = []

    def figure():
        calls.append("F")
        return 8

    def baseline():
        calls.append("B")
        return 2

    fig, base = measure.alternate(figure, baseline, 3, torch.device("cpu"))
    assert "".join(calls) == "FB" + "FB" + "BF" + "FB"  # warm-up, then ABBA
    assert fig.counts == [8, 8, 8] and base.counts == [2, 2, 2]
    assert len(fig.seconds) == len(base.seconds) == 3 and all(s > 0 for s in fig.seconds + base.seconds)
    calls.clear()
    measure.alternate(figure, baseline, 2, torch.device("cpu"), warmup=False)
    assert "".join(calls) == "FBBF"


def test_medians_and_ratios():
    side = measure.Side(seconds=[1.0, 2.0, 4.0], counts=[10, 10, 10])
    assert side.median_rate() == 5.0 and side.median_seconds() == 2.0
    rate = Figure("x", "images/s", "b", value=30.0, baseline=10.0)
    assert rate.ratio == 3.0 and rate.speedup == 3.0
    time = Figure("y", "s", "b", value=1.0, baseline=4.0)
    assert time.ratio == 0.25 and time.speedup == 4.0
    with pytest.raises(ValueError):
        Figure("z", "furlongs", "b")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-figure peak RSS needs Linux's clear_refs")
def test_peak_rss_is_reset_between_figures():
    if not measure.reset_peak_rss():
        pytest.skip("clear_refs is not writable here")
    before = measure.peak_rss_mib()
    block = np.ones(300 * 2**20, dtype=np.uint8)  # 300 MiB, touched
    grown = measure.peak_rss_mib()
    del block
    measure.reset_peak_rss()
    assert grown > before + 250
    assert measure.peak_rss_mib() < grown - 250


def test_reference_items_match_what_each_model_reads():
    images = random_images(4)
    ae, vae = AE(AEConfig(), (1, 28, 28)), VAE(VAEConfig(), (1, 28, 28))
    engine = augmentation_engine(ae, (1, 28, 28))
    x, a, b, c, alpha = ReferenceTrainingSet(images, engine)[1]
    torch.testing.assert_close(x, images[1].float() / 255)
    assert a.shape == b.shape == c.shape == (1, 28, 28) and alpha.shape == () and 0 <= float(alpha) <= 1
    assert augmentation_engine(vae, (1, 28, 28)) is None
    (only,) = ReferenceTrainingSet(images, None)[2]
    torch.testing.assert_close(only, images[2].float() / 255)


def test_a_failing_compile_is_recorded_and_the_step_measured_eager(monkeypatch):
    def broken_compile(fn, *args, **kwargs):
        def fails(*a, **k):
            raise RuntimeError("no working C++ compiler")

        return fails

    monkeypatch.setattr(torch, "compile", broken_compile)
    setup = TrainingSetup(steps=1, reference_steps=1, reps=1, loader_workers=0, compile=True)
    figure = training_figure("ae", 4, random_images(8), torch.device("cpu"), setup)
    assert figure.compile == "failed" and "no working C++ compiler" in figure.note
    assert math.isfinite(figure.value) and figure.value > 0 and figure.baseline > 0


def test_a_failing_figure_keeps_the_figures_before_it_and_names_itself(tmp_path, monkeypatch):
    """On the GPU machine the last figure (pytorch-fid on scipy 1.18) raised after minutes of
    figures, and the CSV, written only at the end, was lost with them."""
    from bench.perf import suite

    def fails():
        raise TypeError("sqrtm() got an unexpected keyword argument 'disp'")

    measured = Figure("augment/triplets", "images/s", "reference", value=2.0, baseline=1.0, reps=1)
    monkeypatch.setattr(suite, "plan", lambda opts: [("augment/triplets", lambda: measured), ("fid/frechet_distance", fails)])
    out = tmp_path / "perf.csv"
    with pytest.raises(BenchError) as info:
        suite.run_perf(suite.PerfOptions(device=torch.device("cpu"), out=out), echo=lambda m: None)
    assert "fid/frechet_distance failed (TypeError: sqrtm()" in str(info.value) and str(out) in str(info.value)
    rows = pd.read_csv(out)
    assert list(rows["figure"]) == ["augment/triplets"] and rows["value"].iloc[0] == 2.0

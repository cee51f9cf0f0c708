"""`--export-samples`: the images FID and misclassification scored, as PNGs with an index that
says where each comes from, so anyone can recompute the numbers."""

from __future__ import annotations

import csv
import json

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

from bench import data as data_layer
from bench.api import load_run
from bench.cli import cli
from bench.runner import run_benchmark
from test_runner import options


def test_a_run_exports_what_it_scored_and_each_generated_image_is_the_decoded_interpolation(tmp_path):
    out = tmp_path / "scored"
    run_benchmark(options(tmp_path, "runs", export_samples=out), echo=lambda m: None)
    folder = out / "pole" / "ae" / "seed0"
    rows = list(csv.DictReader(open(folder / "index.csv")))
    generated = [r for r in rows if r["set"] == "generated"]
    reference = [r for r in rows if r["set"] == "reference"]
    protocol = json.loads((folder / "protocol.json").read_text())
    assert len(generated) == protocol["generated"]["generated"] == 32  # the smoke budget's fid_images
    assert len(reference) == 32 and {r["alpha"] for r in generated} == {"0.25", "0.5", "0.75"}
    model, record = load_run(tmp_path / "runs" / "pole" / "ae" / "seed0")
    pair = data_layer.get_pair("pole")
    _, novel = data_layer.load_pair(pair, tmp_path / "data", max_test=128)
    first = generated[0]
    x = novel.test.images[[int(first["source_a"]), int(first["source_b"])]].float() / 255
    with torch.no_grad():
        z = model.encode(x)
        expected = model.decode(model.interpolate(z[:1], z[1:], float(first["alpha"]))).clamp(0, 1)[0, 0]
    saved = np.asarray(Image.open(folder / first["file"]), dtype=np.float32) / 255
    assert np.abs(saved - expected.numpy()).max() <= 1 / 255 + 1e-6
    ref = reference[0]
    assert np.array_equal(np.asarray(Image.open(folder / ref["file"])), novel.test.images[int(ref["test_index"]), 0].numpy())


def test_evaluate_refuses_a_folder_that_holds_files(tmp_path):
    run_benchmark(options(tmp_path, "runs", models=["pixel-fade"]), echo=lambda m: None)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x.txt").write_text("x")
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "runs" / "pole" / "pixel-fade" / "seed0"), "--metrics", "recon",
                                      "--data-dir", str(tmp_path / "data"), "--device", "cpu", "--export-samples", str(busy)])  # fmt: skip
    assert result.exit_code == 2 and "not empty" in result.output and (busy / "x.txt").read_text() == "x"


def test_a_run_whose_export_folder_holds_files_is_refused_before_training(tmp_path):
    import pytest

    from bench.errors import BenchError

    busy = tmp_path / "scored" / "pole" / "ae" / "seed0"
    busy.mkdir(parents=True)
    (busy / "x.txt").write_text("x")
    with pytest.raises(BenchError, match="not empty"):
        run_benchmark(options(tmp_path, "runs", export_samples=tmp_path / "scored"), echo=lambda m: None)
    assert not (tmp_path / "runs" / "pole" / "ae" / "seed0" / "checkpoint.pt").exists()

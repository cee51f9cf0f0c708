"""Few-shot generation as a user drives it: load a finished run, prepare seed images of any size,
blend random pairs of different seeds (`bench generate`), interpolate two images
(`bench interpolate`); every user error exits 2 with one paragraph and writes nothing.

One real `ae` run (smoke budget, pole pair) and one `pixel-fade` run are made once per module.
pixel-fade decodes exactly to pixel cross-fades, which lets the tests check pairs and alphas end
to end through the PNG files the commands write.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageDraw

from bench.budgets import BUDGETS
from bench.data import get_pair
from bench.cli import cli
from bench.errors import BenchError
from bench.generate import few_shot_generate, find_images, interpolation_strip, load_image, load_seeds, sample_pairs
from bench.loading import load_run
from bench.runner import RunOptions, run_benchmark
from models.ae import AE, AEConfig

SHAPE = (1, 64, 64)  # the pole pair's images
PAD = 2  # torchvision grid padding used by bench.grids.save_grid
Q = 1 / 255 + 1e-6  # one PNG quantization step
# The smoke budget cut to 2 updates and 32 evaluation images: a real finished run in a few
# seconds even on busy shared cores (the numbers are meaningless, as with smoke itself).
BUDGET = BUDGETS["smoke"].with_settings(large_images=(8, 2), eval_images=32)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("generate")
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run before conftest's per-test isolation
        mp.setenv("BENCH_CACHE_DIR", str(work / "cache"))
        mp.setenv("BENCH_DATA_DIR", str(work / "no-data-here"))
        mp.setenv("TORCH_HOME", str(work / "torch-home"))
        opts = RunOptions(
            models=["ae", "pixel-fade"],
            pair=get_pair("pole"),
            budget=BUDGET,
            seeds=[0],
            device=torch.device("cpu"),
            data_dir=work / "data",
            out_dir=work / "runs",
            leaderboard_dir=work / "lb",
            progress=False,
            metrics=["recon"],
        )
        run_benchmark(opts, echo=lambda m: None)
    root = work / "runs" / "pole"
    return {"ae": root / "ae" / "seed0", "fade": root / "pixel-fade" / "seed0", "cache": work / "cache"}


def _image(size, mode, background, ink, draw):
    img = Image.new(mode, size, background)
    draw(ImageDraw.Draw(img), ink)
    return img


@pytest.fixture
def seed_dir(tmp_path):
    """Four distinct seeds of different sizes and modes; s2 is black on white (to be inverted)."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    _image((64, 64), "L", 0, 255, lambda d, c: d.line([(8, 8), (56, 56)], fill=c, width=5)).save(folder / "s0.png")
    _image((40, 40), "L", 0, 200, lambda d, c: d.ellipse([6, 6, 34, 34], outline=c, width=3)).save(folder / "s1.png")
    _image((100, 100), "RGB", (255, 255, 255), (0, 0, 0), lambda d, c: d.rectangle([20, 30, 80, 60], fill=c)).save(folder / "s2.png")
    _image((120, 90), "L", 0, 255, lambda d, c: d.line([(60, 5), (60, 85)], fill=c, width=8)).save(folder / "s3.bmp")
    (folder / "notes.txt").write_text("not a seed")  # ignored: not an image suffix
    return folder


def _read_png(path) -> torch.Tensor:
    """A PNG as (C, H, W) in [0, 1]; grids of gray images are stored as RGB with equal channels."""
    arr = np.asarray(Image.open(path))
    x = torch.from_numpy(arr.copy()).float() / 255
    return x[None] if x.dim() == 2 else x.permute(2, 0, 1)


def _tile(grid: torch.Tensor, row: int, col: int, size: int = 64) -> torch.Tensor:
    top, left = PAD + row * (size + PAD), PAD + col * (size + PAD)
    return grid[:1, top : top + size, left : left + size]


def _quantized(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(255).add(0.5).floor().div(255)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# --- loading a run ---------------------------------------------------------------------------
def test_load_run_round_trip_matches_the_trained_weights(runs, seed_dir, monkeypatch):
    model, record = load_run(runs["ae"])
    assert record["model"] == "ae" and tuple(model.image_shape) == SHAPE and not model.training
    fresh = AE(AEConfig(**record["hyperparameters"]), SHAPE)
    fresh.load_state_dict(torch.load(runs["ae"] / "model.pt", weights_only=True)["state_dict"])
    fresh.eval()
    x = load_seeds([seed_dir], SHAPE).images
    with torch.no_grad():
        z, z_fresh = model.encode(x), fresh.encode(x)
        assert torch.equal(z, z_fresh)
        assert torch.equal(model.decode(z), fresh.decode(z_fresh))
    # ... and it reproduces the run's own recorded metric on the novel test split.
    from bench import data as data_layer
    from metrics.reconstruction import reconstruction_l2

    monkeypatch.setenv("BENCH_CACHE_DIR", str(runs["cache"]))  # the pole splits the run rendered
    budget = BUDGET
    metrics = json.loads((runs["ae"] / "metrics.json").read_text())["metrics"]
    _, novel = data_layer.load_pair(data_layer.get_pair("pole"), runs["ae"], max_train=budget.training.max_train, max_test=budget.evaluation.eval_images)
    images = novel.test.images[: budget.evaluation.eval_images] if budget.evaluation.eval_images else novel.test.images
    assert reconstruction_l2(model, images) == pytest.approx(metrics["recon_l2_novel"]["value"], rel=1e-5)


def test_untrained_model_loads_without_weights(runs, seed_dir):
    model, record = load_run(runs["fade"])
    assert record["model"] == "pixel-fade" and not (runs["fade"] / "model.pt").exists()
    x = load_seeds([seed_dir], SHAPE).images
    assert torch.equal(model.reconstruct(x), x)


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("samples"))
    return dst


def test_load_run_refuses_broken_runs_with_clear_messages(runs, tmp_path):
    corrupt = _copy_run(runs["ae"], tmp_path / "corrupt")
    (corrupt / "model.pt").write_bytes(b"not a torch file")
    with pytest.raises(BenchError, match="corrupt"):
        load_run(corrupt)

    mismatched = _copy_run(runs["ae"], tmp_path / "mismatched")
    record = json.loads((mismatched / "config.json").read_text())
    other = AE(AEConfig(latent_dim=8), SHAPE).state_dict()
    torch.save({"model": "ae", "config_hash": record["config_hash"], "state_dict": other}, mismatched / "model.pt")
    with pytest.raises(BenchError, match="do not fit"):
        load_run(mismatched)

    unknown = _copy_run(runs["fade"], tmp_path / "unknown")
    (unknown / "config.json").write_text(json.dumps({**record, "model": "my-plugin-ae"}))
    with pytest.raises(BenchError, match="--plugin"):
        load_run(unknown)


# --- seed images -----------------------------------------------------------------------------
def test_seeds_of_any_size_are_resized_and_bright_backgrounds_inverted(seed_dir, tmp_path):
    files = find_images([seed_dir, seed_dir / "s1.png"])  # a repeated file counts once
    assert [f.name for f in files] == ["s0.png", "s1.png", "s2.png", "s3.bmp"]
    seeds = load_seeds([seed_dir], SHAPE)
    assert seeds.images.shape == (4, *SHAPE) and seeds.inverted == [False, False, True, False]
    assert 0 <= seeds.images.min() and seeds.images.max() <= 1

    black_on_white = seed_dir / "s2.png"
    auto, flipped = load_image(black_on_white, SHAPE, "auto")
    assert flipped and auto[0, 0, 0] == 0 and auto[0, 32, 32] == 1  # now white ink on black
    kept, flipped = load_image(black_on_white, SHAPE, "no")
    assert not flipped and torch.equal((kept * 255).round(), 255 - (auto * 255).round())
    forced, flipped = load_image(seed_dir / "s0.png", SHAPE, "yes")
    assert flipped and forced[0, 0, 63] == 1

    # Transparent background: composited over white, then detected as bright and inverted.
    transparent = _image((50, 50), "RGBA", (0, 0, 0, 0), (0, 0, 0, 255), lambda d, c: d.line([(5, 25), (45, 25)], fill=c, width=4))
    transparent.save(tmp_path / "t.png")
    x, flipped = load_image(tmp_path / "t.png", SHAPE, "auto")
    assert flipped and x[0, 0, 0] == 0 and x[0, 32, 32] == 1

    # RGB models get RGB seeds and are never auto-inverted.
    rgb, flipped = load_image(black_on_white, (3, 32, 32), "auto")
    assert rgb.shape == (3, 32, 32) and not flipped and rgb[:, 0, 0].tolist() == [1, 1, 1]


# --- pairs and generation --------------------------------------------------------------------
def test_pairs_never_use_the_same_seed_twice():
    a, b, alpha = sample_pairs(2, 500, "uniform", seed=3)
    assert (a != b).all() and set(zip(a.tolist(), b.tolist())) == {(0, 1), (1, 0)}
    a, b, alpha = sample_pairs(3, 500, "uniform", seed=3)
    assert (a != b).all() and len(set(zip(a.tolist(), b.tolist()))) == 6
    assert 0 <= alpha.min() and alpha.max() < 1 and alpha.std() > 0.2
    again = sample_pairs(3, 500, "uniform", seed=3)
    assert all(torch.equal(x, y) for x, y in zip((a, b, alpha), again))
    assert not torch.equal(a, sample_pairs(3, 500, "uniform", seed=4)[0])
    assert (sample_pairs(5, 50, "mid", seed=0)[2] == 0.5).all()
    with pytest.raises(BenchError, match="at least 2"):
        sample_pairs(1, 10)


def test_uniform_generation_blends_the_drawn_pairs(runs, seed_dir):
    model, _ = load_run(runs["fade"])
    seeds = load_seeds([seed_dir], SHAPE).images
    out = few_shot_generate(model, seeds, 40, "uniform", seed=7, batch_size=16)
    a, b, alpha = sample_pairs(4, 40, "uniform", seed=7)
    w = alpha.view(-1, 1, 1, 1)
    assert out.shape == (40, *SHAPE)
    assert torch.allclose(out, (1 - w) * seeds[a] + w * seeds[b], atol=1e-6)


def test_generate_cli_writes_grid_and_images(runs, seed_dir, tmp_path):
    """The real command in a subprocess, with the trained ae."""
    out = tmp_path / "out" / "grid.png"
    result = subprocess.run(
        [sys.executable, "-m", "bench.cli", "generate", str(runs["ae"]), "--seeds", str(seed_dir), "-n", "12", "--out", str(out), "--device", "cpu"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote" in result.stdout and str(out) in result.stdout and "1 inverted" in result.stdout
    grid = Image.open(out)
    rows = 1 + 2  # one row of 4 seeds, then 12 generated at 8 per row
    assert out.stat().st_size > 0 and grid.size == (8 * 66 + PAD, rows * 66 + PAD)
    images = sorted((tmp_path / "out" / "grid_images").iterdir())
    assert [p.name for p in images] == [f"{i:03d}.png" for i in range(12)]
    assert all(Image.open(p).size == (64, 64) and Image.open(p).mode == "L" for p in images)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grid.png", "grid_images"]  # no leftovers


def test_mid_alpha_outputs_are_averages_of_two_different_seeds(runs, seed_dir, tmp_path):
    out = tmp_path / "fade.png"
    result = invoke("generate", runs["fade"], "--seeds", seed_dir, "-n", 24, "--alpha", "mid", "--seed", 1, "--out", out)
    assert result.exit_code == 0, result.output
    seeds = load_seeds([seed_dir], SHAPE).images
    n = len(seeds)
    candidates = {(i, j): (seeds[i] + seeds[j]) / 2 for i in range(n) for j in range(i, n)}  # j == i: the seed itself
    keys = list(candidates)
    stack = torch.stack([candidates[k] for k in keys])
    gaps = (stack[:, None] - stack[None]).abs().flatten(2).amax(-1) + torch.eye(len(keys)) * 9
    assert gaps.min() > 3 * Q  # every candidate is distinguishable after PNG rounding

    folder = tmp_path / "fade_images"
    used = set()
    for path in sorted(folder.iterdir()):
        x = _read_png(path)
        dist = (stack - x).abs().flatten(1).amax(1)
        best = int(dist.argmin())
        assert dist[best] <= Q, path.name
        i, j = keys[best]
        assert i != j, f"{path.name} repeats seed {i}"
        used.add((i, j))
    assert len(list(folder.iterdir())) == 24 and len(used) >= 4

    grid = _read_png(out)  # first row: the seeds; the generated images start on the next row
    assert torch.allclose(_tile(grid, 0, 0), _quantized(seeds[0]), atol=Q)
    assert torch.allclose(_tile(grid, 0, 3), _quantized(seeds[3]), atol=Q)
    assert torch.allclose(_tile(grid, 1, 0), _read_png(folder / "000.png"), atol=Q)

    again = invoke("generate", runs["fade"], "--seeds", seed_dir, "-n", 5, "--out", out)
    assert again.exit_code == 0, again.output
    assert len(list(folder.iterdir())) == 5  # a rerun replaces the old image folder
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- interpolation ---------------------------------------------------------------------------
def test_interpolate_strip_ends_are_the_inputs_for_pixel_fade(runs, seed_dir, tmp_path):
    out = tmp_path / "strip.png"
    a_path, b_path = seed_dir / "s0.png", seed_dir / "s2.png"
    result = invoke("interpolate", runs["fade"], a_path, b_path, "--steps", 5, "--out", out)
    assert result.exit_code == 0, result.output
    strip = _read_png(out)
    assert strip.shape[-1] == 7 * 66 + PAD
    a, _ = load_image(a_path, SHAPE)
    b, _ = load_image(b_path, SHAPE)  # auto-inverted, as in the command
    tiles = [_tile(strip, 0, k) for k in range(7)]
    assert torch.equal(tiles[0], a) and torch.equal(tiles[1], a)
    assert torch.equal(tiles[5], b) and torch.equal(tiles[6], b)
    assert torch.allclose(tiles[3], (a + b) / 2, atol=Q)


def test_interpolate_strip_ends_are_the_decoded_endpoints(runs, seed_dir, tmp_path):
    model, _ = load_run(runs["ae"])
    a, _ = load_image(seed_dir / "s1.png", SHAPE)
    b, _ = load_image(seed_dir / "s3.bmp", SHAPE)
    strip = interpolation_strip(model, a, b, 9)
    with torch.no_grad():
        ends = model.reconstruct(torch.stack([a, b]))
    assert strip.shape == (9, *SHAPE)
    assert torch.allclose(strip[0], ends[0], atol=1e-5) and torch.allclose(strip[-1], ends[1], atol=1e-5)

    out = tmp_path / "strip.png"
    result = invoke("interpolate", runs["ae"], seed_dir / "s1.png", seed_dir / "s3.bmp", "--out", out)
    assert result.exit_code == 0, result.output
    png = _read_png(out)
    assert torch.allclose(_tile(png, 0, 1), _quantized(ends[0]), atol=Q)
    assert torch.allclose(_tile(png, 0, 9), _quantized(ends[1]), atol=Q)


# --- user errors -----------------------------------------------------------------------------
def _case(name, runs, seed_dir, tmp_path):
    """(run dir, seeds path, expected message) for one broken input."""
    if name == "no seeds folder":
        return runs["fade"], tmp_path / "no-such-folder", "does not exist"
    if name == "empty folder":
        return runs["fade"], seed_dir.parent / "empty", "No seed images found"
    if name == "one image":
        one = tmp_path / "one"
        one.mkdir()
        shutil.copy(seed_dir / "s0.png", one)
        return runs["fade"], one, "at least 2"
    if name == "text file named .png":
        (seed_dir / "readme.png").write_text("this is text")
        return runs["fade"], seed_dir, "readme.png"
    if name == "no config.json":
        plain = tmp_path / "plain"
        plain.mkdir()
        return plain, seed_dir, "no config.json"
    if name == "unfinished run":
        run = _copy_run(runs["ae"], tmp_path / "runs" / "pole" / "ae" / "seed0")
        (run / "model.pt").unlink()
        return run, seed_dir, "has not finished"
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["no seeds folder", "empty folder", "one image", "text file named .png", "no config.json", "unfinished run"])
def test_user_errors_exit_2_with_one_paragraph_and_write_nothing(name, runs, seed_dir, tmp_path):
    (seed_dir.parent / "empty").mkdir(exist_ok=True)
    run_dir, seeds, message = _case(name, runs, seed_dir, tmp_path)
    out = tmp_path / "out" / "grid.png"
    result = invoke("generate", run_dir, "--seeds", seeds, "-n", 4, "--out", out, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.startswith("Error: ") and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    if name == "unfinished run":
        assert "bench run --models ae --pair pole --budget smoke --seeds 0," in result.stderr


def test_interpolate_and_out_errors_exit_2(runs, seed_dir, tmp_path):
    out = tmp_path / "out" / "strip.png"
    result = invoke("interpolate", runs["fade"], seed_dir / "s0.png", tmp_path / "missing.png", "--out", out)
    assert result.exit_code == 2 and "missing.png does not exist" in result.stderr
    result = invoke("interpolate", runs["fade"], seed_dir / "s0.png", seed_dir / "s1.png", "--steps", 1, "--out", out)
    assert result.exit_code == 2 and "--steps" in result.stderr
    result = invoke("generate", runs["fade"], "--seeds", seed_dir, "--out", tmp_path / "out" / "grid.jpg")
    assert result.exit_code == 2 and "ending in .png" in result.stderr
    assert not (tmp_path / "out").exists()


def test_many_seeds_give_a_readable_grid_all_images_and_warnings_for_transparent_or_tiny_seeds(runs, tmp_path):
    from bench.generate import GRID_MAX_GENERATED, GRID_MAX_SEEDS

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        _image((64, 64), "L", 0, 40 + 7 * i, lambda d, c: d.ellipse([8, 8, 56, 56], outline=c, width=3)).save(folder / f"s{i:02d}.png")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(folder / "clear.png")  # transparent
    Image.new("L", (10, 10), 255).save(folder / "tiny.png")  # a fifth of the model's size
    out = tmp_path / "grid.png"
    result = invoke("generate", runs["fade"], "--seeds", folder, "-n", 150, "--out", out)
    assert result.exit_code == 0, result.output
    assert "transparency (clear.png); transparent pixels were composited over white" in result.output
    assert "smaller than half the model's 64x64 (tiny.png (10x10))" in result.output
    assert f"the first {GRID_MAX_SEEDS} of the 32 seeds, then the first {GRID_MAX_GENERATED} of the 150 generated images" in result.output
    rows = GRID_MAX_SEEDS // 8 + GRID_MAX_GENERATED // 8
    assert Image.open(out).size == (8 * 66 + PAD, rows * 66 + PAD)  # capped: 10 rows, not 4 + 19
    assert len(list((tmp_path / "grid_images").iterdir())) == 150  # every generated image is written


def test_run_grids_say_what_their_rows_and_columns_are(tmp_path):
    import numpy as np
    import torch
    from PIL import Image

    from bench.grids import save_grid

    images = torch.zeros(16, 1, 28, 28)  # black images: any dark pixel outside them is a label
    save_grid(images, tmp_path / "plain.png", nrow=8)
    save_grid(images, tmp_path / "labelled.png", nrow=8, row_labels=["inputs", "reconstructions"], column_labels=[f"a={k}" for k in range(8)])
    plain, labelled = Image.open(tmp_path / "plain.png"), np.asarray(Image.open(tmp_path / "labelled.png").convert("L"))
    left, top = labelled.shape[1] - plain.width, labelled.shape[0] - plain.height
    assert left >= len("reconstructions") * 6 and top > 0
    assert (labelled[top:, :left] < 128).any() and (labelled[:top, left:] < 128).any()  # text in both margins

"""`bench fid A B`: FID of two folders of images (or a folder and saved statistics), equal to
pytorch-fid's own command on the same folders; bad paths are refused with exit code 2."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bench.cli import cli

WEIGHTS = Path(os.path.expanduser("~/.cache/torch/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth"))


def _folder(path: Path, n: int, seed: int, size=(28, 28)) -> Path:
    """Soft discs at random places and sizes: images Inception tells apart."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    yy, xx = np.mgrid[: size[0], : size[1]]
    for i in range(n):
        cy, cx, r = rng.uniform(6, size[0] - 6), rng.uniform(6, size[1] - 6), rng.uniform(2, 6 + 4 * seed)
        disc = np.clip(1.5 - np.hypot(yy - cy, xx - cx) / r, 0, 1)
        Image.fromarray((disc * 255).astype(np.uint8)).save(path / f"{i:03d}.png")
    return path


def _fid(*args):
    result = CliRunner().invoke(cli, ["fid", *map(str, args), "--device", "cpu", "--no-progress"])
    return result


def test_bench_fid_equals_pytorch_fid_and_its_saved_statistics(tmp_path, monkeypatch):
    if not WEIGHTS.is_file():
        pytest.skip(f"pytorch-fid's Inception weights are not at {WEIGHTS} (copy them there to run this comparison)")
    monkeypatch.setenv("TORCH_HOME", str(WEIGHTS.parents[2]))
    from pytorch_fid.fid_score import calculate_fid_given_paths

    a, b = _folder(tmp_path / "a", 24, 0), _folder(tmp_path / "b", 24, 1)
    ours = _fid(a, b)
    assert ours.exit_code == 0, ours.output
    value = float(ours.output.split("FID:")[1])
    reference = calculate_fid_given_paths([str(a), str(b)], 50, "cpu", 2048, num_workers=0)
    assert value == pytest.approx(reference, rel=1e-3)
    saved = _fid(a, "--save-stats", tmp_path / "a.npz")
    assert saved.exit_code == 0 and (tmp_path / "a.npz").is_file()
    from_stats = _fid(tmp_path / "a.npz", b)
    assert float(from_stats.output.split("FID:")[1]) == pytest.approx(value, rel=1e-9)
    with np.load(tmp_path / "a.npz") as stats:
        assert stats["mu"].shape == (2048,) and stats["sigma"].shape == (2048, 2048)


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda t: (t / "missing", t / "missing"), "does not exist"),
        (lambda t: ((t / "empty").mkdir() or t / "empty", t / "empty"), "holds 0 image file(s)"),
        (lambda t: ((t / "x.txt").write_text("x") and t / "x.txt", t / "x.txt"), "not a .npz statistics file"),
        (lambda t: ((t / "bad.npz").write_bytes(b"no") and t / "bad.npz", t / "bad.npz"), "is not a statistics file"),
        (lambda t: ((t / "cut.npz").write_bytes(b"PK\x03\x04truncated") and t / "cut.npz", t / "cut.npz"), "is not a statistics file"),
        (lambda t: (np.save(t / "one.npy", np.zeros(3)) or (t / "one.npy").rename(t / "one.npz") or t / "one.npz", t / "one.npz"), "is not a statistics file"),
        (lambda t: (np.savez(t / "shape.npz", mu=np.zeros(3), sigma=np.zeros((2, 2))) or t / "shape.npz", t / "shape.npz"), "sigma (2, 2)"),
    ],
)
def test_bad_paths_are_refused_with_exit_code_2(tmp_path, make, expected):
    a, b = make(tmp_path)
    result = _fid(a, b)
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output


def test_images_of_different_sizes_are_refused(tmp_path):
    folder = _folder(tmp_path / "mixed", 2, 0)
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(folder / "zz.png")
    result = _fid(folder, folder)
    assert result.exit_code == 2 and "must share a size" in result.output


def test_one_path_needs_save_stats(tmp_path):
    result = _fid(_folder(tmp_path / "a", 2, 0))
    assert result.exit_code == 2 and "--save-stats" in result.output


def test_domain_extractor_scores_with_the_pairs_domain_classifier(tmp_path, monkeypatch):
    import torch

    from bench import data as data_layer
    from bench.data.domain import DomainData, Split
    from bench.data.pairs import PairSpec

    def noise(name, low, high, seed):
        g = torch.Generator().manual_seed(seed)
        return DomainData(name, Split(torch.randint(low, high + 1, (96, 1, 28, 28), generator=g, dtype=torch.uint8)),
                          Split(torch.randint(low, high + 1, (32, 1, 28, 28), generator=g, dtype=torch.uint8)))  # fmt: skip

    dark, bright = noise("dark", 0, 80, 0), noise("bright", 150, 255, 1)
    monkeypatch.setattr(data_layer, "get_pair", lambda name: PairSpec("dark-bright", "dark", "bright", "test pair"))
    monkeypatch.setattr(data_layer, "load_pair", lambda pair, *a, **k: (dark, bright))

    def folder(name, domain, start):
        path = tmp_path / name
        path.mkdir()
        for i, image in enumerate(domain.test.images[start : start + 12]):
            Image.fromarray(image[0].numpy()).save(path / f"{i:03d}.png")
        return path

    a, b, c = folder("dark-a", dark, 0), folder("dark-b", dark, 12), folder("bright", bright, 0)
    args = ["--extractor", "domain", "--pair", "dark-bright", "--budget", "smoke"]
    same, other = _fid(a, b, *args), _fid(a, c, *args)
    assert same.exit_code == 0 and other.exit_code == 0, same.output + other.output
    near, far = (float(r.output.split("domain FID (dark-bright):")[1]) for r in (same, other))
    assert 0 <= near < far
    assert _fid(a, b, "--extractor", "domain").exit_code == 2  # no --pair

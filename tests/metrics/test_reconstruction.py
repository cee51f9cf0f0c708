"""The reconstruction metric: the paper's L2 reading and the collapse diagnostic, on models whose
answers are known (identity, a blank output, the training-set mean, a blur)."""

from dataclasses import replace

import pytest
import torch

from metrics.reconstruction import reconstruction_metric, spread_ratio
from tests.metrics.test_noise_frequency import BlurModel, lines, make_ctx  # noqa: F401 (fixture)


class ConstantModel(BlurModel):
    """Returns the same image for every input: the collapse the spread diagnostic must catch."""

    def __init__(self, shape, image):
        super().__init__(shape)
        self.register_buffer("image", image)

    def encode(self, x):
        return x[:, :1, :1, :1]

    def decode(self, z):
        return self.image.expand(z.shape[0], *self.image.shape)


def test_spread_ratio_is_one_for_copies_zero_for_one_output_and_scales_linearly():
    x = torch.rand(50, 1, 8, 8)
    assert spread_ratio(x, x) == pytest.approx(1.0)
    assert spread_ratio(x.mean(0, keepdim=True).expand_as(x), x) == pytest.approx(0.0, abs=1e-7)
    assert spread_ratio(0.5 * x + 0.2, x) == pytest.approx(0.5)  # an offset does not count, a scale does


def test_a_blank_output_scores_a_small_l2_on_lines_but_is_flagged_by_its_spread(lines, tmp_path):  # noqa: F811
    blank = reconstruction_metric(make_ctx(ConstantModel((1, 32, 32), torch.zeros(1, 32, 32)), lines, tmp_path / "a"))
    x = lines.test.images[:32].float() / 255.0
    assert blank["recon_l2_novel"].value == pytest.approx(255.0 * x.pow(2).mean().item(), rel=1e-5)
    assert blank["recon_l2_novel"].value < 10  # thin lines: a blank image is "close"
    assert blank["recon_spread_novel"].value == 0.0
    blur = reconstruction_metric(make_ctx(BlurModel((1, 32, 32)), lines, tmp_path / "b"))
    assert 0.1 < blur["recon_spread_novel"].value < 1.0  # blurred lines still follow the input
    assert "collapse" in blur["recon_spread_novel"].protocol["definition"]


class CountingBlur(BlurModel):
    """A blur that counts the images it encodes (a GAN's inversion costs seconds per image)."""

    def __init__(self, shape):
        super().__init__(shape)
        self.encoded = 0

    def encode(self, x):
        self.encoded += x.shape[0]
        return super().encode(x)


def test_one_domain_pairs_reconstruct_their_test_images_once_and_two_domain_pairs_each_domain(lines, tmp_path):  # noqa: F811
    same = CountingBlur((1, 32, 32))
    out = reconstruction_metric(make_ctx(same, lines, tmp_path / "a"))
    assert same.encoded == 32  # lines -> lines: the "train" and "novel" test images are the same 32
    assert out["recon_l2_train"].value == out["recon_l2_novel"].value

    copy = replace(lines, test=replace(lines.test, images=lines.test.images.clone()))
    equal = CountingBlur((1, 32, 32))
    ctx = make_ctx(equal, lines, tmp_path / "b")
    reconstruction_metric(replace(ctx, novel_domain=copy))
    assert equal.encoded == 32  # equal images in another object count as the same images

    other = replace(lines, test=replace(lines.test, images=lines.test.images // 2))
    both = CountingBlur((1, 32, 32))
    ctx = make_ctx(both, lines, tmp_path / "c")
    two = reconstruction_metric(replace(ctx, novel_domain=other))
    assert both.encoded == 64
    assert two["recon_l2_train"].value == pytest.approx(out["recon_l2_train"].value)
    assert two["recon_l2_novel"].value < 0.3 * two["recon_l2_train"].value  # half the contrast: a quarter of the error

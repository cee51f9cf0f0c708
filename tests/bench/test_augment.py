"""Tests of the batched AugIntAE augmentation engine (bench/augment.py) and its reference."""

from __future__ import annotations


import pytest
import torch
import torchvision.transforms.v2.functional as TF

from bench.augment import (
    ALL_FAMILIES,
    FAMILIES,
    PARAMS,
    AugmentationEngine,
    AugmentationRanges,
    AugParams,
    make_generator,
    mix,
    sample_alpha,
)
from bench.augment_reference import ReferenceTripletDataset, reference_loader
from bench.errors import BenchError

GEOMETRIC = ALL_FAMILIES - {"color"}
# parameter -> (family, identity value), written out independently of bench.augment.PARAMS
EXPECTED = {
    "rotation": ("rotate", 0.0),
    "translate_x": ("translate", 0.0),
    "translate_y": ("translate", 0.0),
    "scale": ("scale", 1.0),
    "shear": ("shear", 0.0),
    "brightness": ("color", 1.0),
    "contrast": ("color", 1.0),
    "saturation": ("color", 1.0),
    "hue": ("color", 0.0),
}


def chars_engine(shape=(1, 28, 28), **kw):
    return AugmentationEngine(shape, AugmentationRanges.characters(), **kw)


def natural_engine(shape=(3, 16, 20), **kw):
    return AugmentationEngine(shape, AugmentationRanges.natural(), **kw)


def ident(n, **changes):
    return AugParams.identity(n).replace(**changes)


def rand_images(shape, n=4, seed=0):
    return torch.rand((n, *shape), generator=torch.Generator().manual_seed(seed))


# --- geometry -------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["zeros", "reflection"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 16, 20)])
def test_identity_params_reproduce_input(shape, padding):
    engine = AugmentationEngine(shape, AugmentationRanges.natural(), padding=padding)
    x = rand_images(shape)
    y = engine.apply(x, AugParams.identity(4))
    assert y.shape == x.shape and y.dtype == torch.float32
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_rotation_90_is_counter_clockwise_rot90():
    # Convention: positive rotation = counter-clockwise as displayed (row 0 at the top), which is
    # torch.rot90(k=1, dims=(H, W)): the top-right corner goes to the top-left.
    engine = chars_engine((1, 9, 9), families=GEOMETRIC)
    x = rand_images((1, 9, 9), n=2)
    torch.testing.assert_close(engine.apply(x, ident(2, rotation=90.0)), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5, rtol=0)
    torch.testing.assert_close(engine.apply(x, ident(2, rotation=-90.0)), torch.rot90(x, -1, dims=(-2, -1)), atol=1e-5, rtol=0)
    corner = torch.zeros(1, 1, 9, 9)
    corner[..., 0, 8] = 1.0  # top-right
    assert engine.apply(corner, ident(1, rotation=90.0))[0, 0, 0, 0] > 0.99  # -> top-left


@pytest.mark.parametrize("k", [1, 3, -2])
def test_translation_moves_a_pixel_by_k(k):
    h, w = 20, 28  # non-square catches width/height mix-ups in the normalization
    engine = chars_engine((1, h, w))
    x = torch.zeros(1, 1, h, w)
    x[0, 0, 7, 11] = 1.0
    y = engine.apply(x, ident(1, translate_x=float(k)))
    assert y[0, 0, 7, 11 + k].item() == pytest.approx(1.0, abs=1e-5)
    assert (y.sum() - 1).abs() < 1e-4
    y = engine.apply(x, ident(1, translate_y=float(k)))  # +y moves down
    assert y[0, 0, 7 + k, 11].item() == pytest.approx(1.0, abs=1e-5)


def test_scale_two_about_the_centre():
    # On a linear image bilinear sampling is exact: scale s maps output pixel p to the input at
    # c + (p - c) / s with c = (size - 1) / 2 (the centre under align_corners=False).
    h, w = 20, 28
    ii = torch.arange(h, dtype=torch.float32).view(h, 1)
    jj = torch.arange(w, dtype=torch.float32).view(1, w)
    ramp = lambda i, j: (0.02 * i + 0.01 * j).expand(h, w).reshape(1, 1, h, w)  # noqa: E731
    cy, cx = (h - 1) / 2, (w - 1) / 2
    y = chars_engine((1, h, w)).apply(ramp(ii, jj), ident(1, scale=2.0))
    torch.testing.assert_close(y, ramp(cy + (ii - cy) / 2, cx + (jj - cx) / 2), atol=1e-5, rtol=0)
    # and content grows about the centre: a centred 2x2 block covers 4x4 pixels' worth
    # (bilinear edges: output pixel p samples input 3.5 + (p - 3.5) / 2)
    x = torch.zeros(1, 1, 8, 8)
    x[..., 3:5, 3:5] = 1.0
    y = chars_engine((1, 8, 8)).apply(x, ident(1, scale=2.0))
    profile = torch.tensor([0.0, 0.25, 0.75, 1.0, 1.0, 0.75, 0.25, 0.0])
    torch.testing.assert_close(y[0, 0], profile.view(8, 1) * profile.view(1, 8), atol=1e-5, rtol=0)


def test_shear_sign_matches_torchvision():
    engine = chars_engine((1, 15, 15))
    x = rand_images((1, 15, 15), n=1)
    y = engine.apply(x, ident(1, shear=20.0))
    ref = TF.affine(x[0], angle=0.0, translate=[0.0, 0.0], scale=1.0, shear=[20.0, 0.0], interpolation=TF.InterpolationMode.BILINEAR)
    torch.testing.assert_close(y[0], ref, atol=1e-5, rtol=0)


# --- mixing ---------------------------------------------------------------------------------------


def test_alpha_one_gives_a_and_zero_gives_b_exactly():
    engine = natural_engine()
    x = rand_images((3, 16, 20), n=5)
    for alpha, which in ((1.0, 0), (0.0, 1)):
        a, b, c, al = engine.triplets(x, make_generator(3), alpha=alpha)
        assert torch.equal(al, torch.full((5,), alpha))
        assert torch.equal(c, (a, b)[which])
        assert not torch.equal(c, (a, b)[1 - which])


def test_mix_is_linear_per_parameter():
    engine = natural_engine()
    g = make_generator(1)
    p1, p2 = engine.sample_params(6, g), engine.sample_params(6, g)
    alpha = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 0.1])
    p3 = mix(p1, p2, alpha)
    assert torch.equal(engine.mix(p1, p2, alpha).as_tensor(), p3.as_tensor())
    for u, v, w in zip(p1.values(), p2.values(), p3.values()):
        torch.testing.assert_close(w, alpha * u + (1 - alpha) * v)
    assert torch.equal(p3[0:1].as_tensor(), p2[0:1].as_tensor()) and torch.equal(p3[4:5].as_tensor(), p1[4:5].as_tensor())
    # the paper's example: a 10 degree and a -5 degree rotation, alpha = 1/3
    m = mix(ident(1, rotation=10.0, scale=0.8), ident(1, rotation=-5.0, scale=1.2), 1 / 3)
    assert m.rotation.item() == pytest.approx(0.0, abs=1e-6) and m.scale.item() == pytest.approx(1.0663, abs=1e-3)


# --- sampling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["characters", "natural"])
def test_sampled_params_stay_in_range_and_cover_it(kind):
    ranges = getattr(AugmentationRanges, kind)()
    engine = AugmentationEngine((3, 8, 8), ranges)
    p = engine.sample_params(4000, make_generator(0), "cpu")
    for name, (_, identity) in PARAMS.items():
        lo, hi = ranges.param_range(name)
        v = getattr(p, name)
        assert v.shape == (4000,) and v.dtype == torch.float32
        assert lo <= v.min().item() and v.max().item() <= hi, name
        width = hi - lo
        assert v.min().item() <= lo + 0.01 * width + 1e-7 and v.max().item() >= hi - 0.01 * width - 1e-7, name
    assert ranges.param_range("rotation") == ((-20.0, 20.0) if kind == "characters" else (-10.0, 10.0))


@pytest.mark.parametrize("family", FAMILIES)
def test_disabled_family_gives_identity_params(family):
    full = natural_engine()
    off = natural_engine(families=ALL_FAMILIES - {family})
    only = natural_engine(families={family})
    p_full = full.sample_params(500, make_generator(5))
    p_off = off.sample_params(500, make_generator(5))
    p_only = only.sample_params(500, make_generator(5))
    assert PARAMS == EXPECTED
    for name, (fam, identity) in EXPECTED.items():
        if fam == family:
            assert (getattr(p_off, name) == identity).all(), name
            assert torch.equal(getattr(p_only, name), getattr(p_full, name))
        else:
            assert (getattr(p_only, name) == identity).all(), name
            # switching a family off leaves the others' values unchanged
            assert torch.equal(getattr(p_off, name), getattr(p_full, name))


def test_sample_alpha_is_triangular():
    a = sample_alpha(200_000, make_generator(0), "cpu")
    assert a.shape == (200_000,) and a.dtype == torch.float32
    assert 0.0 <= a.min().item() and a.max().item() <= 1.0
    assert a.mean().item() == pytest.approx(0.5, abs=3e-3)
    assert a.var().item() == pytest.approx(1 / 24, abs=1.5e-3)  # uniform would be 1/12
    # triangular: density at the middle twice the mean density; tails thin
    assert ((a - 0.5).abs() < 0.1).float().mean().item() == pytest.approx(0.36, abs=0.01)


def test_reproducible_with_equal_seeds():
    engine = natural_engine()
    x = rand_images((3, 16, 20), n=6)
    r1 = engine.triplets(x, make_generator(42))
    r2 = engine.triplets(x, make_generator(42))
    r3 = engine.triplets(x, make_generator(43))
    for u, v in zip(r1, r2):
        assert torch.equal(u, v)
    assert not torch.equal(r1[0], r3[0])
    # resumable: a saved generator state replays the same draws
    g = make_generator(7)
    engine.triplets(x, g)
    state = g.get_state()
    nxt = engine.triplets(x, g)
    g2 = torch.Generator().manual_seed(0)
    g2.set_state(state)
    assert torch.equal(engine.triplets(x, g2)[2], nxt[2])


# --- colour ---------------------------------------------------------------------------------------


def colour_engine(shape=(3, 4, 5)):
    return natural_engine(shape, families={"color"})


def test_brightness_on_a_known_image():
    x = torch.linspace(0, 1, 60).view(1, 3, 4, 5)
    engine = colour_engine()
    torch.testing.assert_close(engine.apply(x, ident(1, brightness=0.5)), x * 0.5, atol=1e-5, rtol=0)
    torch.testing.assert_close(engine.apply(x, ident(1, brightness=1.5)), (x * 1.5).clamp(0, 1), atol=1e-5, rtol=0)


def test_contrast_zero_gives_the_grayscale_mean():
    x = rand_images((3, 4, 5), n=2)
    y = colour_engine().apply(x, ident(2, contrast=0.0))
    gray_mean = (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).mean(dim=(1, 2))
    torch.testing.assert_close(y, gray_mean.view(2, 1, 1, 1).expand_as(x), atol=1e-5, rtol=0)


def test_saturation_zero_gives_grayscale():
    x = rand_images((3, 4, 5), n=2)
    y = colour_engine().apply(x, ident(2, saturation=0.0))
    gray = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    torch.testing.assert_close(y, gray.unsqueeze(1).expand_as(x), atol=1e-5, rtol=0)


def test_hue_zero_is_identity():
    x = rand_images((3, 4, 5), n=3)
    torch.testing.assert_close(colour_engine().apply(x, ident(3, hue=0.0)), x, atol=1e-5, rtol=0)


def test_hue_third_maps_red_to_green_like_torchvision():
    red = torch.zeros(2, 3, 4, 5)
    red[:, 0] = 1.0
    green, blue = red.roll(1, dims=1), red.roll(2, dims=1)
    y = colour_engine().apply(red, AugParams.identity(2).replace(hue=torch.tensor([1 / 3, -1 / 3])))
    torch.testing.assert_close(y[0], green[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(y[1], blue[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(TF.adjust_hue(red[0], 1 / 3), green[0], atol=1e-5, rtol=0)  # torchvision agrees


@pytest.mark.parametrize("name,value", [("brightness", 1.2), ("contrast", 0.8), ("saturation", 1.25), ("hue", 0.05), ("hue", -0.4)])
def test_colour_matches_torchvision(name, value):
    x = rand_images((3, 6, 7), n=1)
    y = colour_engine((3, 6, 7)).apply(x, ident(1, **{name: value}))
    torch.testing.assert_close(y[0], getattr(TF, f"adjust_{name}")(x[0], value), atol=1e-5, rtol=0)


# --- batches --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,padding", [((1, 28, 28), "zeros"), ((3, 32, 32), "reflection"), ((3, 16, 20), "zeros")])
def test_shapes_preserved_and_values_in_unit_range(shape, padding):
    engine = AugmentationEngine.for_images(shape, padding=padding)
    x = rand_images(shape, n=8)
    x[0] = 1.0  # a saturated image under brightness 1.25
    a, b, c, alpha = engine.triplets(x, make_generator(0))
    for t in (a, b, c):
        assert t.shape == x.shape and t.dtype == torch.float32 and t.device == x.device
        assert t.min().item() >= 0.0 and t.max().item() <= 1.0
    assert alpha.shape == (8,)
    extreme = ident(8, brightness=1.25, contrast=1.25, saturation=1.25, hue=0.05, rotation=10.0, scale=0.8)
    y = engine.apply(x, extreme)
    assert y.min().item() >= 0.0 and y.max().item() <= 1.0


def test_triplets_equal_three_separate_apply_calls():
    engine = natural_engine(padding="reflection")
    x = rand_images((3, 16, 20), n=5)
    a, b, c, alpha = engine.triplets(x, make_generator(11))
    g = make_generator(11)  # documented draw order: rho1, rho2, alpha
    p1, p2 = engine.sample_params(5, g), engine.sample_params(5, g)
    al = engine.sample_alpha(5, g)
    assert torch.equal(al, alpha)
    torch.testing.assert_close(a, engine.apply(x, p1), atol=1e-6, rtol=0)
    torch.testing.assert_close(b, engine.apply(x, p2), atol=1e-6, rtol=0)
    torch.testing.assert_close(c, engine.apply(x, engine.mix(p1, p2, al)), atol=1e-6, rtol=0)


def test_for_images_picks_the_papers_setting():
    chars = AugmentationEngine.for_images((1, 28, 28))
    assert chars.ranges == AugmentationRanges.characters() and chars.families == GEOMETRIC and chars.padding == "zeros"
    nat = AugmentationEngine.for_images((3, 64, 64), padding="reflection")
    assert nat.ranges == AugmentationRanges.natural() and nat.families == ALL_FAMILIES and nat.padding == "reflection"
    assert AugmentationEngine.for_images((1, 28, 28), families={"rotate"}).families == {"rotate"}


def test_bad_inputs_raise_bench_error():
    with pytest.raises(BenchError, match="family"):
        chars_engine(families={"rotate", "flip"})
    with pytest.raises(BenchError, match="padding"):
        chars_engine(padding="symmetric")
    with pytest.raises(BenchError, match="shape"):
        chars_engine().apply(torch.zeros(2, 1, 32, 32), AugParams.identity(2))
    with pytest.raises(BenchError, match="float"):
        chars_engine().apply(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), AugParams.identity(2))
    with pytest.raises(BenchError):
        AugmentationRanges(scale=(1.2, 0.8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_for_the_same_params():
    engine = natural_engine(padding="reflection")
    x = rand_images((3, 16, 20), n=4)
    p = engine.sample_params(4, make_generator(0))
    y = engine.apply(x.cuda(), p.to("cuda"))
    torch.testing.assert_close(y.cpu(), engine.apply(x, p), atol=1e-5, rtol=0)
    a, b, c, alpha = engine.triplets(x.cuda(), make_generator(0, "cuda"))
    assert a.is_cuda and alpha.is_cuda and a.dtype == torch.float32
    with pytest.raises(BenchError, match="generator"):
        engine.triplets(x.cuda(), make_generator(0))


# --- reference pipeline ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape,padding", [((1, 28, 28), "zeros"), ((3, 16, 20), "zeros"), ((3, 24, 24), "reflection")])
def test_reference_pipeline_agrees_with_engine(shape, padding):
    engine = AugmentationEngine.for_images(shape, padding=padding)
    x = rand_images(shape, n=4)
    g = make_generator(9)
    p1, p2 = engine.sample_params(4, g), engine.sample_params(4, g)
    alpha = engine.sample_alpha(4, g)
    a, b, c = engine.apply_triplets(x, p1, p2, engine.mix(p1, p2, alpha))
    ds = ReferenceTripletDataset(x, engine, params=(p1, p2, alpha))
    ra, rb, rc, ralpha = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    # same maths, float32 vs torchvision's float64 matrix: agreement to rounding
    for ours, ref in ((a, ra), (b, rb), (c, rc)):
        torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)
    torch.testing.assert_close(ralpha, alpha)


def test_reference_loader_samples_in_range():
    engine = AugmentationEngine.for_images((1, 12, 12))
    x = (rand_images((1, 12, 12), n=6) * 255).to(torch.uint8)
    a, b, c, alpha = next(iter(reference_loader(x, engine, batch_size=6)))
    assert a.shape == (6, 1, 12, 12) and alpha.shape == (6,)
    assert 0 <= alpha.min() and alpha.max() <= 1 and not torch.equal(a, b)


def test_paper_ranges():
    c, n = AugmentationRanges.characters(), AugmentationRanges.natural()
    assert (c.rotation_deg, c.translation_px, c.scale, c.shear_deg) == ((-20, 20), (-4, 4), (0.8, 1.2), (-6, 6))
    assert (c.brightness, c.contrast, c.saturation, c.hue) == ((1, 1), (1, 1), (1, 1), (0, 0))
    assert (n.rotation_deg, n.translation_px, n.scale, n.shear_deg) == ((-10, 10), (-8, 8), (0.8, 1.2), (-3, 3))
    assert (n.brightness, n.contrast, n.saturation, n.hue) == ((0.75, 1.25), (0.75, 1.25), (0.75, 1.25), (-0.05, 0.05))

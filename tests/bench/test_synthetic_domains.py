"""The synthetic domains (lines, pole) and their ground-truth renderers (bench.data.synthetic)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.data import synthetic as syn
from bench.data.synthetic import RENDERERS, SYNTHETIC_DOMAINS, load_synthetic
from bench.errors import BenchError

LINES = RENDERERS["lines"]
POLE = RENDERERS["pole"]
SIN_CAM = math.sin(math.radians(30.0))
POLE_BASE = (38.0, 32.0)  # (row, col), pixel-edge coordinates
POLE_RECT = (22.0, 38.0, 30.0, 34.0)  # the pole's image rectangle: rows [22, 38] x cols [30, 34]
POLE_H = 16.0 / math.cos(math.radians(30.0))  # world pole height H = 18.475


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Both domains loaded in full once, into a module-wide cache folder."""
    root = tmp_path_factory.mktemp("synthetic_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(root))
        data = {spec.name: spec.load(root / "unused-data-root") for spec in SYNTHETIC_DOMAINS}
    return root, data


def lines_img(theta_rad: float) -> np.ndarray:
    return LINES.render(np.array([[theta_rad]]))[0, 0].astype(np.float64)


def pole_img(theta_deg: float, phi_deg: float) -> np.ndarray:
    return POLE.render(np.array([[theta_deg, phi_deg]]))[0, 0].astype(np.float64)


def weighted_centroid(weights: np.ndarray):
    """(row, col) centroid in pixel-edge coordinates (pixel centres at index + 0.5)."""
    rows, cols = np.indices(weights.shape) + 0.5
    total = weights.sum()
    return (weights * rows).sum() / total, (weights * cols).sum() / total


def circ_diff(a, b):
    return np.abs(np.mod(np.asarray(a) - np.asarray(b) + math.pi, 2 * math.pi) - math.pi)


# ---------------------------------------------------------------------------------------------
# specs, renderer attributes, parameter sampling
# ---------------------------------------------------------------------------------------------


def test_domain_specs(tmp_path):
    specs = {s.name: s for s in SYNTHETIC_DOMAINS}
    assert set(specs) == {"lines", "pole"}
    for name, spec in specs.items():
        r = RENDERERS[name]
        assert spec.kind == "synthetic"
        assert spec.expected_files(tmp_path) == []
        assert spec.is_available(tmp_path / "does-not-exist")
        assert (spec.size, spec.channels) == (r.size, r.channels)
        assert spec.split_sizes == (16384, 4096)
    assert (LINES.size, LINES.channels, POLE.size, POLE.channels) == (32, 1, 64, 1)


def test_renderer_attributes_and_sampling():
    assert LINES.param_names == ("theta",) and LINES.param_units == ("rad",)
    np.testing.assert_allclose(LINES.param_low, [0.0])
    np.testing.assert_allclose(LINES.param_high, [2 * math.pi])
    assert POLE.param_names == ("theta", "phi") and POLE.param_units == ("deg", "deg")
    np.testing.assert_allclose(POLE.param_low, [0.0, 35.0])
    np.testing.assert_allclose(POLE.param_high, [180.0, 70.0])
    assert POLE.version == "r2"
    for r in (LINES, POLE):
        p = r.sample_params(5000, np.random.default_rng(7))
        assert p.shape == (5000, len(r.param_names)) and p.dtype == np.float64
        assert np.all(p >= r.param_low) and np.all(p < r.param_high)
        # spread over the whole range, not a corner of it
        assert np.all(p.min(0) < r.param_low + 0.01 * (r.param_high - r.param_low))
        assert np.all(p.max(0) > r.param_high - 0.01 * (r.param_high - r.param_low))
        again = r.sample_params(5000, np.random.default_rng(7))
        np.testing.assert_array_equal(p, again)
        np.testing.assert_array_equal(r.sample_params(100, np.random.default_rng(7)), p[:100])


def test_split_seeds_differ():
    a, b = syn.split_params("lines", "train"), syn.split_params("lines", "test")
    assert a.shape == (16384, 1) and b.shape == (4096, 1)
    assert not np.allclose(a[:100], b[:100])
    np.testing.assert_array_equal(a, syn.split_params("lines", "train"))


# ---------------------------------------------------------------------------------------------
# loading: shapes, determinism, truncation, caching
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lines", "pole"])
def test_truncated_load_shapes_and_determinism(cache, name):
    r = RENDERERS[name]
    d = load_synthetic(name, max_train=40, max_test=9)
    assert d.name == name and d.param_names == r.param_names
    assert d.image_shape == (1, r.size, r.size)
    for split, n in ((d.train, 40), (d.test, 9)):
        assert split.images.shape == (n, 1, r.size, r.size) and split.images.dtype == torch.uint8
        assert split.params.shape == (n, len(r.param_names)) and split.params.dtype == torch.float64
        assert split.labels is None
        p = split.params.numpy()
        assert np.all(p >= r.param_low) and np.all(p < r.param_high)
        assert torch.equal(split.images, r.render_uint8(p))
    # not all images alike, and the image content is in range
    assert len({bytes(x.numpy()) for x in d.train.images}) == 40
    again = load_synthetic(name, max_train=40, max_test=9)
    assert torch.equal(d.train.images, again.train.images) and torch.equal(d.test.params, again.test.params)
    assert not (cache / "domains").exists() or not any((cache / "domains").iterdir())  # truncated: no cache


@pytest.mark.parametrize("name", ["lines", "pole"])
def test_full_splits_and_truncation_consistency(full, cache, name):
    _, data = full
    d = data[name]
    r = RENDERERS[name]
    assert (len(d.train), len(d.test)) == (16384, 4096)
    assert d.train.images.dtype == torch.uint8 and d.train.params.dtype == torch.float64
    # a truncated load rendered from scratch (fresh, empty cache) is the prefix of the full split
    small = load_synthetic(name, max_train=33, max_test=7)
    assert torch.equal(small.train.images, d.train.images[:33])
    assert torch.equal(small.train.params, d.train.params[:33])
    assert torch.equal(small.test.images, d.test.images[:7])
    assert torch.equal(small.test.params, d.test.params[:7])
    # stored images are exactly the renderer's output for the stored parameters, anywhere in the split
    idx = torch.cat([torch.arange(8), torch.randint(0, 16384, (56,), generator=torch.Generator().manual_seed(0))])
    assert torch.equal(d.train.images[idx], r.render_uint8(d.train.params[idx].numpy()))
    assert torch.equal(d.test.images[-8:], r.render_uint8(d.test.params[-8:].numpy()))


def test_cache_files_are_reused(full, monkeypatch):
    root, data = full
    monkeypatch.setenv("BENCH_CACHE_DIR", str(root))
    for name in ("lines", "pole"):
        for split in ("train", "test"):
            path = syn.cache_path(name, split)
            assert path.parent == root / "domains" and path.exists()
            assert name in path.name and str(RENDERERS[name].size) in path.name
            assert RENDERERS[name].version in path.name

    def boom(*args, **kwargs):
        raise AssertionError("rendered although the cache holds the split")

    for r in RENDERERS.values():
        monkeypatch.setattr(r, "render_uint8", boom)
        monkeypatch.setattr(r, "render", boom)
    for spec in SYNTHETIC_DOMAINS:
        again = spec.load(root, download=True)
        assert torch.equal(again.train.images, data[spec.name].train.images)
        assert torch.equal(again.test.params, data[spec.name].test.params)
        part = spec.load(root, max_train=10, max_test=3)  # truncated loads slice the cached split
        assert torch.equal(part.train.images, data[spec.name].train.images[:10])
        assert len(part.test) == 3


def test_corrupt_cache_is_rendered_again(cache):
    path = syn.cache_path("lines", "test")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a torch file")
    d = load_synthetic("lines", max_train=4)  # test split in full: from the (corrupt) cache
    assert len(d.test) == 4096 and len(d.train) == 4
    assert torch.equal(d.test.images[:16], LINES.render_uint8(d.test.params[:16].numpy()))
    obj = torch.load(path, weights_only=True)  # rewritten with the real split
    assert torch.equal(obj["images"], d.test.images)


def test_load_limits(cache):
    d = load_synthetic("lines", max_train=0, max_test=1)
    assert d.train.images.shape == (0, 1, 32, 32) and len(d.test) == 1
    with pytest.raises(BenchError):
        load_synthetic("lines", max_train=-1)
    with pytest.raises(BenchError):
        syn.get_renderer("circles")


# ---------------------------------------------------------------------------------------------
# renderers in general
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("r", [LINES, POLE], ids=["lines", "pole"])
def test_render_dtype_range_and_uint8(r):
    p = r.sample_params(50, np.random.default_rng(3))
    x = r.render(p)
    assert x.shape == (50, 1, r.size, r.size) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    u = r.render_uint8(p)
    assert u.dtype == torch.uint8 and u.shape == (50, 1, r.size, r.size)
    assert torch.equal(u, torch.round(255 * torch.from_numpy(x)).to(torch.uint8))
    np.testing.assert_array_equal(u.numpy(), np.rint(255 * x).astype(np.uint8))
    np.testing.assert_array_equal(r.render(p), x)  # deterministic
    np.testing.assert_array_equal(r.render(p[7:8]), x[7:8])  # independent of the batch
    assert r.render(np.zeros((0, len(r.param_names)))).shape == (0, 1, r.size, r.size)


@pytest.mark.parametrize("r", [LINES, POLE], ids=["lines", "pole"])
def test_fast_render_matches_skimage_definition(r):
    """render() equals skimage.draw.polygon on the 8x canvas + downscale_local_mean."""
    p = r.sample_params(6, np.random.default_rng(11))
    extra = np.array([[0.0], [math.pi / 2], [4.0]]) if r is LINES else np.array([[0.0, 35.0], [90.0, 45.0], [180.0, 70.0]])
    p = np.concatenate([p, extra])
    np.testing.assert_allclose(r.render(p), r.render_reference(p), rtol=0, atol=1e-6)


@pytest.mark.parametrize("r", [LINES, POLE], ids=["lines", "pole"])
def test_bad_params_rejected(r):
    with pytest.raises(ValueError):
        r.render(np.zeros((3, len(r.param_names) + 1)))
    with pytest.raises(ValueError):
        r.render(np.full((1, len(r.param_names)), np.nan))


# ---------------------------------------------------------------------------------------------
# lines
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "theta, rows, cols",
    [
        (0.0, slice(15, 17), slice(16, 31)),  # right
        (math.pi / 2, slice(1, 16), slice(15, 17)),  # up (y up)
        (math.pi, slice(15, 17), slice(1, 16)),  # left
        (3 * math.pi / 2, slice(16, 31), slice(15, 17)),  # down
    ],
)
def test_lines_axis_aligned_exact(theta, rows, cols):
    img = lines_img(theta)
    expected = np.zeros((32, 32))
    expected[rows, cols] = 1.0
    np.testing.assert_array_equal(img, expected)


@pytest.mark.parametrize("deg", [10, 37, 80, 100, 143, 200, 250, 300, 345])
def test_lines_centroid_points_along_theta(deg):
    theta = math.radians(deg)
    img = lines_img(theta)
    r, c = weighted_centroid(img)
    x, y = c - 16.0, 16.0 - r  # y up
    assert circ_diff(math.atan2(y, x), theta) < math.radians(1.0)
    assert abs(math.hypot(x, y) - 7.5) < 0.15  # the midpoint of a segment from the centre to radius 15


def test_lines_antialiased_and_constant_ink():
    img = lines_img(math.radians(30))
    partial = (img > 0) & (img < 1)
    assert partial.sum() >= 10  # anti-aliased edges
    np.testing.assert_array_equal(np.round(img * 64), img * 64)  # coverage in 1/64 steps (8x8 supersampling)
    thetas = np.linspace(0, 2 * math.pi, 97)[:, None]
    ink = LINES.render(thetas).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(ink, 30.0, atol=0.6)  # a 2 x 15 rectangle at every angle (8x8 sampling: ~2%)
    assert np.abs(ink - 30.0).mean() < 0.15


def test_lines_periodic_outside_sampling_range():
    for t in (-1.0, 2.5):
        a, b = lines_img(t), lines_img(t + 2 * math.pi)
        assert np.abs(a - b).max() <= 1 / 64 + 1e-7
        assert np.abs(a - b).sum() <= 4 / 64


def test_lines_interpolation_wraps_along_shorter_arc():
    a, b = np.array([math.radians(350)]), np.array([math.radians(10)])
    alpha = np.linspace(0, 1, 21)
    path = LINES.interpolate_params(a, b, alpha)
    assert path.shape == (21, 1)
    assert np.all((path >= 0) & (path < 2 * math.pi))
    assert circ_diff(path[0, 0], a[0]) < 1e-12 and circ_diff(path[-1, 0], b[0]) < 1e-12
    assert circ_diff(path[10, 0], 0.0) < 1e-12  # the midpoint is 0, not 180 degrees
    assert np.all(LINES.param_distance(path, np.zeros(1)) <= math.radians(10) + 1e-12)
    steps = LINES.param_distance(path[1:], path[:-1])
    np.testing.assert_allclose(steps, math.radians(1), atol=1e-12)  # constant speed
    back = LINES.interpolate_params(b, a, 0.5)
    assert circ_diff(back[0], 0.0) < 1e-12
    # no wrap needed: plain linear
    mid = LINES.interpolate_params(np.array([math.radians(10)]), np.array([math.radians(50)]), 0.5)
    np.testing.assert_allclose(mid, [math.radians(30)])
    # across 180 degrees the short way does not go through 0
    mid = LINES.interpolate_params(np.array([math.radians(170)]), np.array([math.radians(200)]), 0.5)
    np.testing.assert_allclose(mid, [math.radians(185)])


def test_lines_interpolation_broadcasts_over_batches():
    pa = np.array([[0.1], [3.0], [6.0]])
    pb = np.array([[0.5], [2.0], [0.2]])
    per_pair = LINES.interpolate_params(pa, pb, np.array([0.0, 0.5, 1.0]))
    assert per_pair.shape == (3, 1)
    np.testing.assert_allclose(per_pair[0], pa[0])
    assert circ_diff(per_pair[2, 0], pb[2, 0]) < 1e-12
    grid = LINES.interpolate_params(pa, pb, np.linspace(0, 1, 5)[:, None])
    assert grid.shape == (5, 3, 1)
    np.testing.assert_allclose(LINES.param_distance(grid[0], pa), 0, atol=1e-12)
    np.testing.assert_allclose(LINES.param_distance(grid[-1], pb), 0, atol=1e-12)


def test_lines_param_distance():
    d = LINES.param_distance(np.radians([[350.0], [0.0], [90.0]]), np.radians([[10.0], [180.0], [45.0]]))
    assert d.shape == (3,)
    np.testing.assert_allclose(d, np.radians([20.0, 180.0, 45.0]))


# ---------------------------------------------------------------------------------------------
# pole
# ---------------------------------------------------------------------------------------------


def test_pole_exact_scene():
    img = pole_img(90.0, 45.0)  # light behind the pole: shadow straight down the image
    expected = np.full((64, 64), 0.5)
    expected[38:47, 30:34] = 0.15  # shadow: 4 px wide, H / tan 45 * sin 30 = 9.238 px long
    expected[47, 30:34] = 0.5 - 0.35 * 2 / 8  # 2 of 8 subpixel rows of row 47
    expected[22:38, 30:34] = 1.0  # the pole
    np.testing.assert_allclose(img, expected, rtol=0, atol=1e-6)


def test_pole_pixels_identical_for_all_lights():
    params = np.array(
        [[0.0, 35.0], [45.0, 42.0], [90.0, 70.0], [90.0, 35.0], [135.0, 56.0], [180.0, 38.5], [250.0, 49.0]]
    )
    imgs = POLE.render(params)[:, 0]
    pole = np.zeros((64, 64), bool)
    pole[22:38, 30:34] = True
    for img in imgs:
        np.testing.assert_array_equal(img == 1.0, pole)
        assert np.all(img[~pole] <= 0.5 + 1e-7)
    assert np.all(imgs[:, 0, :] == 0.5) and np.all(imgs[:, -1, :] == 0.5)  # ground at the frame edge


def shadow_weights(img: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - img, 0.0, None)


@pytest.mark.parametrize("theta", [0.0, 45.0, 90.0, 135.0, 180.0])
def test_pole_shadow_grows_as_light_sinks(theta):
    phis = [70.0, 63.0, 56.0, 49.0, 42.0, 35.0]
    dark = np.array([shadow_weights(pole_img(theta, phi)).sum() for phi in phis])
    assert np.all(np.diff(dark) > 0)
    # roughly proportional to the shadow length H / tan(phi)
    ratio = dark / (1 / np.tan(np.radians(phis)))
    assert ratio.max() / ratio.min() < 1.25


@pytest.mark.parametrize("theta", [0.0, 20.0, 60.0, 90.0, 120.0, 160.0, 180.0])
def test_pole_shadow_points_away_from_light(theta):
    img = pole_img(theta, 35.0)  # the longest shadow of the sampling range
    r, c = weighted_centroid(shadow_weights(img))
    X = c - POLE_BASE[1]
    Y = -(r - POLE_BASE[0]) / SIN_CAM  # undo the camera's foreshortening of the ground
    shadow_dir = math.atan2(Y, X)
    assert circ_diff(shadow_dir, math.radians(theta + 180.0)) < math.radians(3.0)
    half = POLE.shadow_length(35.0) / 2  # 13.19: the whole shadow's centroid sits half way along it
    # at theta = 0 / 180 the 2 x 1 px strip rows [37, 38] x cols [30, 32] / [32, 34] behind the
    # pole's foot is hidden, which moves the visible centroid away from the pole
    area = 4 * POLE.shadow_length(35.0) * SIN_CAM
    if theta == 0.0:
        expected = (area * (32.0 - half) - 2 * 31.0) / (area - 2)  # 18.33
        assert abs(c - expected) < 0.1 and abs(c - (32.0 - half)) < 0.6  # light on the right: shadow to the left
    if theta == 180.0:
        expected = (area * (32.0 + half) - 2 * 33.0) / (area - 2)  # 45.67
        assert abs(c - expected) < 0.1 and abs(c - (32.0 + half)) < 0.6  # light on the left: shadow to the right
    if theta == 90.0:
        assert r > POLE_BASE[0] + 2 and abs(c - 32.0) < 0.1  # light behind: shadow towards the viewer


def test_pole_changes_continuously():
    base = pole_img(70.0, 40.0)
    for dp in ([0.5, 0.0], [0.0, 0.5]):
        near = pole_img(70.0 + dp[0], 40.0 + dp[1])
        far = pole_img(70.0 + 40 * dp[0], 40.0 + 40 * dp[1])
        d_near, d_far = np.abs(near - base).sum(), np.abs(far - base).sum()
        assert 0 < d_near < 0.2 * d_far  # both parameters are visible, small steps move little


def shadow_polygon(theta_deg: float, phi_deg: float) -> np.ndarray:
    """The projected shadow parallelogram (4, 2) (row, col) in pixel-edge coordinates, straight from
    the module docstring: a ground rectangle of width 4 from the base along theta + 180 deg, of
    length H / tan(phi), through col = 32 + X, row = 38 - Y sin 30."""
    th = math.radians(theta_deg)
    L = POLE_H / math.tan(math.radians(phi_deg))
    d = np.array([-math.cos(th), -math.sin(th)])  # (X, Y) away from the light
    n = np.array([-d[1], d[0]]) * 2.0  # half the width
    ground = np.stack([n, L * d + n, L * d - n, -n])
    return np.stack([POLE_BASE[0] - ground[:, 1] * SIN_CAM, POLE_BASE[1] + ground[:, 0]], axis=1)


def polygon_area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    r, c = poly[:, 0], poly[:, 1]
    return 0.5 * abs(np.dot(r, np.roll(c, -1)) - np.dot(c, np.roll(r, -1)))


def clip_to_rect(poly: np.ndarray, r0: float, r1: float, c0: float, c1: float) -> np.ndarray:
    """Sutherland-Hodgman clipping of a convex polygon (row, col) to [r0, r1] x [c0, c1]."""
    for axis, bound, keep_below in ((0, r0, False), (0, r1, True), (1, c0, False), (1, c1, True)):
        out = []
        for a, b in zip(poly, np.roll(poly, -1, axis=0)):
            ina = (a[axis] <= bound) if keep_below else (a[axis] >= bound)
            inb = (b[axis] <= bound) if keep_below else (b[axis] >= bound)
            if ina:
                out.append(a)
            if ina != inb:
                t = (bound - a[axis]) / (b[axis] - a[axis])
                out.append(a + t * (b - a))
        poly = np.array(out).reshape(-1, 2)
        if len(poly) == 0:
            break
    return poly


def test_pole_shadow_extent_over_sampling_range():
    """The docstring's numbers: L in [6.72, 26.39], shadow inside cols [5.54, 58.46] x rows
    [37.0, 51.23] (at least 2 px from every edge of the frame), and only the strip behind the
    pole's foot (at most 2 px^2, theta = 0 or 180) is hidden by the pole."""
    np.testing.assert_allclose(POLE.shadow_length(np.array([70.0, 35.0])), [6.7244, 26.3853], atol=1e-4)
    np.testing.assert_allclose(POLE.shadow_length(np.array([35.0, 50.0])), POLE_H / np.tan(np.radians([35.0, 50.0])))
    thetas, phis = np.linspace(0.0, 180.0, 181), np.linspace(35.0, 70.0, 36)
    polys = np.array([shadow_polygon(t, p) for t in thetas for p in phis])
    rows, cols = polys[..., 0], polys[..., 1]
    # the far corner's reach is sqrt(L^2 + 2^2) at phi = 35: cols 32 -/+ 26.461, row 38 + 26.461 / 2
    reach = math.hypot(POLE.shadow_length(35.0), 2.0)
    np.testing.assert_allclose([32 - reach, 32 + reach, 38 + reach * SIN_CAM], [5.5390, 58.4610, 51.2305], atol=1e-4)
    assert abs(rows.min() - 37.0) < 1e-9 and 0 <= 38 + reach * SIN_CAM - rows.max() < 1e-3
    assert 0 <= cols.min() - (32 - reach) < 1e-3 and 0 <= (32 + reach) - cols.max() < 1e-3
    assert rows.min() >= 2 and rows.max() <= 62 and cols.min() >= 2 and cols.max() <= 62
    # on the viewer's side of the pole: nothing reaches above the pole's foot but the half-width strip
    hidden = np.array([polygon_area(clip_to_rect(q, *POLE_RECT)) for q in polys])
    assert hidden.max() <= 2.0 + 1e-9 and abs(hidden.max() - 2.0) < 1e-9
    assert np.all(rows >= POLE_BASE[0] - 1.0 - 1e-9)


def test_pole_shadow_inside_frame_over_sampling_range():
    worst = np.array([[0.0, 35.0], [180.0, 35.0], [90.0, 35.0], [30.0, 35.0], [150.0, 35.0]])
    for p, img in zip(worst, POLE.render(worst)[:, 0]):
        dark = shadow_weights(img)
        L = POLE.shadow_length(p[1])
        # full shadow area L x 4 on the ground, foreshortened by sin 30, none of it cut by the frame,
        # less the part hidden behind the pole's foot (2 px^2 at theta = 0 or 180, none at 90)
        hidden = polygon_area(clip_to_rect(shadow_polygon(*p), *POLE_RECT))
        assert abs(dark.sum() / 0.35 - (4 * L * SIN_CAM - hidden)) < 0.5
        assert dark[:, :2].sum() == 0 and dark[:, -2:].sum() == 0 and dark[-2:].sum() == 0
    # and over a sample of the training parameters: ground in a 2 px margin along the frame
    imgs = POLE.render(syn.split_params("pole", "train")[:2048])[:, 0]
    assert np.all(imgs[:, :2] == 0.5) and np.all(imgs[:, -2:] == 0.5)
    assert np.all(imgs[:, :, :2] == 0.5) and np.all(imgs[:, :, -2:] == 0.5)


def test_pole_exact_outside_the_training_sample(full):
    _, data = full
    stored = data["pole"].train
    assert torch.equal(stored.images[:32], POLE.render_uint8(stored.params[:32].numpy()))
    novel = np.array([[45.0, 45.0], [12.345, 67.89], [200.0, 80.0], [-30.0, 15.0]])  # last two: outside the ranges
    a, b = POLE.render(novel), POLE.render(novel)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    with pytest.raises(ValueError):
        POLE.render(np.array([[45.0, 0.0]]))
    with pytest.raises(ValueError):
        POLE.render(np.array([[45.0, 95.0]]))


def test_pole_interpolation_linear_and_distance():
    pa, pb = np.array([10.0, 60.0]), np.array([170.0, 20.0])
    path = POLE.interpolate_params(pa, pb, np.linspace(0, 1, 5))
    assert path.shape == (5, 2)
    np.testing.assert_allclose(path, [[10, 60], [50, 50], [90, 40], [130, 30], [170, 20]])
    batch = POLE.interpolate_params(np.stack([pa, pb]), np.stack([pb, pa]), np.array([0.25, 0.25]))
    np.testing.assert_allclose(batch, [[50, 50], [130, 30]])
    np.testing.assert_allclose(POLE.param_distance(np.array([0.0, 20.0]), np.array([30.0, 60.0])), 50.0)
    d = POLE.param_distance(path[:-1], path[1:])
    assert d.shape == (4,)
    np.testing.assert_allclose(d, math.hypot(40, 10))


def test_the_pole_domain_description_states_the_renderers_sampling_ranges():
    from bench.data.synthetic import SYNTHETIC_DOMAINS

    spec = {d.name: d for d in SYNTHETIC_DOMAINS}["pole"]
    low, high = POLE.param_low, POLE.param_high
    assert f"theta ~ U({low[0]:g}, {high[0]:g})" in spec.description
    assert f"phi ~ U({low[1]:g}, {high[1]:g})" in spec.description  # it said U(20, 70); phi is drawn from 35 to 70

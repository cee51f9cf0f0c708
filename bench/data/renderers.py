"""Renderers of the synthetic domains: ACAI's "lines" and our "pole" scene, exact and deterministic.

Both domains are rendered by exact, deterministic functions of their parameters, so later metrics
can score an interpolation against the ground-truth image path (`RENDERERS[name]`).

Coordinates and anti-aliasing (both domains)
--------------------------------------------
Shapes are convex polygons in continuous *pixel-edge* coordinates (row, col): pixel (i, j) is the
unit square [i, i+1) x [j, j+1), so the geometric centre of an S x S image is (S/2, S/2). A pixel's
value is its area coverage, estimated by supersampling: the image is drawn on a canvas SS = 8
times finer in each direction (subpixel k has its centre at edge coordinate (k + 0.5) / SS), a
subpixel is inside a shape when its centre is inside the polygon, and each pixel is the mean of
its SS x SS subpixels. This is `skimage.draw.polygon` on the 8x canvas followed by
`skimage.transform.downscale_local_mean` (`SyntheticRenderer.render_reference` does literally
that); `render` computes the same numbers with a vectorised scanline fill (each subpixel row of a
convex polygon is one interval of subpixel columns), because `skimage.draw.polygon` costs about
0.5 us per bounding-box subpixel and would need minutes for a full split. The two agree exactly
except for subpixel centres lying exactly on a polygon edge (measure zero; it happens only at
special parameters such as some multiples of 45 deg for lines): there `render` applies the
top-left fill rule (a centre on a left/top edge is inside, on a right/bottom edge outside), so
that coverage is unbiased, while skimage counts every such centre as inside. The tests check the
agreement on generic parameters. Coverage is quantised to 1/64; point sampling makes the ink of a
line vary by up to about 2% with angle (most at 45 deg, where the edges run parallel to the
diagonals of the subpixel lattice).

lines (ACAI, Berthelot et al. 2018), 1 x 32 x 32, one parameter
----------------------------------------------------------------
`theta` in radians, sampled from U(0, 2*pi). A white (1.0) line segment on black (0.0): the
rectangle of width 2 px whose axis runs from the image centre (16, 16) to radius 15 in direction
theta, where theta = 0 points right (+col) and theta grows counter-clockwise with y up (theta =
pi/2 points to the top of the image). No end caps: the ink is 2 x 15 = 30 px^2 at every angle.
Any finite theta renders (the image is 2*pi-periodic). Ground-truth interpolation runs along the
shorter arc between the two angles (result wrapped to [0, 2*pi); an exact half-turn goes
clockwise); the distance is the absolute angular difference on the circle, in [0, pi].

pole (AEAI, Oring et al. 2021; the published renderer is not available, this is our definition)
----------------------------------------------------------------------------------------------
1 x 64 x 64 grayscale, two parameters in degrees: light azimuth `theta` ~ U(0, 180) and light
elevation `phi` ~ U(35, 70).

World: ground plane Z = 0 with X to the image right and Y pointing away from the camera, Z up;
one world unit is one pixel horizontally. The camera is orthographic and looks down at the ground
at elevation c = 30 deg, so a world point projects to
    col = 32 + X,        row = 38 - (Y * sin(c) + Z * cos(c))      (pixel-edge coordinates):
ground depth is foreshortened by sin(30) = 0.5 and heights by cos(30). The pole's base is at the
world origin, image point (row 38, col 32), six pixels below the image centre.

- Ground: mid-gray 0.5 everywhere.
- Shadow (drawn first): value 0.15. The light is a distant source with direction
  (cos(phi) cos(theta), cos(phi) sin(theta), sin(phi)) from the scene towards the light; theta is
  measured on the ground counter-clockwise seen from above, from +X (light on the right, shadow
  to the left) through +Y (theta = 90: light behind the pole, shadow pointing at the viewer, i.e.
  down the image) to -X (theta = 180: light on the left, shadow to the right). The shadow is the
  ground rectangle of width 4 from the base along direction theta + 180 deg, of length
  L = H / tan(phi) with world pole height H = 16 / cos(30 deg) = 18.475 (the shadow of a pole of
  diameter 4 without round ends), projected through the camera into a parallelogram.
- Pole (drawn on top): value 1.0, the image rectangle rows [22, 38] x cols [30, 34] (16 px tall,
  4 px wide, pixel-aligned, hence identical in every image; its pixels are exactly 1.0).

Within the sampling ranges L lies in [6.72, 26.39] (phi = 70 and 35). The shadow's far corners
reach sqrt(L^2 + 2^2) <= 26.46 from the base, so the shadow stays inside cols [5.54, 58.46] and
rows [37.0, 51.23]: at least 5.5 px from the left and right edges and 12.7 px from the bottom,
so it never leaves the frame. For theta in [0, 180] it lies on the viewer's side of the pole;
only the half-width strip behind the pole's foot (within rows [37, 38]; at most 2 px^2 of the
13.4 to 52.8 px^2 of shadow, the most at theta = 0 or 180) is hidden by it. Both parameters are
visible in every image and the image changes continuously with them. Pole and shadow cover 1.8%
to 2.9% of the image (2.3% on average over the training split). `render` accepts any finite
theta (360-periodic) and any phi in (0, 90]; outside the sampling range the shadow may be
clipped by the frame or (theta outside [0, 180]) partly hidden behind the pole. Interpolation is
linear in (theta, phi); the distance is the Euclidean distance in degrees.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from bench.errors import BenchError, did_you_mean
from bench.lazy import lazy_module

torch = lazy_module("torch")  # imported on first use: listing domains needs no torch

SUPERSAMPLE = 8
_CHUNK = 512  # images per vectorised rasterisation step (bounds peak memory)


# ----------------------------------------------------------------------------------------------
# Rasterisation of convex polygons: supersampled scanline fill
# ----------------------------------------------------------------------------------------------


def _to_canvas(edge_coords: np.ndarray, ss: int) -> np.ndarray:
    """Pixel-edge coordinates -> coordinates on the ss-times canvas, where subpixel k has its
    centre at integer k (skimage.draw.polygon's convention)."""
    return edge_coords * ss - 0.5


def _spans(verts: np.ndarray, rows: np.ndarray):
    """For convex polygons `verts` (B, V, 2) in canvas (row, col) coordinates and subpixel rows
    `rows` (K,), the half-open range [lo, hi) of subpixel columns whose centres lie inside, as
    float arrays (B, K) (empty rows have lo >= hi).

    Centres exactly on an edge follow the top-left fill rule: a row crossing counts for an edge
    when min(r0, r1) <= row < max(r0, r1), and a column j is inside when x_left <= j < x_right.
    Adjacent polygons then share no subpixel and a tilted rectangle's coverage is unbiased."""
    r0, c0 = verts[..., 0], verts[..., 1]
    r1, c1 = np.roll(r0, -1, axis=1), np.roll(c0, -1, axis=1)
    dr = r1 - r0
    rr = rows[None, None, :]
    hit = (rr >= np.minimum(r0, r1)[..., None]) & (rr < np.maximum(r0, r1)[..., None])  # (B, V, K)
    t = (rr - r0[..., None]) / np.where(dr != 0, dr, 1.0)[..., None]
    x = c0[..., None] + t * (c1 - c0)[..., None]
    lo = np.ceil(np.where(hit, x, np.inf).min(axis=1))
    hi = np.ceil(np.where(hit, x, -np.inf).max(axis=1))
    return lo, hi


def _span_bounds(lo: np.ndarray, hi: np.ndarray, big: int):
    """Float half-open spans [lo, hi) -> int16 bounds [l, e) clipped to the canvas columns
    [0, big), with l <= e."""
    l = np.clip(lo, 0, big).astype(np.int16)
    e = np.clip(hi, 0, big).astype(np.int16)
    return l, np.maximum(e, l)


def _pixel_counts(l: np.ndarray, e: np.ndarray, size: int, ss: int) -> np.ndarray:
    """Half-open subpixel-column bounds per subpixel row (B, K) -> number of covered subpixels per
    (pixel row, pixel col), (B, K // ss, size). K must be a multiple of ss (whole pixel rows).

    With g(x) = clip(x, l, e) - l the number of covered subpixels left of column x, a pixel
    column [p*ss, (p+1)*ss) holds g((p+1)*ss) - g(p*ss); g is summed over the ss subpixel rows of
    each pixel row before differencing."""
    B, K = l.shape
    edges = (np.arange(size + 1) * ss).astype(np.int16)
    g = np.clip(edges, l[..., None], e[..., None])
    g -= l[..., None]
    G = g.reshape(B, K // ss, ss, size + 1).sum(axis=2, dtype=np.int32)
    return np.diff(G, axis=-1)


def _pixel_row_window(verts: np.ndarray, size: int, ss: int):
    """Pixel rows [p0, p1) that can contain any subpixel of the polygons, clipped to the image."""
    if verts.size == 0:
        return 0, 0
    rmin, rmax = float(verts[..., 0].min()), float(verts[..., 0].max())
    p0 = int(np.clip(math.floor((rmin + 0.5) / ss) - 1, 0, size))
    p1 = int(np.clip(math.ceil((rmax + 0.5) / ss) + 1, 0, size))
    return p0, p1


def _subrows(p0: int, p1: int, ss: int) -> np.ndarray:
    return np.arange(p0 * ss, p1 * ss, dtype=np.float64)


def _coverage_counts(verts: np.ndarray, size: int, ss: int, exclude: Optional[np.ndarray] = None):
    """Covered-subpixel counts (B, size, size) of convex polygons `verts` (B, V, 2) given in
    pixel-edge coordinates. `exclude`, a convex polygon (V', 2), is removed from every shape
    (subpixels inside both are not counted)."""
    B = verts.shape[0]
    out = np.zeros((B, size, size), dtype=np.float64)
    canvas = _to_canvas(verts, ss)
    p0, p1 = _pixel_row_window(canvas, size, ss)
    if p1 <= p0:
        return out
    rows = _subrows(p0, p1, ss)
    big = size * ss
    l, e = _span_bounds(*_spans(canvas, rows), big)
    counts = _pixel_counts(l, e, size, ss)
    if exclude is not None:  # only on the pixel rows both can reach
        xcanvas = _to_canvas(np.asarray(exclude, dtype=np.float64), ss)[None]
        q0, q1 = _pixel_row_window(xcanvas, size, ss)
        q0, q1 = max(p0, q0), min(p1, q1)
        if q0 < q1:
            k = slice((q0 - p0) * ss, (q1 - p0) * ss)
            xl, xe = _span_bounds(*_spans(xcanvas, rows[k]), big)
            il = np.maximum(l[:, k], xl)
            counts[:, q0 - p0 : q1 - p0] -= _pixel_counts(il, np.maximum(np.minimum(e[:, k], xe), il), size, ss)
    out[:, p0:p1] = counts
    return out


def _reference_canvas_mean(shapes_and_values, size: int, ss: int, background: float) -> np.ndarray:
    """The literal definition: paint each (polygon in pixel-edge coordinates, value) in order with
    skimage.draw.polygon on the ss-times canvas, then downscale_local_mean to size x size."""
    from skimage.draw import polygon
    from skimage.transform import downscale_local_mean

    canvas = np.full((size * ss, size * ss), background, dtype=np.float64)
    for verts, value in shapes_and_values:
        c = _to_canvas(np.asarray(verts, dtype=np.float64), ss)
        rr, cc = polygon(c[:, 0], c[:, 1], shape=canvas.shape)
        canvas[rr, cc] = value
    return downscale_local_mean(canvas, (ss, ss))


# ----------------------------------------------------------------------------------------------
# Renderers
# ----------------------------------------------------------------------------------------------


def _readonly(values) -> np.ndarray:
    a = np.array(values, dtype=np.float64)
    a.setflags(write=False)
    return a


class SyntheticRenderer:
    """An exact renderer for one synthetic domain (see the module docstring for the scenes).

    Parameter arrays are (N, P) float64 in the units of `param_units`; `interpolate_params`
    and `param_distance` broadcast over leading batch dimensions.
    """

    name: str
    size: int
    channels: int = 1
    param_names: tuple
    param_units: tuple
    param_low: np.ndarray
    param_high: np.ndarray
    version: str  # part of the cache file name: change it whenever the rendered images change
    supersample: int = SUPERSAMPLE

    @property
    def num_params(self) -> int:
        return len(self.param_names)

    def sample_params(self, n: int, generator: np.random.Generator) -> np.ndarray:
        """n parameter vectors drawn uniformly from [param_low, param_high), (n, P) float64.
        Row i depends only on the generator state and i: the first m rows of a draw of n >= m
        equal a draw of m from the same state."""
        if int(n) != n or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        return generator.uniform(self.param_low, self.param_high, size=(int(n), self.num_params))

    def check_params(self, params) -> np.ndarray:
        """params as a (N, P) float64 array; ValueError if the shape or a value is not renderable."""
        p = np.asarray(params, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != self.num_params:
            raise ValueError(
                f"{self.name}: params must have shape (N, {self.num_params}) "
                f"({', '.join(self.param_names)}), got {p.shape}"
            )
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{self.name}: params must be finite")
        return p

    def render(self, params) -> np.ndarray:
        """Images (N, 1, H, W) float32 in [0, 1] for params (N, P)."""
        p = self.check_params(params)
        out = np.empty((p.shape[0], self.channels, self.size, self.size), dtype=np.float32)
        for i in range(0, p.shape[0], _CHUNK):
            out[i : i + _CHUNK, 0] = self._render_chunk(p[i : i + _CHUNK])
        return out

    def render_uint8(self, params) -> torch.Tensor:
        """round(255 * render(params)) as a uint8 tensor (N, 1, H, W); rendered in chunks so a full
        split never holds its float32 images all at once. The stored domain images are this."""
        p = self.check_params(params)
        out = torch.empty((p.shape[0], self.channels, self.size, self.size), dtype=torch.uint8)
        step = 8 * _CHUNK
        for i in range(0, p.shape[0], step):
            x = torch.from_numpy(self.render(p[i : i + step]))
            out[i : i + step] = torch.round(x * 255).to(torch.uint8)
        return out

    def render_reference(self, params) -> np.ndarray:
        """The slow literal definition (skimage.draw.polygon on the supersampled canvas, then
        downscale_local_mean), float32 (N, 1, H, W). For tests and documentation only."""
        p = self.check_params(params)
        out = np.empty((p.shape[0], self.channels, self.size, self.size), dtype=np.float32)
        for i, row in enumerate(p):
            out[i, 0] = _reference_canvas_mean(self._scene(row), self.size, self.supersample, self._background)
        return out

    def interpolate_params(self, p_a, p_b, alpha) -> np.ndarray:
        raise NotImplementedError

    def param_distance(self, p_a, p_b) -> np.ndarray:
        raise NotImplementedError

    # subclass hooks
    _background: float = 0.0

    def _render_chunk(self, p: np.ndarray) -> np.ndarray:  # (B, P) -> (B, H, W) float64
        raise NotImplementedError

    def _scene(self, p_row: np.ndarray):  # [(polygon in pixel-edge coords, value), ...] in paint order
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.channels}x{self.size}x{self.size} {self.param_names}>"


def _alpha(alpha) -> np.ndarray:
    """alpha broadcast against the batch dimensions of (..., P) parameter arrays."""
    return np.asarray(alpha, dtype=np.float64)[..., None]


class LinesRenderer(SyntheticRenderer):
    name = "lines"
    size = 32
    param_names = ("theta",)
    param_units = ("rad",)
    param_low = _readonly([0.0])
    param_high = _readonly([2 * math.pi])
    version = "r1"

    center = 16.0  # pixel-edge coordinates of the line's start (the image centre)
    length = 15.0
    half_width = 1.0
    _background = 0.0

    def _corners(self, theta: np.ndarray) -> np.ndarray:
        """(B,) angles -> (B, 4, 2) rectangle corners (row, col) in pixel-edge coordinates."""
        s, c = np.sin(theta), np.cos(theta)
        u = np.stack([-s, c], axis=-1) * self.length  # along the line (row axis points down)
        n = np.stack([c, s], axis=-1) * self.half_width  # perpendicular
        o = np.full_like(u, self.center)
        return np.stack([o + n, o + n + u, o - n + u, o - n], axis=1)

    def _render_chunk(self, p):
        return _coverage_counts(self._corners(p[:, 0]), self.size, self.supersample) / self.supersample**2

    def _scene(self, p_row):
        return [(self._corners(p_row[:1])[0], 1.0)]

    def interpolate_params(self, p_a, p_b, alpha) -> np.ndarray:
        """Along the shorter arc from p_a to p_b, wrapped to [0, 2*pi). (..., 1) arrays; alpha
        broadcasts against the leading dimensions (e.g. alpha of shape (T, 1) with (N, 1) params
        gives (T, N, 1))."""
        a, b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
        d = np.mod(b - a + math.pi, 2 * math.pi) - math.pi
        return np.mod(a + _alpha(alpha) * d, 2 * math.pi)

    def param_distance(self, p_a, p_b) -> np.ndarray:
        """Absolute angular difference on the circle, in [0, pi]; shape (...) for (..., 1) inputs."""
        a, b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
        d = np.abs(np.mod(b - a + math.pi, 2 * math.pi) - math.pi)
        return d[..., 0]


class PoleRenderer(SyntheticRenderer):
    name = "pole"
    size = 64
    param_names = ("theta", "phi")
    param_units = ("deg", "deg")
    param_low = _readonly([0.0, 35.0])
    param_high = _readonly([180.0, 70.0])
    version = "r2"

    camera_elevation_deg = 30.0
    base = (38.0, 32.0)  # (row, col) of the pole's base in pixel-edge coordinates
    pole_pixels = 16.0  # visible pole height in pixels (pixel-aligned)
    width = 4.0  # pole and shadow width in pixels / world units
    ground_value, shadow_value, pole_value = 0.5, 0.15, 1.0
    _background = ground_value

    def __init__(self):
        c = math.radians(self.camera_elevation_deg)
        self._sin_c = math.sin(c)
        self.pole_height = self.pole_pixels / math.cos(c)  # world height H
        r0, c0 = self.base
        hw = self.width / 2
        top = r0 - self.pole_pixels
        self._pole = np.array([[top, c0 - hw], [top, c0 + hw], [r0, c0 + hw], [r0, c0 - hw]])
        # ground + pole without a shadow, from the same counts the shadowed images use
        ss2 = self.supersample**2
        pole_counts = _coverage_counts(self._pole[None], self.size, self.supersample)[0]
        self._base_image = (self.ground_value * (ss2 - pole_counts) + self.pole_value * pole_counts) / ss2
        self._base_image.setflags(write=False)

    def check_params(self, params) -> np.ndarray:
        p = super().check_params(params)
        if np.any((p[:, 1] <= 0.0) | (p[:, 1] > 90.0)):
            raise ValueError(f"{self.name}: light elevation phi must be in (0, 90] degrees")
        return p

    def shadow_length(self, phi_deg) -> np.ndarray:
        """World (ground) length of the shadow, H / tan(phi)."""
        return self.pole_height / np.tan(np.radians(phi_deg))

    def _shadow_corners(self, p: np.ndarray) -> np.ndarray:
        """(B, 2) params -> (B, 4, 2) projected shadow parallelogram (row, col), pixel-edge coords."""
        th = np.radians(p[:, 0])
        L = self.shadow_length(p[:, 1])
        dx, dy = -np.cos(th), -np.sin(th)  # shadow direction on the ground (away from the light)
        nx, ny = -dy * (self.width / 2), dx * (self.width / 2)  # half-width normal on the ground
        tx, ty = L * dx, L * dy
        X = np.stack([nx, tx + nx, tx - nx, -nx], axis=1)
        Y = np.stack([ny, ty + ny, ty - ny, -ny], axis=1)
        r0, c0 = self.base
        return np.stack([r0 - Y * self._sin_c, c0 + X], axis=-1)

    def _render_chunk(self, p):
        shadow = _coverage_counts(self._shadow_corners(p), self.size, self.supersample, exclude=self._pole)
        ss2 = self.supersample**2
        return self._base_image[None] + (self.shadow_value - self.ground_value) * shadow / ss2

    def _scene(self, p_row):
        return [(self._shadow_corners(p_row[None])[0], self.shadow_value), (self._pole, self.pole_value)]

    def interpolate_params(self, p_a, p_b, alpha) -> np.ndarray:
        """Linear in (theta, phi): p_a + alpha * (p_b - p_a); alpha broadcasts against the leading
        dimensions of the (..., 2) params."""
        a, b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
        return a + _alpha(alpha) * (b - a)

    def param_distance(self, p_a, p_b) -> np.ndarray:
        """Euclidean distance in degrees; shape (...) for (..., 2) inputs."""
        a, b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
        return np.sqrt(np.sum((b - a) ** 2, axis=-1))


RENDERERS: dict = {r.name: r for r in (LinesRenderer(), PoleRenderer())}


def get_renderer(name: str) -> SyntheticRenderer:
    if name not in RENDERERS:
        raise BenchError(f"No ground-truth renderer for domain {name!r}. {did_you_mean(name, RENDERERS)}")
    return RENDERERS[name]

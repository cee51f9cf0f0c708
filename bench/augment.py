"""AugIntAE augmentation triplets, batched on the device (Wertheimer et al., appendix A.1).

For each image x the engine samples two parameter sets rho1, rho2 uniformly over fixed ranges
and alpha = mean of two U(0, 1) draws (triangular on [0, 1], mean 1/2, variance 1/24), then
returns A = T(x; rho1), B = T(x; rho2), C = T(x; alpha*rho1 + (1-alpha)*rho2). Every parameter
(angles, translations, scale, shear, colour factors) is mixed linearly, as the paper says.

Everything is batched: no per-sample Python, no DataLoader. `triplets()` warps the 3N images
(A, B and C of every sample) with one `affine_grid` + one `grid_sample` call. Random numbers
come only from the `torch.Generator` passed in (it must live on the data's device; a CUDA
generator for CUDA data), so a run is reproducible, and resumable by saving the generator's
state (`generator.get_state()`). `bench/augment_reference.py` is the slow per-image
torchvision pipeline the engine is checked and timed against.

Conventions (the tests pin each one):

- rotation: degrees, positive = counter-clockwise as displayed (row 0 at the top), about the
  image centre, pixel position ((W-1)/2, (H-1)/2). +90 equals
  `torch.rot90(x, 1, dims=(-2, -1))`. (torchvision's `affine(angle=a)` turns clockwise: our
  rotation r is its `angle=-r`.)
- translation: pixels, +x moves the content right (towards larger column index), +y moves it
  down (towards larger row index); x and y are sampled independently, as continuous values.
- scale: isotropic, about the centre; > 1 enlarges the content.
- shear: degrees, an x-shear with torchvision's sign (its `shear=[s, 0]`): SHx(s) = [[1, -tan s],
  [0, 1]] in (x right, y down) pixel coordinates, so rows below the centre move left for s > 0.
- composition: the forward map in pixel coordinates about the centre is
  p_out = R(rotation) @ (scale * SHx(shear)) @ p_in + t, which is torchvision's
  `affine(angle=-rotation, translate=[tx, ty], scale=scale, shear=[shear, 0])`.
- sampling: bilinear, `align_corners=False` everywhere (a pixel is a unit square; normalized
  coordinate = 2 * (pixel index - (size-1)/2) / size, so a translation of t pixels is 2t/size).
  padding "zeros" fills with black (characters are white on black); "reflection" is
  grid_sample's reflection, which with align_corners=False reflects about the outer pixel edge,
  i.e. numpy/torchvision "symmetric" padding (the paper's CIFAR padding).
- colour (the "color" family): brightness, contrast, saturation, hue in that fixed order, with
  torchvision's definitions (`torchvision.transforms.v2.functional.adjust_*`) but one factor per
  image. torchvision's ColorJitter shuffles the order per call; a fixed order is needed so
  that C's colour differs from A's and B's only through the mixed factors. On 1-channel
  images saturation and hue are no-ops (as in torchvision).
- order of stages: colour first, then the geometric warp. The warp is linear in the pixels,
  so brightness commutes with it; doing colour first keeps the padding exactly the fill value
  (contrast does not turn black corners grey) and makes contrast's mean a statistic of the
  image itself, not of how much padding the warp pulled in.

Written by hand, and why: the colour stage (`bench/augment_color.py`) because torchvision's
colour kernels take one float factor per call; the geometric stage builds all N 2x3 matrices with
tensor arithmetic (no per-sample trig in Python).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Iterable, Optional

import torch
import torch.nn.functional as F

from bench import randomness
from bench.augment_color import color_jitter
from bench.errors import BenchError, did_you_mean

FAMILIES = ("rotate", "translate", "scale", "shear", "color")
ALL_FAMILIES = frozenset(FAMILIES)
GEOMETRIC_FAMILIES = frozenset(("rotate", "translate", "scale", "shear"))
PADDINGS = ("zeros", "reflection")

# Parameter name -> (family, identity value). The order is the order of `AugParams` fields and
# of the rows of the uniform draw in `sample_params`.
PARAMS = {
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

# torchvision's (ITU-R 601-2) grayscale weights.


@dataclass(frozen=True)
class AugParams:
    """One augmentation parameter set per sample: each field is an (n,) float tensor.

    Units: rotation and shear in degrees, translations in pixels, scale a factor, brightness /
    contrast / saturation factors (1 = identity), hue a fraction of the hue circle (0 = identity).
    """

    rotation: torch.Tensor
    translate_x: torch.Tensor
    translate_y: torch.Tensor
    scale: torch.Tensor
    shear: torch.Tensor
    brightness: torch.Tensor
    contrast: torch.Tensor
    saturation: torch.Tensor
    hue: torch.Tensor

    def __len__(self) -> int:
        return self.rotation.shape[0]

    def values(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))

    def as_tensor(self) -> torch.Tensor:
        """(n, 9) tensor, columns in field order (for logging / saving)."""
        return torch.stack(self.values(), dim=1)

    @classmethod
    def from_tensor(cls, t: torch.Tensor) -> "AugParams":
        return cls(*t.unbind(dim=1))

    @classmethod
    def identity(cls, n: int, device=None, dtype=torch.float32) -> "AugParams":
        return cls(*(torch.full((n,), v, device=device, dtype=dtype) for _, v in PARAMS.values()))

    @classmethod
    def cat(cls, parts: Iterable["AugParams"]) -> "AugParams":
        parts = list(parts)
        return cls(*(torch.cat(vals) for vals in zip(*(p.values() for p in parts))))

    def replace(self, **changes) -> "AugParams":
        """A copy with some fields replaced; scalars are broadcast to (n,)."""
        vals = {f.name: getattr(self, f.name) for f in fields(self)}
        for k, v in changes.items():
            if k not in vals:
                raise BenchError(f"Unknown augmentation parameter {k!r}. {did_you_mean(k, vals)}")
            ref = vals[k]
            vals[k] = torch.as_tensor(v, dtype=ref.dtype, device=ref.device).expand_as(ref).clone()
        return AugParams(**vals)

    def to(self, device=None, dtype=None) -> "AugParams":
        return AugParams(*(v.to(device=device, dtype=dtype) for v in self.values()))

    def __getitem__(self, index) -> "AugParams":
        return AugParams(*(v[index] for v in self.values()))


def _check_range(name: str, r, lo_bound: float = -math.inf) -> tuple:
    try:
        lo, hi = (float(v) for v in r)
    except (TypeError, ValueError):
        raise BenchError(f"Augmentation range {name} must be a (low, high) pair of numbers, got {r!r}.") from None
    if not (lo <= hi) or lo < lo_bound:
        raise BenchError(f"Augmentation range {name} = ({lo}, {hi}) must have low <= high and low >= {lo_bound}.")
    return (lo, hi)


@dataclass(frozen=True)
class AugmentationRanges:
    """Uniform sampling range (low, high) of every parameter (translation: each axis)."""

    rotation_deg: tuple = (0.0, 0.0)
    translation_px: tuple = (0.0, 0.0)
    scale: tuple = (1.0, 1.0)
    shear_deg: tuple = (0.0, 0.0)
    brightness: tuple = (1.0, 1.0)
    contrast: tuple = (1.0, 1.0)
    saturation: tuple = (1.0, 1.0)
    hue: tuple = (0.0, 0.0)

    def __post_init__(self):
        bounds = {"scale": 1e-6, "brightness": 0.0, "contrast": 0.0, "saturation": 0.0}
        for f in fields(self):
            object.__setattr__(self, f.name, _check_range(f.name, getattr(self, f.name), bounds.get(f.name, -math.inf)))

    @classmethod
    def characters(cls) -> "AugmentationRanges":
        """Handwritten characters (paper A.1); no colour jitter."""
        return cls(rotation_deg=(-20.0, 20.0), translation_px=(-4.0, 4.0), scale=(0.8, 1.2), shear_deg=(-6.0, 6.0))

    @classmethod
    def natural(cls) -> "AugmentationRanges":
        """Natural RGB images: half the rotation and shear, double the translation, colour jitter."""
        return cls(
            rotation_deg=(-10.0, 10.0),
            translation_px=(-8.0, 8.0),
            scale=(0.8, 1.2),
            shear_deg=(-3.0, 3.0),
            brightness=(0.75, 1.25),
            contrast=(0.75, 1.25),
            saturation=(0.75, 1.25),
            hue=(-0.05, 0.05),
        )

    def param_range(self, param: str) -> tuple:
        """The (low, high) range of one `AugParams` field."""
        attr = {"rotation": "rotation_deg", "translate_x": "translation_px", "translate_y": "translation_px", "shear": "shear_deg"}
        return getattr(self, attr.get(param, param))


def _check_families(families) -> frozenset:
    if isinstance(families, str):
        families = [families]
    families = frozenset(families)
    unknown = families - ALL_FAMILIES
    if unknown:
        raise BenchError(f"Unknown augmentation family {sorted(unknown)[0]!r}. {did_you_mean('', FAMILIES)}")
    return families


def _check_generator(generator: Optional[torch.Generator], device: torch.device) -> None:
    if generator is not None and generator.device.type != device.type:
        raise BenchError(
            f"The augmentation generator lives on {generator.device} but the data on {device}: "
            f"make it with torch.Generator(device={str(device)!r}) (see bench.augment.make_generator)."
        )


def make_generator(seed: int, device="cpu") -> torch.Generator:
    """A seeded torch.Generator on `device` (CUDA data needs a CUDA generator)."""
    return randomness.seeded(seed, device)


def mix(p1: AugParams, p2: AugParams, alpha) -> AugParams:
    """alpha*p1 + (1-alpha)*p2, per parameter; alpha is a float or an (n,) tensor.

    Written as a*x + (1-a)*y (not lerp), so alpha = 1 gives p1 and alpha = 0 gives p2 exactly.
    """
    a = torch.as_tensor(alpha, dtype=p1.rotation.dtype, device=p1.rotation.device)
    return AugParams(*(a * u + (1 - a) * v for u, v in zip(p1.values(), p2.values())))


def sample_alpha(n: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
    """(n,) mixing weights: the mean of two U(0, 1) draws (triangular, mean 1/2, variance 1/24)."""
    device = torch.device(device) if device is not None else (generator.device if generator is not None else torch.device("cpu"))
    _check_generator(generator, device)
    return torch.rand((2, n), generator=generator, device=device).mean(dim=0)


def affine_matrices(params: AugParams, height: int, width: int, dtype=torch.float32) -> torch.Tensor:
    """(n, 2, 3) `affine_grid` thetas (output -> input, normalized, align_corners=False).

    Forward map, pixel coordinates about the centre (x right, y down):
    p_out = R @ (s * SHx) @ p_in + t with R = [[cos r, sin r], [-sin r, cos r]] (counter-clockwise
    as displayed for r > 0) and SHx = [[1, -tan sh], [0, 1]]. Its inverse is
    p_in = (1/s) [[1, tan sh], [0, 1]] @ [[cos r, -sin r], [sin r, cos r]] @ (p_out - t), and
    normalized coordinates are n = S p with S = diag(2/W, 2/H), so theta = [S Minv S^-1 | -S Minv t].
    """
    rad = params.rotation.to(dtype) * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    tan = torch.tan(params.shear.to(dtype) * (math.pi / 180.0))
    inv_s = 1.0 / params.scale.to(dtype)
    m00 = (cos + tan * sin) * inv_s
    m01 = (tan * cos - sin) * inv_s
    m10 = sin * inv_s
    m11 = cos * inv_s
    tx, ty = params.translate_x.to(dtype), params.translate_y.to(dtype)
    theta = torch.stack(
        (
            m00,
            m01 * (height / width),
            -(2.0 / width) * (m00 * tx + m01 * ty),
            m10 * (width / height),
            m11,
            -(2.0 / height) * (m10 * tx + m11 * ty),
        ),
        dim=1,
    )
    return theta.view(-1, 2, 3)


class AugmentationEngine:
    """Samples AugIntAE parameter sets and applies them to whole batches on the data's device.

    `families`: the transform families to sample (rotate, translate, scale, shear, color); a
    switched-off family samples its identity parameters (paper Fig. 7 trains with one family at
    a time). The uniform draw is the same whatever the families, so switching one off leaves
    the other parameters' values unchanged for the same generator state.
    """

    def __init__(
        self,
        image_shape: tuple,
        ranges: AugmentationRanges,
        families: Iterable[str] = ALL_FAMILIES,
        padding: str = "zeros",
    ):
        if len(tuple(image_shape)) != 3:
            raise BenchError(f"image_shape must be (C, H, W), got {tuple(image_shape)!r}.")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.ranges = ranges
        self.families = _check_families(families)
        if padding not in PADDINGS:
            raise BenchError(f"Unknown augmentation padding {padding!r}. {did_you_mean(padding, PADDINGS)}")
        self.padding = padding
        channels = self.image_shape[0]
        if "color" in self.families and channels not in (1, 3):
            raise BenchError(f"Colour jitter needs 1- or 3-channel images, got {channels} channels.")
        self._bounds_cpu = torch.tensor(
            [
                ranges.param_range(name) if fam in self.families else (ident, ident)
                for name, (fam, ident) in PARAMS.items()
            ],
            dtype=torch.float32,
        )  # (9, 2): low, high; a disabled family collapses to its identity value
        self._bounds_cache: dict = {}

    @classmethod
    def for_images(cls, image_shape: tuple, families: Optional[Iterable[str]] = None, padding: Optional[str] = None):
        """The paper's setting: characters() ranges for 1 channel, natural() for 3 channels.

        families None: every family, colour only for 3-channel images. padding None: "zeros"
        (pass "reflection" for CIFAR; `bench.data.pairs.PairSpec.augment_padding` says which).
        """
        channels = tuple(image_shape)[0]
        ranges = AugmentationRanges.natural() if channels == 3 else AugmentationRanges.characters()
        if families is None:
            families = ALL_FAMILIES if channels == 3 else ALL_FAMILIES - {"color"}
        return cls(image_shape, ranges, families, padding or "zeros")

    def __repr__(self) -> str:
        return f"AugmentationEngine(image_shape={self.image_shape}, families={sorted(self.families)}, padding={self.padding!r})"

    def _bounds(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self._bounds_cache:
            self._bounds_cache[key] = self._bounds_cpu.to(device)
        return self._bounds_cache[key]

    def _span(self, device: torch.device) -> torch.Tensor:
        """(9, 1) high - low, as `sample_params` computes it."""
        key = ("span", str(device))
        if key not in self._bounds_cache:
            b = self._bounds(device)
            self._bounds_cache[key] = b[:, 1:] - b[:, :1]
        return self._bounds_cache[key]

    # --- sampling --------------------------------------------------------------------------------
    def sample_params(self, n: int, generator: Optional[torch.Generator] = None, device=None) -> AugParams:
        """n parameter sets, uniform over the ranges (identity for disabled families).

        One (9, n) uniform draw from `generator` (None: torch's default generator of the device).
        """
        device = torch.device(device) if device is not None else (generator.device if generator is not None else torch.device("cpu"))
        _check_generator(generator, device)
        u = torch.rand((len(PARAMS), n), generator=generator, device=device)
        b = self._bounds(device)
        lo, hi = b[:, :1], b[:, 1:]
        return AugParams(*(lo + (hi - lo) * u).unbind(dim=0))

    @staticmethod
    def mix(p1: AugParams, p2: AugParams, alpha) -> AugParams:
        return mix(p1, p2, alpha)

    @staticmethod
    def sample_alpha(n: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
        return sample_alpha(n, generator, device)

    def sample_triplet_params(self, n: int, generator: Optional[torch.Generator] = None, device=None, alpha=None):
        """(p1, p2, p3, alpha) with p3 = mix(p1, p2, alpha); draws p1, then p2, then alpha.

        alpha: None to sample it, or a float / (n,) tensor to force it (then nothing is drawn for it).
        """
        p1 = self.sample_params(n, generator, device)
        p2 = self.sample_params(n, generator, device)
        dev = p1.rotation.device
        if alpha is None:
            alpha = self.sample_alpha(n, generator, dev)
        else:
            alpha = torch.as_tensor(alpha, dtype=torch.float32, device=dev).expand(n).clone()
        return p1, p2, mix(p1, p2, alpha), alpha

    # --- applying --------------------------------------------------------------------------------
    def _check_images(self, x: torch.Tensor, n: Optional[int] = None) -> None:
        if not torch.is_tensor(x) or x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise BenchError(f"The augmentation engine expects images of shape (N, {', '.join(map(str, self.image_shape))}), got {shape}.")
        if not x.is_floating_point():
            raise BenchError(f"The augmentation engine expects float images in [0, 1], got {x.dtype} (use x.float() / 255).")
        if n is not None and n != x.shape[0]:
            raise BenchError(f"{n} augmentation parameter sets for {x.shape[0]} images.")

    def apply(self, x: torch.Tensor, params: AugParams) -> torch.Tensor:
        """T(x; params) for a batch: colour jitter (if the family is on), then one warp.

        x: float (N, C, H, W) in [0, 1]; returns the same shape, dtype and device, in [0, 1].
        The warp always uses all geometric fields of `params`; the colour fields are used only
        when the engine's "color" family is on.
        """
        self._check_images(x, len(params))
        if "color" in self.families:
            x = color_jitter(x, params)
        n, c, h, w = x.shape
        theta = affine_matrices(params, h, w, dtype=x.dtype)
        grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=self.padding, align_corners=False)

    def apply_triplets(self, x: torch.Tensor, p1: AugParams, p2: AugParams, p3: AugParams):
        """(T(x; p1), T(x; p2), T(x; p3)) with one warp over the 3N stacked images."""
        self._check_images(x)
        n = x.shape[0]
        out = self.apply(torch.cat((x, x, x)), AugParams.cat((p1, p2, p3)))
        a, b, c = out.split(n)
        return a, b, c

    def triplets(self, x: torch.Tensor, generator: Optional[torch.Generator] = None, alpha=None):
        """(A, B, C, alpha) for a batch x (float (N, C, H, W) in [0, 1]) on x's device.

        Draw order from `generator`: rho1, rho2, alpha (see `sample_triplet_params`).
        alpha: None to sample (the paper), or a float / (n,) tensor to force it.

        The training path: the same numbers as `apply_triplets(x, *sample_triplet_params(...))`,
        bit for bit (a test checks it), computed on whole parameter tensors in about 27 operations
        instead of about 84 (one per field and per set), which is what a step costs on a GPU
        when it is not captured as a graph. The element-wise arithmetic is the per-field path's,
        operation for operation, so no published result changes.
        """
        from bench.augment_packed import packed_thetas, packed_triplet_params

        self._check_images(x)
        _check_generator(generator, x.device)
        n, c, h, w = x.shape
        fields, alpha = packed_triplet_params(self, n, generator, x.device, alpha)
        if "color" in self.families:
            x3 = color_jitter(torch.cat((x, x, x)), AugParams(*fields.unbind(0)))
        else:
            x3 = torch.cat((x, x, x))
        theta = packed_thetas(self, fields, h, w)
        grid = F.affine_grid(theta, [3 * n, c, h, w], align_corners=False)
        out = F.grid_sample(x3, grid, mode="bilinear", padding_mode=self.padding, align_corners=False)
        a, b, c3 = out.split(n)
        return a, b, c3, alpha

    def _constant(self, key: tuple, values: list, device: torch.device) -> torch.Tensor:
        """A small float32 column on `device`, made once (no host-to-device copy in a step,
        which a CUDA graph could not capture)."""
        key = key + (str(device),)
        if key not in self._bounds_cache:
            self._bounds_cache[key] = torch.tensor(values, dtype=torch.float32).view(-1, 1).to(device)
        return self._bounds_cache[key]

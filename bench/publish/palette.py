"""One colour per model, the same in every plot of every pair.

Built-in models get fixed colours (a fixed table, so adding a model never recolours the others);
related models share a hue family (the AugIntAE variants are greens, the GAN baselines purples,
pixel fade is grey). Any other model (a plug-in) gets a colour from its name's CRC32, so it is
stable across runs and machines too.
"""

from __future__ import annotations

import zlib

import seaborn as sns

_TAB20 = sns.color_palette("tab20", 20).as_hex()
_TAB20B = sns.color_palette("tab20b", 20).as_hex()

MODEL_ORDER = (
    "pixel-fade", "ae", "ae-gan", "vae", "intae", "augintae", "augintae-noadv", "augintae-rotate",
    "augintae-translate", "augintae-scale", "augintae-shear", "acai", "amr", "gaia", "aeai",
    "wgan-gp", "wgan-gp-oracle",
)  # fmt: skip

COLORS = {
    "pixel-fade": _TAB20[14],  # grey
    "ae": _TAB20[0],  # blue
    "ae-gan": _TAB20[1],  # light blue
    "vae": _TAB20[18],  # cyan
    "intae": _TAB20[2],  # orange
    "augintae": _TAB20[4],  # green
    "augintae-noadv": _TAB20[5],  # light green
    "augintae-rotate": _TAB20B[4],  # olive family
    "augintae-translate": _TAB20B[5],
    "augintae-scale": _TAB20B[6],
    "augintae-shear": _TAB20B[7],
    "acai": _TAB20[6],  # red
    "amr": _TAB20[10],  # brown
    "gaia": _TAB20[12],  # pink
    "aeai": _TAB20[16],  # yellow-green
    "wgan-gp": _TAB20[8],  # purple
    "wgan-gp-oracle": _TAB20[9],  # light purple
}

_FALLBACK = sns.color_palette("husl", 64).as_hex()


def model_color(name: str) -> str:
    """The model's colour as '#rrggbb'."""
    return COLORS.get(name) or _FALLBACK[zlib.crc32(name.encode()) % len(_FALLBACK)]


def model_sort_key(name: str) -> tuple:
    """Built-in models in MODEL_ORDER (pixel fade first, as in the paper's figures), others by name."""
    return (MODEL_ORDER.index(name), "") if name in MODEL_ORDER else (len(MODEL_ORDER), name)

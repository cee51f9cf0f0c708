"""`bench perf` results: one row per figure, written as a CSV and printed as a table.

Every row carries what produced it (device, torch version, thread count) and the options the
figure ran with (compile, precision, channels_last), so rows from different machines or
settings are never confused. `ratio` is value / baseline as measured; `speedup` says how many
times faster the figure is than its baseline whatever the unit (ratio for rates such as
images/s, 1 / ratio for times in seconds).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import pandas as pd
import torch

from bench.atomic import write_text
from bench.perf.measure import Side

RATE_UNITS = ("images/s",)
TIME_UNITS = ("s",)

COLUMNS = [
    "figure", "value", "unit", "baseline", "ratio", "speedup", "baseline_name",
    "device", "torch", "threads", "compile", "graphs", "precision", "channels_last",
    "peak_rss_mib", "baseline_peak_rss_mib", "peak_gpu_mib", "baseline_peak_gpu_mib", "reps", "note",
]  # fmt: skip


@dataclass
class Figure:
    """One measured figure and its baseline (value NaN: skipped, the note says why)."""

    figure: str
    unit: str
    baseline_name: str
    value: float = math.nan
    baseline: float = math.nan
    compile: str = "off"
    graphs: str = "off"  # training steps replayed as CUDA graphs
    precision: str = "fp32"
    channels_last: bool = False
    peak_rss_mib: float = math.nan
    baseline_peak_rss_mib: float = math.nan
    peak_gpu_mib: Optional[float] = None
    baseline_peak_gpu_mib: Optional[float] = None
    reps: int = 0
    note: str = ""

    def __post_init__(self):
        if self.unit not in RATE_UNITS + TIME_UNITS:
            raise ValueError(f"unknown unit {self.unit!r}")

    @classmethod
    def from_sides(cls, figure: str, unit: str, baseline_name: str, fig: Side, base: Side, **options) -> "Figure":
        """Medians of the timed calls: rates for images/s, seconds for s."""
        pick = Side.median_rate if unit in RATE_UNITS else Side.median_seconds
        return cls(
            figure, unit, baseline_name, value=pick(fig), baseline=pick(base),
            peak_rss_mib=fig.peak_rss_mib, baseline_peak_rss_mib=base.peak_rss_mib,
            peak_gpu_mib=fig.peak_gpu_mib, baseline_peak_gpu_mib=base.peak_gpu_mib,
            reps=len(fig.seconds), **options,
        )  # fmt: skip

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan

    @property
    def speedup(self) -> float:
        return self.ratio if self.unit in RATE_UNITS else 1.0 / self.ratio

    def row(self, context: dict) -> dict:
        return {**asdict(self), **context, "ratio": self.ratio, "speedup": self.speedup}


def context_columns(device: torch.device) -> dict:
    from bench.provenance import device_description

    return {"device": device_description(device), "torch": torch.__version__, "threads": torch.get_num_threads()}


def table(figures: list, device: torch.device) -> pd.DataFrame:
    context = context_columns(device)
    return pd.DataFrame([f.row(context) for f in figures], columns=COLUMNS)


def write_csv(frame: pd.DataFrame, path) -> None:
    """Atomically (a reader never sees half a file); NaN (skipped) is an empty cell."""
    write_text(path, frame.to_csv(index=False, float_format="%.6g"))


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def readable(frame: pd.DataFrame) -> str:
    """The table `bench perf` prints: figure, value, baseline, speedup, peak memory, note."""
    header = ["figure", "value", "baseline", "speedup", "peak RSS MiB (fig / base)"]
    gpu = frame["peak_gpu_mib"].notna().any()
    if gpu:
        header.append("peak GPU MiB (fig / base)")
    header.append("note")
    lines = []
    for r in frame.to_dict("records"):
        cells = [
            r["figure"],
            f"{_fmt(r['value'])} {r['unit']}",
            f"{_fmt(r['baseline'])} {r['unit']}",
            "-" if math.isnan(r["speedup"]) else f"{r['speedup']:.3g}x",
            f"{_fmt(r['peak_rss_mib'])} / {_fmt(r['baseline_peak_rss_mib'])}",
        ]
        if gpu:
            cells.append(f"{_fmt(r['peak_gpu_mib'])} / {_fmt(r['baseline_peak_gpu_mib'])}")
        note = r["note"] if isinstance(r["note"], str) else ""
        cells.append(note if len(note) <= 90 else note[:87] + "...")
        lines.append(cells)
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *lines])

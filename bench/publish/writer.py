"""`bench leaderboard` and `bench publish`: write `<out>/<pair>/` (and the index) all or nothing.

Everything is first written into a staging folder inside `<out>` (same file system); only when
every pair is complete is each `<out>/<pair>/` folder (and `<out>/README.md`) swapped in by
renames: the old one is renamed aside, the new one renamed into place, and the old one deleted.
A failure while writing leaves every previous file as it was; a failure during the renames puts
back what was already swapped. Other files in `<out>` (perf.md, perf.csv, the `<pair>.csv` rows
of `bench run`, pairs not under the runs folder) are never touched. One publish at a time per
`<out>` (an exclusive lock on the folder itself, so no lock file is left behind).

Deterministic: runs sorted, columns in a fixed order, floats as %.6g, no dates of generation,
paths relative to the runs folder, PNGs without metadata; the same runs give the same bytes.
Image figures load models and need the pair's data, so they are made only when asked
(`images=ImageOptions(...)`); otherwise those already published for the pair are kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench.atomic import ensure_writable_dir
from bench.errors import BenchError
from bench.publish import plots
from bench.publish.aggregate import Board, leaderboard
from bench.publish.collect import check_runs_dir, pairs_in, runs_table, scan_pair
from bench.publish.markdown import index_readme, pair_readme
from bench.publish.paper import published_for
from models import registry

try:  # POSIX; elsewhere publishes are not serialized
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CSV_FLOAT = "%.6g"
RECON_MATRIX_FILE = "recon_matrix.csv"  # `bench recon-matrix ... --out <runs>/<pair>/recon_matrix.csv`
IMAGE_FIGURES = ("interpolations", "few_shot")
INDEX = "README.md"
STAGING_PREFIX = ".publish-"


@dataclass
class ImageOptions:
    data_dir: Path
    device: object = "cpu"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _write_csv(table, path: Path) -> None:
    table.to_csv(path, index=False, float_format=CSV_FLOAT, na_rep="", lineterminator="\n")


def _write_text(path: Path, text: str) -> None:
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def build_pair(runs_dir: Path, pair: str, runs: list, target: Path, previous: Optional[Path], images: Optional[ImageOptions], registered: list, echo) -> Board:
    """Write one pair's folder (`target`, created here) from its scanned runs; `registered`: the
    registered model names, for the README's coverage line."""
    target.mkdir()
    board = leaderboard(runs, pair)
    _write_csv(runs_table(runs), target / "runs.csv")
    _write_csv(board.table, target / "leaderboard.csv")
    published = published_for(pair)
    figures = {}
    for budget in board.budgets():
        slug = _slug(budget)
        made = []
        candidates = (
            (f"headline_{slug}.png", f"{board.headline}: mean ± 95% CI per model", lambda p: plots.headline_bars(board, budget, p, published)),
            (f"noise_frequency_{slug}.png", "noise-frequency curves (AugIntAE Figure 11)", lambda p: plots.noise_frequency_curves(runs, pair, budget, p)),
            (f"ground_truth_{slug}.png", "ground-truth interpolation (AEAI figures)", lambda p: plots.ground_truth_curves(runs, pair, budget, p)),
            (f"admissibility_{slug}.png", "admissibility scores per model", lambda p: plots.admissibility_bars(board, budget, p)),
        )
        for name, caption, draw in candidates:
            if draw(target / name):
                made.append((name, caption))
        names = [f"{kind}_{slug}.png" for kind in IMAGE_FIGURES]
        if images is not None:
            from bench.publish.images import write_image_figures

            names = write_image_figures(runs, runs_dir, pair, budget, images.data_dir, images.device, target, echo)
        elif previous is not None:
            for name in names:
                if (previous / name).is_file():
                    shutil.copyfile(previous / name, target / name)
        captions = {"interpolations": "novel-domain interpolations, one row per model (AugIntAE Figure 5)", "few_shot": "few-shot generation from 5 seeds (AugIntAE Figure 6)"}
        for name in names:
            if (target / name).is_file():
                made.append((name, captions[name.split(f"_{slug}.png")[0]]))
        figures[budget] = made
    extra = []
    matrix = plots.read_recon_matrix(Path(runs_dir) / pair / RECON_MATRIX_FILE)
    if plots.recon_matrix_heatmap(matrix, pair, target / "recon_matrix.png"):
        extra.append(("recon_matrix.png", f"reconstruction L2 across domains (AugIntAE Table 1), from {pair}/{RECON_MATRIX_FILE} in the runs folder"))
    _write_text(target / "README.md", pair_readme(board, runs, published, figures, extra, registered))
    return board


@contextlib.contextmanager
def _locked(folder: Path):
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def swap_in(staging: Path, out_dir: Path, names: list) -> None:
    """Rename staging/<name> onto out/<name> for each name; on an error put everything back."""
    aside, installed = [], []
    try:
        for name in names:
            target = out_dir / name
            if target.exists() or target.is_symlink():
                old = staging / f".old-{name}"
                os.rename(target, old)
                aside.append((old, target))
            os.rename(staging / name, target)
            installed.append(target)
    except OSError as exc:
        for target in installed:
            _remove(target)
        for old, target in aside:
            os.rename(old, target)
        raise BenchError(f"Cannot replace files in {out_dir}: {exc.strerror or exc}. The previous files were kept; make the folder writable and run the same command again.") from None


# Hand-written pages in the --out folder that the index links when they exist (publish never writes them).
INDEX_LINKS = (("reproduce.md", "How the checked-in results were produced (commands, budget, hardware)"), ("perf.md", "Speed figures (`bench perf`)"))
INDEX_FIGURES = (("headline", "headline metric per model"), ("interpolations", "novel-domain interpolations (AugIntAE Figure 5)"))


def _index_figures(boards: dict, staging: Path) -> dict:
    """{pair: [(pair/<file>, caption)]}: the headline plot and interpolation grid the index shows."""
    shown = {}
    for pair, board in boards.items():
        for budget in board.budgets():
            for kind, caption in INDEX_FIGURES:
                name = f"{kind}_{_slug(budget)}.png"
                if (staging / pair / name).is_file():
                    shown.setdefault(pair, []).append((f"{pair}/{name}", f"{pair}, {budget}: {caption}"))
    return shown


def _publish(runs_dir, out_dir, pairs: list, index: bool, images: Optional[ImageOptions], echo) -> list:
    runs_dir = check_runs_dir(runs_dir)
    scanned = {pair: scan_pair(runs_dir, pair) for pair in pairs}  # every input error before anything is written
    out_dir = ensure_writable_dir(out_dir, "--out folder")
    with _locked(out_dir):
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
        try:
            boards, registered = {}, registry.names()
            for pair, runs in scanned.items():
                previous = out_dir / pair if (out_dir / pair).is_dir() else None
                boards[pair] = build_pair(runs_dir, pair, runs, staging / pair, previous, images, registered, echo)
            names = list(scanned)
            if index:
                links = [(name, caption) for name, caption in INDEX_LINKS if (out_dir / name).is_file()]
                _write_text(staging / INDEX, index_readme(boards, scanned, links, registered, _index_figures(boards, staging)))
                names.append(INDEX)
            swap_in(staging, out_dir, names)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    written = [out_dir / name for name in names]
    for pair, board in boards.items():
        echo(f"{pair}: {len(scanned[pair])} runs, {len(board.table)} leaderboard rows -> {out_dir / pair}")
    return written


def publish_pair(runs_dir, pair: str, out_dir, images: Optional[ImageOptions] = None, echo=print) -> list:
    """`bench leaderboard --pair P`: `<out>/<pair>/` only (the index is left as it is)."""
    return _publish(runs_dir, out_dir, [pair], index=False, images=images, echo=echo)


def publish(runs_dir, out_dir, images: Optional[ImageOptions] = None, echo=print) -> list:
    """`bench publish`: every pair with runs under `runs_dir`, and the index `<out>/README.md`."""
    pairs = pairs_in(runs_dir)
    if not pairs:
        raise BenchError(
            f"The runs folder {runs_dir} holds no runs: no <pair>/<model>/seed<k>/ folder with a config.json "
            "under a pair name (see `bench pairs`). Pass --runs DIR, the --out folder of `bench run`."
        )
    return _publish(runs_dir, out_dir, pairs, index=True, images=images, echo=echo)

"""`bench leaderboard` and `bench publish`: write `<out>/<pair>/` (and the index) all or nothing.

Everything is first written into a staging folder inside `<out>` (same file system); only when
every pair is complete is each `<out>/<pair>/` folder (with `<out>/records/` and `<out>/README.md`)
swapped in by renames: the old one is renamed aside, the new one renamed into place, and the old
one deleted. A failure while writing leaves every previous file as it was; a failure during the
renames puts back what was already swapped. Other files in `<out>` (perf.md, perf.csv, the
`<pair>.csv` rows of `bench run`, the folders of pairs not being rebuilt) are never touched. One publish at a time per
`<out>` (an exclusive lock on the folder itself, so no lock file is left behind).

Deterministic: runs sorted, columns in a fixed order, floats as %.6g, no dates of generation,
paths relative to the runs folder, PNGs without metadata; the same runs give the same bytes.
Image figures load models and need the pair's data, so they are made only when asked
(`images=ImageOptions(...)`); otherwise, and for a budget none of whose runs has weights, those
already published for the pair are kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench.atomic import ensure_writable_dir
from bench.errors import BenchError
from bench.publish.results_json import results_text
from bench.publish import archive, plots
from bench.publish.aggregate import Board, leaderboard
from bench.publish.archive import RECON_MATRIX_FILE, RECORDS_DIR
from bench.publish.collect import check_runs_dir, runs_table
from bench.publish.markdown import index_readme, pair_readme
from bench.publish.paper import published_for
from bench.progress import progress_bar
from bench.publish.revisions import split_by_revision
from models import registry

try:  # POSIX; elsewhere publishes are not serialized
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CSV_FLOAT = "%.6g"
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


def build_pair(pair: str, runs: list, target: Path, previous: Optional[Path], images: Optional[ImageOptions], registered: list, echo, matrix: Optional[Path] = None, earlier_figures: Optional[str] = None) -> Board:
    """Write one pair's folder (`target`, created here) from its scanned runs; `registered`: the
    registered model names, for the README's coverage line; `matrix`: the pair's merged
    recon-matrix CSV, if any; `earlier_figures`: the README's link to figures of lost runs, if any."""
    target.mkdir()
    _write_csv(runs_table(runs), target / "runs.csv")  # every run, every revision
    everything, (runs, earlier) = runs, split_by_revision(runs)  # tables, means and plots: current results only
    board = leaderboard(runs, pair)
    _write_csv(board.table, target / "leaderboard.csv")
    published = published_for(pair)
    _write_text(target / "results.json", results_text(board, published))
    figures = {}
    matrix_table = archive.read_recon_matrix(matrix) if matrix is not None else None
    matrix_source = f"from [{RECORDS_DIR}/{pair}/{RECON_MATRIX_FILE}](../{RECORDS_DIR}/{pair}/{RECON_MATRIX_FILE})"
    for budget in board.budgets():
        slug = _slug(budget)
        made = []
        candidates = (
            (f"headline_{slug}.png", f"{board.headline}: mean ± 95% CI per model", lambda p: plots.headline_bars(board, budget, p, published)),
            (f"noise_frequency_{slug}.png", "noise-frequency curves (AugIntAE Figure 11)", lambda p: plots.noise_frequency_curves(runs, pair, budget, p)),
            (f"ground_truth_{slug}.png", "ground-truth interpolation (AEAI figures)", lambda p: plots.ground_truth_curves(runs, pair, budget, p)),
            (f"balance_k_{slug}.png", "balance factor k over training, adversarial models (AugIntAE appendix A.1)", lambda p: plots.balance_factor_curves(runs, pair, budget, p)),
            (f"admissibility_{slug}.png", "admissibility scores per model", lambda p: plots.admissibility_bars(board, budget, p)),
            (f"recon_matrix_{slug}.png", f"reconstruction L2 across domains (AugIntAE Table 1), {matrix_source}", lambda p: plots.recon_matrix_heatmap(matrix_table, pair, budget, p, runs)),
        )
        for name, caption, draw in candidates:
            if draw(target / name):
                made.append((name, caption))
        names = [f"{kind}_{slug}.png" for kind in IMAGE_FIGURES]
        drawn = []
        if images is not None:
            from bench.publish.images import write_image_figures

            drawn = write_image_figures(runs, pair, budget, images.data_dir, images.device, target, echo)
        if drawn:
            names = drawn
        elif previous is not None:  # not asked to draw, or no run of this budget has weights: keep them
            for name in names:
                if (previous / name).is_file():
                    shutil.copyfile(previous / name, target / name)
        captions = {"interpolations": "novel-domain interpolations, one row per model (AugIntAE Figure 5)", "few_shot": "few-shot generation from 5 seeds (AugIntAE Figure 6)"}
        for name in names:
            if (target / name).is_file():
                made.append((name, captions[name.split(f"_{slug}.png")[0]]))
        figures[budget] = made
    _write_text(target / "README.md", pair_readme(board, runs, published, figures, registered, earlier_figures, earlier, len(everything)))
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


# Hand-kept in the --out folder (publish never writes it): <dir>/<pair>/ holds the figures drawn from
# runs whose folders were later lost, which republishing can no longer redraw; pair pages link it
# (and the index its README, through INDEX_LINKS).
EARLIER_FIGURES_DIR = "figures-before-the-loss"
# Hand-written pages in the --out folder that the index links when they exist (publish never writes them).
INDEX_LINKS = (("reproduce.md", "How the checked-in results were produced (commands, budget, hardware)"), ("perf.md", "Speed figures (`bench perf`)"), (f"{EARLIER_FIGURES_DIR}/README.md", "Figures drawn from runs whose folders were later lost"))
INDEX_FIGURES = (("headline", "headline metric per model"), ("interpolations", "novel-domain interpolations (AugIntAE Figure 5)"))


def _index_figures(boards: dict, folders: dict) -> dict:
    """{pair: [(pair/<file>, caption)]}: the headline plot and interpolation grid the index shows;
    folders: {pair: the folder holding its files (staging for rebuilt pairs, else the published one)}."""
    shown = {}
    for pair, board in boards.items():
        for budget in board.budgets():
            for kind, caption in INDEX_FIGURES:
                name = f"{kind}_{_slug(budget)}.png"
                if (folders[pair] / name).is_file():
                    shown.setdefault(pair, []).append((f"{pair}/{name}", f"{pair}, {budget}: {caption}"))
    return shown


def _stage_records(runs_dir: Path, out_dir: Path, scanned: dict, staging: Path) -> dict:
    """staging/records: the published records, with each rebuilt pair's replaced by its merged
    runs; returns {pair: its merged recon-matrix CSV in staging, or None}."""
    records, published = staging / RECORDS_DIR, archive.records_dir(out_dir)
    if published.is_dir():  # the pairs not rebuilt now, as they are

        def rebuilt(folder, names):
            return [n for n in names if Path(folder) == published and n in scanned]

        shutil.copytree(published, records, symlinks=True, ignore=rebuilt)
    records.mkdir(exist_ok=True)
    matrices = {}
    for pair, runs in scanned.items():
        archive.write_records(runs, records / pair)
        matrix = records / pair / RECON_MATRIX_FILE
        matrices[pair] = matrix if archive.merge_recon_matrix(runs_dir, out_dir, pair, matrix) else None
    return matrices


def _publish(runs_dir, out_dir, pairs: list, index: bool, images: Optional[ImageOptions], echo, progress: bool = True) -> list:
    runs_dir = check_runs_dir(runs_dir)
    out_dir = Path(out_dir)
    scanned = {pair: archive.scan(runs_dir, out_dir, pair) for pair in pairs}  # every input error before anything is written
    # the index also summarizes the pairs published earlier and not rebuilt now, from their records
    # alone: their pages were built from those, and a run of theirs still under way in `runs_dir`
    # (or a pair never published) must not show in the index before its own page does
    records = archive.records_dir(out_dir)
    others = {pair: archive.scan(records, out_dir, pair) for pair in archive.recorded_pairs(records) if pair not in scanned} if index else {}
    out_dir = ensure_writable_dir(out_dir, "--out folder")
    with _locked(out_dir):
        for stale in out_dir.glob(f"{STAGING_PREFIX}*"):  # left by a killed publish (we hold the lock: none is in use)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
        except OSError as exc:
            raise BenchError(f"Cannot write in {out_dir}: {exc.strerror or exc}. Pass an --out folder you can write to.") from None
        try:
            boards, registered = {}, registry.counted_names()
            matrices = _stage_records(runs_dir, out_dir, scanned, staging)
            bar = progress_bar(scanned.items(), desc="publishing", unit="pair", enabled=progress, total=len(scanned))
            for pair, runs in bar:
                bar.set_postfix_str(pair)
                previous = out_dir / pair if (out_dir / pair).is_dir() else None
                earlier = f"../{EARLIER_FIGURES_DIR}/{pair}/" if (out_dir / EARLIER_FIGURES_DIR / pair).is_dir() else None
                boards[pair] = build_pair(pair, runs, staging / pair, previous, images, registered, echo, matrices[pair], earlier)
            names = list(scanned) + [RECORDS_DIR]
            if index:
                everything = {**scanned, **others}
                everything = {pair: split_by_revision(runs)[0] for pair, runs in everything.items()}
                index_boards = {pair: boards[pair] if pair in boards else leaderboard(runs, pair) for pair, runs in sorted(everything.items())}
                folders = {pair: staging / pair if pair in scanned else out_dir / pair for pair in index_boards}
                links = [(name, caption) for name, caption in INDEX_LINKS if (out_dir / name).is_file()]
                _write_text(staging / INDEX, index_readme(index_boards, everything, links, registered, _index_figures(index_boards, folders)))
                names.append(INDEX)
            swap_in(staging, out_dir, names)
        except OSError as exc:  # a full disk or a file-size limit while staging (pandas, matplotlib, shutil)
            where = exc.filename or staging
            remedy = "free some disk space" if exc.errno == errno.ENOSPC else "make room for the files"
            raise BenchError(
                f"Cannot write {where}: {exc.strerror or exc}. Nothing in {out_dir} was changed (the pages are written to a "
                f"staging folder first); {remedy} and run the same command again."
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    written = [out_dir / name for name in names]
    for pair, board in boards.items():
        recorded = sum(1 for r in scanned[pair] if archive.is_record(r, out_dir)) if records.resolve() != runs_dir.resolve() else 0
        kept = f" ({recorded} of them from {out_dir / RECORDS_DIR} only)" if recorded else ""
        echo(f"{pair}: {len(scanned[pair])} runs{kept}, {len(board.table)} leaderboard rows -> {out_dir / pair}")
    return written


def publish_pair(runs_dir, pair: str, out_dir, images: Optional[ImageOptions] = None, echo=print) -> list:
    """`bench leaderboard --pair P`: `<out>/<pair>/` and its records; the index `<out>/README.md`
    is refreshed too when it exists (its row for P would otherwise be stale)."""
    return _publish(runs_dir, out_dir, [pair], index=(Path(out_dir) / INDEX).is_file(), images=images, echo=echo)


def publish(runs_dir, out_dir, images: Optional[ImageOptions] = None, echo=print) -> list:
    """`bench publish`: every pair with runs under `runs_dir` or records under `<out>/records`,
    and the index `<out>/README.md`."""
    pairs = archive.pairs_to_publish(check_runs_dir(runs_dir), out_dir)
    if not pairs:
        raise BenchError(
            f"The runs folder {runs_dir} holds no runs: no <pair>/<model>/seed<k>/ folder with a config.json "
            "under a pair name (see `bench pairs`), and there are no published records under "
            f"{archive.records_dir(out_dir)}. Pass --runs DIR, the --out folder of `bench run`."
        )
    return _publish(runs_dir, out_dir, pairs, index=True, images=images, echo=echo)

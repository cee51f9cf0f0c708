"""Image figures of a pair and budget; these load the models (`bench publish --images`).

- interpolations_<budget>.png (AugIntAE Figure 5): fixed pairs of novel-domain test images
  (same class where the split has labels, drawn with a fixed seed), one row per model: input A,
  the decoded path at alpha = 0..1 (9 points), input B. Pixel fade is the first row even when no
  pixel-fade run exists (it has no weights to train).
- few_shot_<budget>.png (Figure 6): 5 seed images of one novel class (the smallest label with 5
  test images, else with 5 images in the novel domain's train split, which no model but the
  oracle trains on; unlabelled domains: the first 5 test images) in the first row, then 12 images
  per model generated from them (`bench.generate.few_shot_generate`, seed 0).
Each model is the lowest finished seed of its (model, budget) that has weights, loaded with
`bench.loading.load_run`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from bench import data as data_layer
from bench import randomness
from bench.generate import few_shot_generate, interpolation_strip
from bench.grids import FITTED_BOX, enlarged
from bench.loading import load_run
from bench.rundir import MODEL_FILE
from bench.publish.collect import FINISHED
from bench.publish.palette import model_sort_key

PAIRS_SHOWN, STEPS, SEEDS, GENERATED = 2, 9, 5, 12
MIN_TILE = 48  # smaller images are enlarged (nearest) so a tile stays readable


def representative_runs(runs, budget: str) -> dict:
    """{model: its lowest finished seed of this budget with weights (model.pt)}, in palette order.
    Runs known only from the published records have no weights, so no row; pixel fade has none
    to train and is added by `_models` anyway."""
    chosen = {}
    for r in sorted(runs, key=lambda r: r.seed):
        if r.status == FINISHED and r.budget == budget and r.source_dir is not None and (r.source_dir / MODEL_FILE).is_file():
            chosen.setdefault(r.model, r)
    return dict(sorted(chosen.items(), key=lambda kv: model_sort_key(kv[0])))


def without_weights_note(runs, budget: str, chosen: dict) -> str:
    """A title line naming the models with finished runs of `budget` but no weights (records
    rebuilt from values, run folders deleted), so a grid never drops a model silently; or ''."""
    missing = sorted({r.model for r in runs if r.status == FINISHED and r.budget == budget} - set(chosen) - {"pixel-fade"}, key=model_sort_key)
    return f"\nno weights kept, no row: {', '.join(missing)}" if missing else ""


def fixed_pairs(split, count: int, seed: int = 0) -> list:
    """`count` (i, j) index pairs of different images, same label where there are labels."""
    gen = randomness.seeded(seed)
    n = split.images.shape[0]
    pairs = []
    for i in torch.randperm(n, generator=gen).tolist():
        if split.labels is not None:
            mates = (split.labels == split.labels[i]).nonzero().flatten().tolist()
        else:
            mates = list(range(n))
        mates = [j for j in mates if j != i]
        if mates:
            pairs.append((i, mates[int(torch.randint(len(mates), (1,), generator=gen))]))
        if len(pairs) == count:
            break
    return pairs


def few_shot_seed_images(novel) -> torch.Tensor:
    for split in (novel.test, novel.train):
        if split.labels is None:
            continue
        labels = split.labels
        for value in torch.unique(labels).tolist():
            index = (labels == value).nonzero().flatten()[:SEEDS]
            if index.numel() == SEEDS:
                return split.images[index]
    return novel.test.images[:SEEDS]


def _tiles(images: torch.Tensor) -> torch.Tensor:
    images = enlarged(images, MIN_TILE)
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def _labelled_rows(rows: list, labels: list, title: str, path: Path) -> None:
    """Rows of equally many tiles, one label per row, as one PNG."""
    columns = rows[0].shape[0]
    grid = make_grid(torch.cat(rows), nrow=columns, padding=2, pad_value=1.0)
    height, width = grid.shape[1:]
    fig = Figure(figsize=(width / 100 + 1.8, height / 100 + 0.6))
    ax = fig.subplots()
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_xticks([])
    row_height = height / len(rows)
    ax.set_yticks([row_height * (k + 0.5) for k in range(len(rows))], labels, fontsize=9)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png", metadata={"Software": None}, **FITTED_BOX)


def _models(chosen: dict, image_shape, device) -> list:
    from models import registry

    loaded = []
    if "pixel-fade" not in chosen:
        cls = registry.get("pixel-fade")
        loaded.append(("pixel-fade", cls(cls.Config(), tuple(image_shape)).to(device).eval()))
    for name, run in chosen.items():
        model, _ = load_run(run.source_dir, device=device)
        loaded.append((name, model))
    return sorted(loaded, key=lambda nm: model_sort_key(nm[0]))


@torch.no_grad()
def write_image_figures(runs, pair: str, budget: str, data_dir, device, out_dir: Path, echo=print) -> list:
    """Write both figures for one budget into `out_dir`; returns the file names written."""
    chosen = representative_runs(runs, budget)
    if not chosen:
        return []
    image_shape = next(iter(chosen.values())).record["image_shape"]
    echo(f"{pair} ({budget}): loading {len(chosen)} models and the novel domain's images for the image figures ...")
    _, novel = data_layer.load_pair(data_layer.get_pair(pair), data_dir, max_train=2000, max_test=2000)
    models = _models(chosen, image_shape, device)
    note = without_weights_note(runs, budget, chosen)
    test = novel.test.images.float() / 255
    gap = torch.ones(1, *test.shape[1:])
    pairs = fixed_pairs(novel.test, PAIRS_SHOWN)
    rows, labels = [], []
    for name, model in models:
        pieces = []
        for k, (i, j) in enumerate(pairs):
            a, b = test[i : i + 1], test[j : j + 1]
            pieces += [gap] * (k > 0) + [a, interpolation_strip(model, a.to(model.device), b.to(model.device), STEPS), b]
        rows.append(_tiles(torch.cat(pieces)))
        labels.append(name)
    written = []
    path = out_dir / f"interpolations_{budget}.png"
    _labelled_rows(rows, labels, f"{pair}, {budget} budget: novel-domain interpolations (input A, alpha = 0..1, input B){note}", path)
    written.append(path.name)

    seeds = few_shot_seed_images(novel).float() / 255
    filler = torch.full((GENERATED - SEEDS, *seeds.shape[1:]), 0.5)
    rows, labels = [_tiles(torch.cat([seeds, filler]))], ["seeds"]
    for name, model in models:
        rows.append(_tiles(few_shot_generate(model, seeds.to(model.device), GENERATED, seed=0)))
        labels.append(name)
    path = out_dir / f"few_shot_{budget}.png"
    _labelled_rows(rows, labels, f"{pair}, {budget} budget: {GENERATED} images generated from {SEEDS} novel-domain seeds{note}", path)
    written.append(path.name)
    return written


"""`bench figure generalization`: the AugIntAE paper's Figure 2 for any finished runs.

One panel per run, side by side, each with six rows of n images: training-domain test inputs,
their reconstructions (the model's encoder; a GAN's inversion network + refinement), random
samples (generative models only; a grey row otherwise), novel-domain test inputs, their
reconstructions through the encoder / inversion, and through the oracle encoder (per-image latent
optimisation from a random start, `models.inversion.oracle_encode`). VAEs reconstruct from the mean.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid

from bench import data as data_layer
from bench import randomness
from bench.atomic import atomic_path
from bench.errors import BenchError
from bench.grids import FITTED_BOX
from bench.budgets import budget_from_record
from bench.loading import load_run
from models.inversion import oracle_encode

ROWS = (
    "training-domain inputs",
    "reconstructions",
    "random samples",
    "novel-domain inputs",
    "reconstructions (encoder / inversion)",
    "reconstructions (oracle encoder)",
)


@torch.no_grad()
def generalization_rows(model, record, data_dir, n: int, seed: int = 0) -> list:
    """The six rows of one panel, each (n, C, H, W) in [0, 1] on the CPU."""
    budget = budget_from_record(record)
    model.configure_evaluation(budget.evaluation.refine_steps)
    pair = data_layer.get_pair(record["pair"])
    train, novel = data_layer.load_pair(pair, data_dir, max_train=1, max_test=n)
    device = model.device
    x_train = train.test.images[:n].to(device).float() / 255
    x_novel = novel.test.images[:n].to(device).float() / 255
    gen = randomness.seeded(seed)
    if model.generative:
        samples = model.sample(n, generator=gen).float()
    else:
        samples = torch.full_like(x_train, 0.5)
    oracle = model.decode(oracle_encode(model, x_novel, steps=budget.evaluation.refine_steps, generator=gen)).float()
    rows = [x_train, model.reconstruct(x_train).float(), samples, x_novel, model.reconstruct(x_novel).float(), oracle]
    return [r.clamp(0, 1).cpu() for r in rows]


def generalization_figure(run_dirs, out: Path, data_dir, device, n: int = 8, echo=print) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not run_dirs:
        raise BenchError("`bench figure generalization` needs at least one run directory.")
    panels = []
    for run_dir in run_dirs:
        model, record = load_run(run_dir, device=device)
        echo(f"{record['model']} ({record['pair']}, seed {record['seed']}): encoding, sampling and oracle refinement ...")
        rows = generalization_rows(model, record, data_dir, n)
        grid = make_grid(torch.cat(rows), nrow=n, padding=2, pad_value=1.0)
        panels.append((f"{record['model']} ({record['pair']}, {record['budget']['name']})", grid))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 + 1.1 * n * len(panels), 1.1 * len(ROWS) + 0.6), squeeze=False)
    for i, (ax, (title, grid)) in enumerate(zip(axes[0], panels)):
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        row_height = grid.shape[1] / len(ROWS)
        ax.set_yticks([row_height * (k + 0.5) for k in range(len(ROWS))])
        ax.set_yticklabels(ROWS if i == 0 else [""] * len(ROWS), fontsize=8)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out, suffix=out.suffix or ".png") as tmp:
        fig.savefig(tmp, dpi=120, format=(out.suffix.lstrip(".") or "png"), **FITTED_BOX)
    plt.close(fig)
    return out

"""The GPU check: CUDA graphs give the eager step's numbers, and what they buy. One device call.

    python -m bench.perf.gpu_check [--out DIR] [--models all|a,b] [--device cuda] [--no-perf]

1. Graphs vs eager, every trainable model: two trainers from the same initial weights and
   generator train the same short schedule on random images, one eager, one replaying captured
   steps (one eager warm-up step per key, so every phase is captured: both WGAN-GP phases and
   its inversion stages, GAIA's tensor learning rates, AEAI's jvp, AMR's and AEAI's randperm,
   the lr drops). A third, eager again, measures how far two eager runs drift apart on this
   device (atomic-add kernels are not deterministic on a GPU). The check passes when the graphed
   run is as close to the eager one as eager runs are to each other (10x, with a floor of
   1e-5 of the weights' scale). Written to DIR/graph_check.csv.
2. `bench perf` at sizes for one call (DIR/perf.csv, printed): the trainer path (graphed) vs
   the naive reference per model at batch 64 and 256, graphed vs eager, lanes 2/4/8, bf16 vs TF32.

Exit status 1 when a model fails the check. On the CPU (`--device cpu`, as the tests run it)
graphs are replayed by `bench.graphs.ReplayedClosure` and the perf part uses `--quick` sizes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from bench.atomic import write_text
from bench.budgets import TrainingSchedule
from bench.graphs import ReplayedClosure
from bench.perf.training import trainable_model_names
from bench.trainer import Trainer
from models import registry

STEPS = 12
INVERSION_STEPS = 10
TOLERANCE_FACTOR = 10.0
FLOOR = 1e-5


def _images(n: int = 256, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _train(name: str, images: torch.Tensor, device: torch.device, graphs: bool, folder: Path, tag: str):
    torch.manual_seed(0)
    cls = registry.get(name)
    model = cls(cls.Config(), tuple(images.shape[1:])).to(device)
    schedule = TrainingSchedule(batch_size=64, steps=STEPS, log_every=1, checkpoint_every=10**9, checkpoint_seconds=1e9, inversion_iterations=INVERSION_STEPS)
    graph_class = ReplayedClosure if graphs and device.type != "cuda" else None
    trainer = Trainer(
        model, images, schedule, device, folder / f"{name}-{tag}.pt", seed=0, config_hash="check", progress=False,
        graphs=graphs, graph_class=graph_class, graph_warmup=1,
    )  # fmt: skip
    result = trainer.fit()
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items() if v.is_floating_point()}
    return state, result.history, trainer.captured_graphs


def _distance(a: dict, b: dict) -> tuple:
    """(largest absolute difference over all weights, largest absolute weight)."""
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    scale = max(a[k].abs().max().item() for k in a)
    return diff, scale


def check_model(name: str, images: torch.Tensor, device: torch.device, folder: Path) -> dict:
    start = time.perf_counter()
    eager, eager_history, _ = _train(name, images, device, False, folder, "eager")
    again, _, _ = _train(name, images, device, False, folder, "eager-again")
    graphed, graphed_history, captured = _train(name, images, device, True, folder, "graphed")
    noise, scale = _distance(eager, again)
    diff, _ = _distance(eager, graphed)
    allowed = max(TOLERANCE_FACTOR * noise, FLOOR * max(scale, 1.0))
    finite = all(all(v == v for v in h["losses"].values()) for h in graphed_history)
    return {
        "model": name, "graphs_captured": captured, "graph_vs_eager": diff, "eager_vs_eager": noise,
        "allowed": allowed, "last_losses_graphed": graphed_history[-1]["losses"], "last_losses_eager": eager_history[-1]["losses"],
        "passed": bool(captured > 0 and finite and diff <= allowed), "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip


def check_refinement(device: torch.device, steps: int = 50) -> dict:
    """GAN inversion's latent refinement (`models.inversion.refine_latents`): captured steps vs
    the same steps run eagerly (`ReplayedClosure` calls the step each time), on WGAN-GP's decoder."""
    from models.inversion import refine_latents

    start = time.perf_counter()
    torch.manual_seed(0)
    cls = registry.get("wgan-gp")
    model = cls(cls.Config(), (1, 28, 28)).to(device).eval()
    x = _images(96).to(device).float() / 255
    z0 = model.prior_latents(96, torch.Generator(device=device).manual_seed(0))
    with torch.no_grad():
        runs = [refine_latents(model.decode, x, z0, steps, chunk_size=64, graph_class=g) for g in (ReplayedClosure, ReplayedClosure, None)]
    eager, again, graphed = ({"z": z.float().cpu()} for z in runs)
    noise, scale = _distance(eager, again)
    diff, _ = _distance(eager, graphed)
    allowed = max(TOLERANCE_FACTOR * noise, FLOOR * max(scale, 1.0))
    return {
        "model": "refine_latents (wgan-gp decoder)", "graph_vs_eager": diff, "eager_vs_eager": noise, "allowed": allowed,
        "passed": bool(diff <= allowed), "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip


def _guarded(name: str, check) -> dict:
    try:
        return check()
    except Exception as exc:  # one check's failure is a row, not the end of the check
        return {"model": name, "passed": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"}


def check_all(names: list, device: torch.device, out: Path, echo=print) -> pd.DataFrame:
    images = _images().to(device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checks = [(name, lambda name=name: check_model(name, images, device, Path(tmp))) for name in names]
        if "wgan-gp" in names:
            checks.append(("refine_latents", lambda: check_refinement(device)))
        for name, check in checks:
            row = _guarded(name, check)
            rows.append(row)
            echo(f"graph check {name}: {'ok' if row['passed'] else 'FAILED'} {row}")
    frame = pd.DataFrame(rows)
    write_text(out / "graph_check.csv", frame.to_csv(index=False, float_format="%.3g"))
    return frame


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-check"))
    parser.add_argument("--models", default="all")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--no-perf", action="store_true", help="only the graphs-vs-eager check")
    args = parser.parse_args(argv)
    from bench.devices import choose_device
    from bench.perf import PerfOptions, run_perf
    from bench.perf.report import readable
    from bench.perf.suite import CHECK

    device = choose_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    names = trainable_model_names(args.models)
    names = [n for n in names if registry.get(n).trains_on == "train"]
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(device) if device.type == 'cuda' else device}", flush=True)
    frame = check_all(names, device, args.out, echo=lambda m: print(m, flush=True))
    print(frame.drop(columns=[c for c in ("last_losses_graphed", "last_losses_eager") if c in frame]).to_string(index=False), flush=True)
    if not args.no_perf:
        opts = PerfOptions(device, args.models, args.out / "perf.csv", quick=device.type != "cuda")
        if device.type == "cuda":
            opts = replace(opts, sizes=CHECK)
        print(readable(run_perf(opts, echo=lambda m: print(m, flush=True))), flush=True)
    return 0 if bool(frame["passed"].all()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The images a run was scored on, exported so that anyone can recompute its numbers with
pytorch-fid or torch-fidelity (`bench evaluate RUN --export-samples DIR`, `bench run
--export-samples DIR`).

DIR receives `generated/` (the images FID, domain FID and misclassification scored, in their
order), `reference/` (the novel-domain test images FID compares them with), one PNG per image
(8-bit, as `bench fid` and pytorch-fid read them; the scores were computed on the float images,
so a recomputed FID can differ from the recorded one by that rounding), and `index.csv`: per
file its set, and for a generated image the two novel test images it interpolates (indices into
the test split as the run loaded it, see the protocol's `source_images`) and alpha, or the sample
number of a generative model; for a reference image its test index. `protocol.json` records how
both sets were made. Written into a temporary folder renamed at the end: never half a folder.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from bench.errors import BenchError
from metrics.fidelity import reference_images, reference_indices
from metrics.generated import generated_images, generated_sources, generation_protocol


def _write_png(image: torch.Tensor, path: Path) -> None:
    from PIL import Image

    array = image.float().mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path, format="png")


def check_target(out_dir) -> None:
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BenchError(f"--export-samples {out_dir}: the folder exists and is not empty. Give a new folder (it is created) or an empty one.")


def export_scored_images(ctx, out_dir) -> Path:
    """Write what the run's image metrics scored to `out_dir` (which must not hold files yet)."""
    out_dir = Path(out_dir)
    check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        os.chmod(staging, 0o755)
        (staging / "generated").mkdir()
        (staging / "reference").mkdir()
        rows = []
        for i, (image, source) in enumerate(zip(generated_images(ctx), generated_sources(ctx))):
            name = f"generated/{i:05d}.png"
            _write_png(image, staging / name)
            rows.append({"file": name, "set": "generated", **source})
        reference, what = reference_images(ctx)
        for i, (image, index) in enumerate(zip(reference, reference_indices(ctx).tolist())):
            name = f"reference/{i:05d}.png"
            _write_png(image.float() / 255, staging / name)
            rows.append({"file": name, "set": "reference", "test_index": index})
        columns = ["file", "set", "source_a", "source_b", "alpha", "sample", "test_index"]
        with open(staging / "index.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        protocol = {"generated": generation_protocol(ctx), "reference": what, "pair": ctx.pair.name, "seed": ctx.seed, "budget": ctx.budget.name}
        (staging / "protocol.json").write_text(json.dumps(protocol, indent=1, sort_keys=True) + "\n")
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir

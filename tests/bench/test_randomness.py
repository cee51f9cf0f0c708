"""The run seed becomes randomness in one module (bench/randomness.py), with the derivations the
published runs were made with."""

import hashlib
import re
from pathlib import Path

import torch

from bench import randomness
from bench.data.domain import subset_seed

ROOT = Path(__file__).resolve().parents[2]


def _draws(generator, n=5):
    return torch.rand(n, generator=generator).tolist()


def test_the_streams_keep_the_derivations_published_runs_were_made_with():
    assert _draws(randomness.epoch_order_generator(7, 3)) == _draws(torch.Generator().manual_seed(7 * 1_000_003 + 3))
    assert _draws(randomness.training_generator(7, "cpu")) == _draws(torch.Generator().manual_seed(7))
    digest = int.from_bytes(hashlib.sha256(b"7:fid-noise").digest()[:6], "little")
    assert _draws(randomness.generator(7, "fid-noise")) == _draws(torch.Generator().manual_seed(digest))
    assert subset_seed("mnist", "test") == int.from_bytes(hashlib.sha256(b"mnist:test:subset").digest()[:6], "little")
    assert _draws(randomness.sample_grid_generator()) == _draws(torch.Generator().manual_seed(0))
    randomness.seed_model_init(11)
    first = torch.rand(3).tolist()
    torch.manual_seed(11)
    assert first == torch.rand(3).tolist()


def test_streams_of_different_purposes_or_seeds_differ():
    draws = {(s, p): tuple(_draws(randomness.generator(s, p))) for s in (0, 1) for p in ("a", "b")}
    assert len(set(draws.values())) == 4


def test_no_other_module_seeds_torch_itself():
    """Seeding lives in bench/randomness.py; a module that seeds torch on its own is a stream
    nobody documented (benchmarks of throughput and the naive reference augmenter excepted)."""
    allowed = {"bench/randomness.py", "bench/augment_reference.py"}
    offenders = []
    for path in sorted([*ROOT.glob("bench/**/*.py"), *ROOT.glob("metrics/*.py"), *ROOT.glob("models/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed or rel.startswith("bench/perf/"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"manual_seed\(|random\.seed\(", line) and "randomness." not in line:
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)

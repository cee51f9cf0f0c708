"""Which seeds a command runs: `--seeds` lists them (0,5,7 and ranges such as 0-2), `--n-seeds N`
counts them (seeds 0 to N-1)."""

from __future__ import annotations

from typing import Optional

from bench.errors import BenchError

MAX_SEED = 2**32 - 1  # epoch orders are seeded with seed * 1_000_003 + epoch (bench.randomness), which must fit 64 bits
MAX_SEED_COUNT = 1000


SEEDS_HELP = (
    "a seed, a comma-separated list and ranges such as 0,5,7 or 0-2 (seeds 0, 1 and 2) or 0-2,7; "
    f"seeds are integers from 0 to {MAX_SEED}, each named once. --n-seeds N runs seeds 0 to N-1."
)


def parse_seeds(text: str) -> list:
    """'4' -> [4]; '0,5,7' -> [0, 5, 7]; '0-2' -> [0, 1, 2]; '0-2,7' -> [0, 1, 2, 7]. A trailing
    comma is allowed ('4,'); a seed named twice is an error."""
    seeds = []
    try:
        parts = [p.strip() for p in text.split(",")]
        if parts and parts[-1] == "":
            parts = parts[:-1]  # '4,' (the old way of writing one seed)
        if not parts:
            raise ValueError
        for part in parts:
            low, dash, high = part.partition("-")
            if dash and low.strip():  # a range (a leading '-' is a negative number, refused below)
                first, last = int(low), int(high)
                if last < first or last - first >= MAX_SEED_COUNT:
                    raise ValueError
                seeds += range(first, last + 1)
            else:
                seeds.append(int(part))
    except ValueError:
        raise BenchError(f"--seeds {text!r}: give {SEEDS_HELP}") from None
    if any(not 0 <= s <= MAX_SEED for s in seeds):
        raise BenchError(f"--seeds {text!r}: seeds are integers from 0 to {MAX_SEED}.")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise BenchError(f"--seeds {text!r} names seed{'s' * (len(repeated) > 1)} {', '.join(map(str, repeated))} more than once; name each seed once.")
    if len(seeds) > MAX_SEED_COUNT:
        raise BenchError(f"--seeds {text!r}: at most {MAX_SEED_COUNT} seeds in one invocation.")
    return seeds


def seed_list(seeds: Optional[str], n_seeds: Optional[int]) -> list:
    """The seeds of `bench run`: --seeds (a list) or --n-seeds (a count), not both; default seed 0."""
    if seeds is not None and n_seeds is not None:
        raise BenchError(f"--seeds {seeds!r} and --n-seeds {n_seeds}: give one of them (--seeds lists the seeds, --n-seeds N means seeds 0 to N-1).")
    if n_seeds is not None:
        if not 1 <= n_seeds <= MAX_SEED_COUNT:
            raise BenchError(f"--n-seeds {n_seeds}: give a count from 1 to {MAX_SEED_COUNT} (3 means seeds 0, 1 and 2).")
        return list(range(n_seeds))
    return parse_seeds("0" if seeds is None else seeds)

"""`leaderboards/<pair>/results.json`: the leaderboard in a format other tools read.

One entry per (model, budget), in the leaderboard's order: the model, budget and role (competitor,
reference, oracle), the finished seeds, whether the model collapsed, the code versions and
devices of its runs, and per metric the mean, the 95% confidence half-width (Student t over
seeds; null for one seed), which way is better, its label, and the paper's number where the
AugIntAE paper reports one for this pair (with its table). Non-finite numbers are null. Keys are
sorted and the file ends with a newline, so the same runs give the same bytes.
"""

from __future__ import annotations

import json
import math

from bench.publish.columns import direction, label

FORMAT = 1


def _number(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _split(text) -> list:
    return [t for t in str(text).split(";") if t] if isinstance(text, str) else []


def results(board, published: dict) -> dict:
    entries = []
    for row in board.table.to_dict("records"):
        metrics = {}
        for key in board.metrics:
            mean = _number(row.get(f"{key}_mean"))
            if mean is None:
                continue
            paper = published.get((row["model"], key))
            metrics[key] = {
                "mean": mean,
                "ci95": _number(row.get(f"{key}_ci95")),
                "better": direction(key),
                "label": label(key),
                "paper": None if paper is None else {"value": paper.value, "source": paper.source},
            }
        entries.append({
            "model": row["model"], "budget": row["budget"], "role": row["role"], "n_seeds": int(row["n_seeds"]),
            "seeds": [int(s) for s in _split(row.get("seeds"))], "collapsed": bool(row.get("collapsed")),
            "code_versions": _split(row.get("code_versions")), "devices": _split(row.get("devices")), "metrics": metrics,
        })  # fmt: skip
    return {"format": FORMAT, "pair": board.pair, "headline": board.headline, "entries": entries}


def results_text(board, published: dict) -> str:
    return json.dumps(results(board, published), indent=1, sort_keys=True, ensure_ascii=False) + "\n"

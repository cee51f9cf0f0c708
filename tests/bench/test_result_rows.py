import multiprocessing as mp

import pandas as pd

from bench.result_rows import add_rows


def _row(model, seed, value, budget="smoke", config_hash="abc"):
    return {"pair": "pole", "model": model, "seed": seed, "budget": budget, "status": "finished", "recon_l2_novel": value, "config_hash": config_hash}


def test_rows_are_added_replaced_by_key_and_budgets_kept_apart(tmp_path):
    path = tmp_path / "pole.csv"
    add_rows(path, [_row("ae", 0, 1.0), _row("ae", 1, 2.0)])
    add_rows(path, [_row("ae", 0, 1.5), _row("ae", 0, 9.0, budget="quick")])
    table = pd.read_csv(path)
    assert len(table) == 3
    smoke0 = table[(table.budget == "smoke") & (table.seed == 0)]
    assert smoke0.recon_l2_novel.tolist() == [1.5]
    assert list(table.columns[:5]) == ["pair", "model", "seed", "budget", "status"]
    assert not list(tmp_path.glob("*.tmp"))


def _writer(path, worker):
    for i in range(15):
        add_rows(path, [_row(f"m{worker}", i, float(i))])


def test_concurrent_writers_lose_no_rows(tmp_path):
    path = tmp_path / "pair.csv"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert len(pd.read_csv(path)) == 45

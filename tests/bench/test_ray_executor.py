"""`bench run --executor ray`: tasks planned per run or lane group, finished runs skipped, rows
written by the driver only, and (on a real local Ray instance with one logical GPU) a sweep
packed at half a GPU per run whose killed worker resumes from its checkpoint."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

import bench.runner
from bench import ray_executor
from bench.errors import BenchError
from bench.ray_executor import RayOptions, groups
from bench.runner import run_benchmark
from models import registry
from test_runner import options


class FakeRay:
    """Ray's API as the executor uses it, in this process: a task runs when its result is asked for."""

    def __init__(self, results=None):
        self.submitted, self.cancelled, self.results = [], [], results

    def is_initialized(self):
        return True

    def remote(self, fn):
        fake = self

        class Task:
            def options(self, **resources):
                class Bound:
                    def remote(self, *args):
                        ref = len(fake.submitted)
                        fake.submitted.append((resources, args))
                        return ref

                return Bound()

        fake.fn = fn
        return Task()

    def wait(self, refs, num_returns=1):
        return sorted(refs)[:num_returns], sorted(refs)[num_returns:]

    def get(self, ref):
        resources, args = self.submitted[ref]
        return self.results(args[2]) if self.results else self.fn(*args)

    def cancel(self, ref, force=False):
        self.cancelled.append(ref)


def _ray_opts(tmp_path, out, **kw):
    return options(tmp_path, out, executor="ray", ray=RayOptions(**kw.pop("ray", {})), **kw)


def test_tasks_are_runs_or_lane_groups_with_their_gpu_share():
    assert groups([0, 1, 2], 2) == [[0, 1], [2]] and groups([4, 7], 1) == [[4], [7]]
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert ray_executor._gpus(RayOptions(), cpu, 1) == 0 and ray_executor._gpus(RayOptions(), cuda, 1) == 1
    assert ray_executor._gpus(RayOptions(gpus_per_run=0.25), cuda, 2) == 0.5
    assert ray_executor._gpus(RayOptions(gpus_per_run=1), cuda, 3) == 1  # one process uses one device


def test_the_driver_skips_finished_runs_and_alone_writes_the_rows(tmp_path, monkeypatch):
    run_benchmark(options(tmp_path, "out", models=["pixel-fade"], seeds=[0]), echo=lambda m: None)
    fake = FakeRay()
    monkeypatch.setattr(ray_executor, "require_ray", lambda: fake)
    in_worker = []
    task, writer = ray_executor.run_task, bench.runner.add_rows

    def worker(*args):
        in_worker.append(True)
        try:
            return task(*args)
        finally:
            in_worker.pop()

    def driver_only(path, rows):
        assert not in_worker, "a worker wrote leaderboard rows"
        writer(path, rows)

    monkeypatch.setattr(ray_executor, "run_task", worker)
    monkeypatch.setattr(bench.runner, "add_rows", driver_only)
    opts = _ray_opts(tmp_path, "out", models=["pixel-fade"], seeds=[0, 1, 2], lanes=2, ray={"gpus_per_run": 0.5})
    rows = run_benchmark(opts, echo=lambda m: None)
    assert [(r["model"], r["seed"]) for r in rows] == [("pixel-fade", 0), ("pixel-fade", 1), ("pixel-fade", 2)]
    assert len(fake.submitted) == 1  # seed 0 was finished; seeds 1 and 2 form one lane group (2 x 0.5 GPU)
    resources, args = fake.submitted[0]
    assert args[2] == [("pixel-fade", 1), ("pixel-fade", 2)] and resources["num_gpus"] == 1.0 and resources["max_retries"] == 3
    assert args[1].out_dir.is_absolute() and args[1].progress is False
    board = (tmp_path / "lb" / "pole.csv").read_text().strip().splitlines()
    assert len(board) == 1 + 3  # header and one row per run (the reused run's row is not doubled)


def test_a_diverged_run_with_on_divergence_stop_cancels_the_pending_tasks(tmp_path, monkeypatch):
    def results(runs):
        name, seed = runs[0]
        return [{"model": name, "seed": seed, "status": "diverged", "steps": 3, "run_dir": str(tmp_path)}]

    fake = FakeRay(results)
    monkeypatch.setattr(ray_executor, "require_ray", lambda: fake)
    monkeypatch.setattr(bench.runner, "add_rows", lambda path, rows: None)  # the rows here are sketches
    opts = _ray_opts(tmp_path, "out", models=["pixel-fade"], seeds=[0, 1, 2], on_divergence="stop")
    with pytest.raises(BenchError, match="diverged at step 3"):
        run_benchmark(opts, echo=lambda m: None)
    assert fake.cancelled == [1, 2]


def test_asking_for_ray_without_it_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(BenchError, match=r'pip install -e "\.\[ray\]"'):
        ray_executor.require_ray()


DYING_PLUGIN = """
import os
from pathlib import Path

from models.ae import AE
from models.registry import register

MARKER = Path({marker!r})
STARTS = MARKER.with_name("first-steps")  # the first step each process trains


@register("dying-ae", family="autoencoder", description="AE whose worker dies once at step 7.", paper="-")
class DyingAE(AE):
    def train_step(self, batch, step):
        if not getattr(self, "noted", False):
            self.noted = True
            with STARTS.open("a") as fh:
                print(step, file=fh)
        if step == 7 and not MARKER.exists():  # after the step-5 checkpoint (pole: 12 steps at smoke), once
            MARKER.touch()
            os._exit(1)  # the worker process dies, as on a lost node
        return super().train_step(batch, step)
"""


def _metrics(out, model):
    record = json.loads((out / "pole" / model / "seed0" / "metrics.json").read_text())
    return {k: v["value"] for k, v in record["metrics"].items()}, [h["losses"] for h in record["loss_history"]]


def test_a_ray_sweep_at_half_a_gpu_per_run_resumes_a_killed_worker_and_matches_local_runs(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    marker = tmp_path / "died-once"
    plugin = tmp_path / "dying.py"
    plugin.write_text(textwrap.dedent(DYING_PLUGIN.format(marker=str(marker))))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the plug-in stays in this test
    registry.load_plugins([str(plugin)])
    marker.touch()  # the local reference run does not die
    local = options(tmp_path, "local", models=["ae", "dying-ae"], seeds=[0], plugins=(str(plugin),))
    run_benchmark(local, echo=lambda m: None)
    marker.unlink()

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)  # one logical GPU on a CPU machine
    try:
        sweep = _ray_opts(tmp_path, "ray", models=["ae", "dying-ae"], seeds=[0], plugins=(str(plugin),), leaderboard_dir=tmp_path / "lb-ray", ray={"gpus_per_run": 0.5})
        rows = run_benchmark(sweep, echo=lambda m: None)
    finally:
        ray.shutdown()
    assert marker.exists(), "the worker was not killed"
    assert (tmp_path / "first-steps").read_text().split() == ["0", "0", "5"]  # local; ray; ray's retry resumed
    assert sorted(r["model"] for r in rows) == ["ae", "dying-ae"] and all(r["status"] == "finished" for r in rows)
    assert len((tmp_path / "lb-ray" / "pole.csv").read_text().strip().splitlines()) == 3
    for model in ("ae", "dying-ae"):
        assert _metrics(tmp_path / "ray", model) == _metrics(tmp_path / "local", model)


def test_the_slurm_script_parses_and_hands_its_arguments_to_a_ray_sweep():
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "slurm-ray.sbatch"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    assert 'bench run --executor ray --address "$head_ip:$port" "$@"' in text and "ray start --head" in text


def test_a_task_waits_for_a_run_directory_whose_lock_is_still_held(tmp_path, monkeypatch):
    import threading
    import time

    from bench.rundir import lock_run_dir, run_dir_for

    opts = ray_executor._absolute(options(tmp_path, "out", models=["pixel-fade"], seeds=[0]))
    run_dir = run_dir_for(opts.out_dir, "pole", "pixel-fade", 0)
    held, released = threading.Event(), threading.Event()

    def hold():  # another process's lock, as a dead node's may stay for a while
        with lock_run_dir(run_dir):
            held.set()
            time.sleep(1.0)
        released.set()

    monkeypatch.setattr(ray_executor, "LOCK_POLL_SECONDS", 0.2)
    monkeypatch.chdir(tmp_path)  # a task changes to the driver's folder: restored afterwards
    threads = torch.get_num_threads()
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    rows = ray_executor.run_task(bench.runner.prepare_sweep, opts, [("pixel-fade", 0)], str(tmp_path), 30.0, threads)
    holder.join()
    assert released.is_set() and rows[0]["status"] == "finished"
    with pytest.raises(BenchError, match="in use by another"):
        with lock_run_dir(run_dir):
            ray_executor.run_task(bench.runner.prepare_sweep, opts, [("pixel-fade", 0)], str(tmp_path), 0.0, threads)  # no time to wait: the error


def test_gpu_shares_that_cannot_work_are_refused(tmp_path, monkeypatch):
    from bench import api

    with pytest.raises(BenchError, match="--gpus-per-run 0 with --device cuda"):
        api.run(models="ae", pair="pole", executor="ray", gpus_per_run=0, device="cuda", out=tmp_path)
    with pytest.raises(BenchError, match="Unknown precision 'fp16'"):
        api.run(models="ae", pair="pole", precision="fp16", out=tmp_path)
    fake = FakeRay()
    fake.cluster_resources = lambda: {"CPU": 2.0}  # no GPU in the cluster
    monkeypatch.setattr(ray_executor, "require_ray", lambda: fake)
    with pytest.raises(BenchError, match="the Ray cluster has 0"):
        run_benchmark(_ray_opts(tmp_path, "out", models=["pixel-fade"], ray={"gpus_per_run": 0.5}), echo=lambda m: None)
    assert not fake.submitted

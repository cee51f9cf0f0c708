"""Reliability, each claim proven as a user meets it: runs killed by SIGKILL resume to the same
metrics, diverged runs are recorded and `--on-divergence` decides what happens next, a run
directory is trained by one process at a time, the same seed gives the same numbers, and every
bad input or failing write exits 2 with one paragraph and leaves nothing half-written.
Property-based tests (hypothesis) fuzz the `--set` parser and the CLI's option values."""

import dataclasses
import errno
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench import atomic
from bench.budgets import BUDGETS
from bench.data import get_pair
from bench.cli import cli
from bench.seeds import MAX_SEED, MAX_SEED_COUNT
from bench.seeds import parse_seeds as _parse_seeds
from bench.errors import BenchError
from bench.result_rows import add_rows
from bench import provenance
from bench.provenance import code_version, device_description, library_versions
from bench.rundir import lock_run_dir
from bench.runner import RunOptions, run_benchmark
from models import registry
from models.config import ModelConfig, _base_type, apply_overrides, hp, split_overrides

RECON = ("recon_l2_train", "recon_l2_novel")


def bench(*args, cwd=None, env=None, popen=False, timeout=600):
    """`bench ...` as a user types it, in a fresh process."""
    full_env = {**os.environ, **(env or {})}
    cmd = [sys.executable, "-m", "bench.cli", *map(str, args)]
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=full_env)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout)


def invoke(*args, **kw):
    return CliRunner().invoke(cli, [str(a) for a in args], **kw)


def assert_clean_exit_2(result, message):
    """Exit 2, 'Error: <message>' as one paragraph, no traceback (CliRunner result)."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def files_under(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- crash safety: SIGKILL mid-training, restart, same metrics ------------------------------------
def test_sigkill_mid_training_then_the_same_command_resumes_to_the_uninterrupted_metrics(tmp_path):
    args = ["run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--seeds", "0,", "--metrics", "recon", "--no-progress", "--device", "cpu"]
    straight = bench(*args, "--out", tmp_path / "straight", "--leaderboard-dir", tmp_path / "lb-straight", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr

    out, lb = tmp_path / "killed", tmp_path / "lb-killed"
    run_dir = out / "lines" / "ae" / "seed0"
    proc = bench(*args, "--out", out, "--leaderboard-dir", lb, cwd=tmp_path, popen=True)
    try:
        deadline = time.monotonic() + 300
        while not (run_dir / "checkpoint.pt").exists():  # the first checkpoint is written at step 5 of 12
            assert proc.poll() is None, "the run ended before its first checkpoint was seen"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(random.uniform(0.0, 0.3))  # somewhere in the next steps (or a checkpoint write)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "model.pt").exists()
    assert not (lb / "lines.csv").exists()
    checkpoint_step = torch.load(run_dir / "checkpoint.pt", weights_only=True)["step"]
    assert checkpoint_step in (5, 10)  # at most one checkpoint interval is lost

    resumed = bench(*args, "--out", out, "--leaderboard-dir", lb, cwd=tmp_path)  # the lock died with the process
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from step {checkpoint_step} of 12" in resumed.stdout

    a = json.loads((tmp_path / "straight" / "lines" / "ae" / "seed0" / "metrics.json").read_text())
    b = json.loads((run_dir / "metrics.json").read_text())
    assert b["status"] == "finished" and b["steps"] == a["steps"] == 12
    for key in RECON:  # value by value: on a CPU a resumed run is the uninterrupted run
        assert b["metrics"][key]["value"] == a["metrics"][key]["value"]
        assert b["metrics"][key]["protocol"] == a["metrics"][key]["protocol"]
    assert b["loss_history"] == a["loss_history"]
    assert not (run_dir / "checkpoint.pt").exists()
    table = pd.read_csv(lb / "lines.csv")
    assert len(table) == 1 and table.status[0] == "finished"


# --- divergence ---------------------------------------------------------------------------------
NAN_PLUGIN = '''
import torch
from models.ae import AE
from models.registry import register

@register("nan-ae", family="autoencoder", description="test: NaN loss from step 5 on", paper="none")
class NaNAE(AE):
    def train_step(self, batch, step):
        if step >= 5:
            return {"recon": torch.tensor(float("nan"))}
        return super().train_step(batch, step)
'''


def _divergence_run(tmp_path, *extra):
    (tmp_path / "nan_plugin.py").write_text(NAN_PLUGIN)
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    args = ["run", "--models", "nan-ae,pixel-fade", "--plugin", "nan_plugin", "--pair", "lines", "--budget", "smoke",
            "--metrics", "recon", "--no-progress", "--device", "cpu", "--out", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb", *extra]
    return bench(*args, cwd=tmp_path, env=env), args, env


def _assert_recorded_as_diverged(tmp_path):
    record = json.loads((tmp_path / "runs" / "lines" / "nan-ae" / "seed0" / "metrics.json").read_text())
    assert record["status"] == "diverged" and record["diverged_at_step"] == 10  # losses are read every 5 steps
    assert math.isnan(record["losses"]["recon"]) and math.isfinite(record["last_finite_losses"]["recon"])
    table = pd.read_csv(tmp_path / "lb" / "lines.csv")
    row = table[table.model == "nan-ae"].iloc[0]
    assert row.status == "diverged" and row.steps == 10
    assert json.loads(row.last_finite_losses) == record["last_finite_losses"]
    return record, table


def test_on_divergence_skip_records_the_diverged_run_and_runs_the_rest(tmp_path):
    result, args, env = _divergence_run(tmp_path)  # skip is the default
    assert result.returncode == 0, result.stderr
    assert "nan-ae seed 0: training diverged at step 10: non-finite recon=nan; recorded as diverged" in result.stdout
    _, table = _assert_recorded_as_diverged(tmp_path)
    assert sorted(zip(table.model, table.status)) == [("nan-ae", "diverged"), ("pixel-fade", "finished")]

    # The same command again reuses the recorded outcome instead of diverging again.
    metrics = tmp_path / "runs" / "lines" / "nan-ae" / "seed0" / "metrics.json"
    before = metrics.read_bytes()
    again = bench(*args, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "nan-ae seed 0: diverged run found" in again.stdout and metrics.read_bytes() == before
    assert len(pd.read_csv(tmp_path / "lb" / "lines.csv")) == 2


def test_on_divergence_stop_records_the_run_then_exits_2_without_running_the_rest(tmp_path):
    result, _, _ = _divergence_run(tmp_path, "--on-divergence", "stop")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("Error: nan-ae seed 0 diverged at step 10") and "Traceback" not in result.stderr
    assert "Not run: pixel-fade seed 0." in result.stderr and "--on-divergence skip" in result.stderr
    _, table = _assert_recorded_as_diverged(tmp_path)
    assert list(table.model) == ["nan-ae"]
    assert not (tmp_path / "runs" / "lines" / "pixel-fade").exists()


# --- one process per run directory ------------------------------------------------------------------
def test_a_second_process_on_a_busy_run_directory_fails_at_once_naming_the_holder(tmp_path):
    run_dir = tmp_path / "runs" / "lines" / "ae" / "seed0"
    with lock_run_dir(run_dir):  # this test process is "the other bench run"
        result = bench("run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--no-progress", "--device", "cpu",
                       "--out", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb", cwd=tmp_path, timeout=180)  # fails, never waits
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Error: {run_dir} is in use by another `bench run` or `bench evaluate` (process {os.getpid()} on ")
    assert "Traceback" not in result.stderr
    assert files_under(run_dir) == [".lock"]  # no config.json, metrics.json or checkpoint
    assert not (tmp_path / "lb" / "lines.csv").exists()


def test_run_directory_lock_is_exclusive_and_released(tmp_path):
    outcome = []

    def second_writer():  # another open file description: flock treats it as another holder
        try:
            with lock_run_dir(tmp_path / "run"):
                outcome.append("acquired")
        except BenchError as exc:
            outcome.append(str(exc))

    with lock_run_dir(tmp_path / "run"):
        thread = threading.Thread(target=second_writer, daemon=True)
        thread.start()
        thread.join(60)
        assert not thread.is_alive(), "the second writer waited instead of failing at once"
    assert len(outcome) == 1 and f"in use by another `bench run` or `bench evaluate` (process {os.getpid()} on " in outcome[0]
    with lock_run_dir(tmp_path / "run"):  # free again once the holder left
        pass


# --- determinism and provenance ------------------------------------------------------------------------
def _tiny(tmp_path, out, seed):
    budget = BUDGETS["smoke"].with_settings(large_images=(4, 2), max_train=64, eval_images=32, log_every=1)
    return RunOptions(models=["ae"], pair=get_pair("lines"), budget=budget, seeds=[seed], device=torch.device("cpu"),
                      data_dir=tmp_path / "data", out_dir=tmp_path / out, leaderboard_dir=tmp_path / "lb",
                      progress=False, metrics=["recon"])


def test_same_seed_gives_identical_metrics_and_the_run_records_its_provenance(tmp_path):
    first = run_benchmark(_tiny(tmp_path, "a", seed=0), echo=lambda m: None)[0]
    second = run_benchmark(_tiny(tmp_path, "b", seed=0), echo=lambda m: None)[0]
    other = run_benchmark(_tiny(tmp_path, "c", seed=1), echo=lambda m: None)[0]
    ma, mb = (json.loads((Path(r["run_dir"]) / "metrics.json").read_text()) for r in (first, second))
    assert {k: ma["metrics"][k]["value"] for k in RECON} == {k: mb["metrics"][k]["value"] for k in RECON}
    assert ma["loss_history"] == mb["loss_history"] and ma["loss_history"]
    assert other["recon_l2_novel"] != first["recon_l2_novel"]  # the seed matters, so equality above means something

    config = json.loads((Path(first["run_dir"]) / "config.json").read_text())
    assert config["seed"] == 0 and json.loads((Path(other["run_dir"]) / "config.json").read_text())["seed"] == 1
    assert config["versions"] == library_versions() and {"python", "torch", "torchvision", "numpy"} <= set(config["versions"])
    assert config["versions"]["torch"] == torch.__version__
    assert config["code_version"] == code_version() and config["code_version"]
    assert config["config_hash"] == ma["config_hash"] == first["config_hash"]
    assert first["code_version"] == config["code_version"]  # and in the leaderboard row
    assert config["device"] == device_description(torch.device("cpu"))


def test_a_cpu_run_records_the_processor_model_beside_its_thread_count(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n")
    monkeypatch.setattr(provenance, "CPUINFO", cpuinfo)
    assert device_description(torch.device("cpu")) == f"cpu:{torch.get_num_threads()} threads (AMD EPYC 7B13)"
    monkeypatch.setattr(provenance, "CPUINFO", tmp_path / "absent")  # not Linux: still names something
    assert device_description(torch.device("cpu")).endswith(f"({provenance.platform.processor() or provenance.platform.machine() or 'unknown CPU'})")


# --- bad input: exit 2, one paragraph, nothing half-written -----------------------------------------
@pytest.mark.parametrize(
    "item, message",
    [
        ("lr=-1", "out of range"),
        ("beta1=1.5", "out of range"),
        ("latent_dim=2.5", "takes an integer"),
        ("latent_dim=0", "out of range"),
        ("lr=1e999", "finite number"),
        ("train_on=y", "accepted values are C, x"),
        ("ae.nope=1", "has no hyperparameter 'nope'"),
        ("vae.lr=1", "not one of the selected models"),
        ("lr", "expected key=value"),
    ],
)
def test_malformed_set_exits_2_before_anything_is_written(tmp_path, item, message):
    result = invoke("run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--set", item,
                    "--out", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb")
    assert_clean_exit_2(result, message)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "lb").exists()


def test_corrupt_checkpoint_exits_2_naming_the_file_and_writes_nothing(tmp_path):
    run_dir = tmp_path / "runs" / "lines" / "ae" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint.pt").write_bytes(b"\x80\x02garbage, not a torch file")
    result = invoke("run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--metrics", "recon", "--no-progress",
                    "--out", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb")
    assert_clean_exit_2(result, f"Cannot resume from {run_dir / 'checkpoint.pt'}: the checkpoint is corrupt or incompatible")
    assert "--force" in result.stderr
    assert files_under(run_dir) == [".lock", "checkpoint.pt"]  # no config.json, no metrics.json
    assert not (tmp_path / "lb" / "lines.csv").exists()


def test_corrupt_metrics_json_exits_2_and_is_left_alone(tmp_path):
    run_dir = tmp_path / "runs" / "lines" / "pixel-fade" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text('{"status": "fini')
    result = invoke("run", "--models", "pixel-fade", "--pair", "lines", "--budget", "smoke", "--metrics", "recon",
                    "--out", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb")
    assert_clean_exit_2(result, f"Cannot read {run_dir / 'metrics.json'}")
    assert (run_dir / "metrics.json").read_text() == '{"status": "fini'


@pytest.mark.parametrize("option", ["--out", "--leaderboard-dir"])
def test_an_output_folder_that_cannot_be_written_exits_2_before_any_run(tmp_path, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("I am a regular file")
    # An existing file as the folder is refused by click; a folder below a file by the suite.
    as_file = invoke("run", "--models", "pixel-fade", "--pair", "lines", "--budget", "smoke", option, blocker)
    assert as_file.exit_code == 2 and "is a file" in as_file.stderr and "Traceback" not in as_file.output
    other = {"--out": "--leaderboard-dir", "--leaderboard-dir": "--out"}[option]
    result = invoke("run", "--models", "pixel-fade", "--pair", "lines", "--budget", "smoke", "--metrics", "recon",
                    option, blocker / "sub", other, tmp_path / "other")
    assert_clean_exit_2(result, f"The {option} folder {blocker / 'sub'} cannot be written")
    assert files_under(tmp_path / "other") == []  # no run directory, no leaderboard row
    assert blocker.read_text() == "I am a regular file"


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("write", ["json", "torch", "leaderboard"])
def test_running_out_of_disk_keeps_the_previous_file_and_says_so(tmp_path, monkeypatch, write):
    path = tmp_path / {"json": "metrics.json", "torch": "checkpoint.pt", "leaderboard": "pole.csv"}[write]
    if write == "json":
        atomic.write_json(path, {"v": 1})
        target, attempt = "pathlib.Path.write_text", lambda: atomic.write_json(path, {"v": 2})
    elif write == "torch":
        atomic.torch_save({"v": 1}, path)
        target, attempt = "torch.save", lambda: atomic.torch_save({"v": 2}, path)
    else:
        add_rows(path, [{"pair": "pole", "model": "ae", "seed": 0, "budget": "smoke", "status": "finished", "config_hash": "h"}])
        target, attempt = "pandas.DataFrame.to_csv", lambda: add_rows(path, [{"pair": "pole", "model": "ae", "seed": 1, "budget": "smoke", "status": "finished", "config_hash": "h"}])
    before = path.read_bytes()
    monkeypatch.setattr(target, _enospc)
    with pytest.raises(BenchError) as err:
        attempt()
    assert f"Cannot write {path}: No space left on device. Nothing was changed there." in str(err.value)
    assert "Free some disk space" in str(err.value)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_running_out_of_disk_at_fsync_during_bench_run_exits_2_with_nothing_half_written(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _enospc)  # the data reached the page cache, the disk refused it
    result = invoke("run", "--models", "pixel-fade", "--pair", "lines", "--budget", "smoke", "--metrics", "recon",
                    "--out", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb")
    run_dir = tmp_path / "runs" / "lines" / "pixel-fade" / "seed0"
    assert_clean_exit_2(result, f"Cannot write {run_dir / 'config.json'}: No space left on device")
    assert files_under(tmp_path / "runs") == ["lines/pixel-fade/seed0/.lock"] and files_under(tmp_path / "lb") == []


@pytest.mark.parametrize(
    "source, message",
    [
        ("@register('ae', family='x', description='d', paper='p')\nclass Again(AE):\n    pass\n", "'ae' from twice_plugin: that name is already taken by models.ae.AE"),
        ("@register('mine', family='x', description='d', paper='p')\nclass A(AE):\n    pass\n"
         "@register('mine', family='x', description='d', paper='p')\nclass B(AE):\n    pass\n", "'mine' from twice_plugin: that name is already taken by twice_plugin.A"),
    ],
)
def test_a_plugin_that_registers_a_taken_name_exits_2(tmp_path, monkeypatch, source, message):
    (tmp_path / "twice_plugin.py").write_text("from models.ae import AE\nfrom models.registry import register\n" + source)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.load_builtin()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # what the plug-in registers goes away after
    result = invoke("models", "--plugin", "twice_plugin")
    assert_clean_exit_2(result, f"Cannot register model {message}")
    assert "twice_plugin" not in sys.modules


# --- property-based: the --set parser ------------------------------------------------------------------
@dataclass
class _AllKinds(ModelConfig):
    lr: float = hp(1e-3, min=0.0)
    ratio: float = hp(0.5, min=0.0, max=1.0)
    anything: float = hp(0.0)
    steps: int = hp(5, min=1, max=10)
    count: int = hp(3, min=0)
    flag: bool = hp(False)
    latent_dim: Optional[int] = hp(None, min=1)
    mode: str = hp("C", choices=("C", "x"))


def _fields(config_cls):
    hints = typing.get_type_hints(config_cls)
    return [(config_cls, f.name, *_base_type(hints[f.name]), f.metadata) for f in dataclasses.fields(config_cls)]


FIELDS = _fields(_AllKinds) + [f for cls in registry.all_models() for f in _fields(cls.Config)]


def _is_valid(value, base, optional, meta) -> bool:
    if value is None:
        return optional
    if base is float:
        ok = isinstance(value, float) and math.isfinite(value)
    elif base is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, base)
    lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices")
    return ok and (lo is None or value >= lo) and (hi is None or value <= hi) and (choices is None or value in choices)


_TEXT = st.one_of(
    st.text(max_size=30),
    st.integers().map(str),
    st.floats().map(repr),
    st.sampled_from(["none", "None", "null", "auto", "true", "off", "nan", "-inf", "1e999", "1_000", " 7 ", "0x10", "", "C", "x", "٣"]),
)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS), text=_TEXT)
def test_set_parser_gives_a_valid_value_or_a_bench_error_never_anything_else(field, text):
    config_cls, key, base, optional, meta = field
    try:
        config = apply_overrides(config_cls, [f"{key}={text}"])
    except BenchError as exc:
        assert key in str(exc)  # the message names what was wrong
        return
    assert _is_valid(getattr(config, key), base, optional, meta), (key, text, getattr(config, key))


def _valid_values(base, optional, meta):
    lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices")
    if choices is not None:
        values = st.sampled_from(choices)
    elif base is bool:
        values = st.booleans()
    elif base is int:
        values = st.integers(min_value=lo, max_value=hi)
    else:
        values = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    return st.one_of(st.none(), values) if optional else values


@st.composite
def _field_and_valid_value(draw):
    field = draw(st.sampled_from(FIELDS))
    return field, draw(_valid_values(*field[2:]))


@settings(max_examples=300, deadline=None)
@given(_field_and_valid_value())
def test_set_parser_round_trips_every_valid_value(drawn):
    (config_cls, key, *_), value = drawn
    text = "none" if value is None else repr(value) if isinstance(value, float) else str(value)
    parsed = getattr(apply_overrides(config_cls, [f"{key}={text}"]), key)
    assert parsed == value and type(parsed) is type(value)


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.one_of(st.text(max_size=20), st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["lr", "ae.lr", "vae.beta", "x.y.z", ""]), _TEXT)), max_size=3))
def test_set_routing_then_parsing_gives_valid_configs_or_a_bench_error(items):
    names = ["ae", "vae", "pixel-fade"]
    classes = {n: registry.get(n).Config for n in names}
    try:  # what `bench run` does with its --set items
        configs = {n: apply_overrides(classes[n], values, model_name=n) for n, values in split_overrides(items, names, classes).items()}
    except BenchError:
        return
    for name, config in configs.items():
        for config_cls, key, base, optional, meta in _fields(classes[name]):
            assert _is_valid(getattr(config, key), base, optional, meta), (name, key, items)


# --- property-based: the CLI's option values -------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.text(max_size=20),
    st.integers().map(str),
    st.lists(st.integers(min_value=-5, max_value=2**70), max_size=5).map(lambda xs: ",".join(map(str, xs))),
))
def test_seeds_parser_gives_usable_seeds_or_a_bench_error(text):
    try:
        seeds = _parse_seeds(text)
    except BenchError as exc:
        assert str(exc).startswith("--seeds ")
        return
    assert 1 <= len(seeds) <= MAX_SEED_COUNT
    assert len(set(seeds)) == len(seeds) and all(type(s) is int and 0 <= s <= MAX_SEED for s in seeds)
    torch.Generator().manual_seed(max(seeds) * 1_000_003 + 1000)  # what the trainer seeds with must work


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=MAX_SEED), min_size=1, max_size=6))
def test_seed_lists_round_trip(seeds):
    unique = list(dict.fromkeys(seeds))
    assert _parse_seeds(",".join(map(str, unique))) == unique == _parse_seeds(",".join(map(str, unique)) + ",")
    if len(unique) < len(seeds):  # a seed named twice is an error, not silently one run
        with pytest.raises(BenchError, match="more than once"):
            _parse_seeds(",".join(map(str, seeds)))


def test_seeds_read_as_people_expect():
    # --seeds lists seeds (4 means seed 4, as 4, did); ranges; --n-seeds is the count
    from bench.seeds import seed_list as _seed_list

    assert _parse_seeds("0") == [0] and _parse_seeds("4") == [4] == _parse_seeds("4,")
    assert _parse_seeds("0-2") == [0, 1, 2] and _parse_seeds("0-2,7") == [0, 1, 2, 7] and _parse_seeds(" 5 - 6 ") == [5, 6]
    assert _seed_list(None, None) == [0] and _seed_list(None, 3) == [0, 1, 2] and _seed_list("1,2", None) == [1, 2]
    for bad, message in (("0,0", "more than once"), ("0-2,1", "more than once"), ("2-0", "0-2"), ("-1", "from 0"), ("", "0-2")):
        with pytest.raises(BenchError, match=message):
            _parse_seeds(bad)
    with pytest.raises(BenchError, match="give one of them"):
        _seed_list("1", 2)
    with pytest.raises(BenchError, match="count from 1"):
        _seed_list(None, 0)


_VALID_RUN = {"--models": "ae", "--pair": "lines", "--budget": "smoke", "--seeds": "0", "--device": "cpu", "--metrics": "recon", "--set": "lr=0.001", "--on-divergence": "skip"}


class _WouldLoadData(Exception):
    """Raised where `bench run` would start loading data: every option was accepted."""


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(option=st.sampled_from(sorted(_VALID_RUN)), value=st.one_of(st.text(max_size=25), st.sampled_from(["all", "cuda", "cuda:7", "mps", "cpu:0", "paper", "0,5,7", "-1", "recon,,fid", "ae,nope", "lr=1e999", "ae.lr=2", " "])))
@example(option="--seeds", value="0,5,7")  # both outcomes are always exercised
@example(option="--set", value="lr=-1")
def test_any_option_value_is_accepted_or_exits_2_with_one_paragraph(option, value, tmp_path_factory):
    from bench import data as data_layer
    from bench import runner
    from metrics.base import all_metrics

    seen = []
    original = runner.run_benchmark

    def recording(opts, echo):
        seen.append(opts)
        return original(opts, echo=lambda m: None)

    def stop(*args, **kwargs):
        raise _WouldLoadData

    args = [f"{k}={value if k == option else v}" for k, v in _VALID_RUN.items()]
    out = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as mp:  # everything up to training, nothing trained
        mp.setattr(runner, "run_benchmark", recording)
        mp.setattr(data_layer, "load_pair", stop)
        result = invoke("run", *args, "--out", out / "runs", "--leaderboard-dir", out / "lb")
    if isinstance(result.exception, _WouldLoadData):
        (opts,) = seen
        assert opts.seeds and opts.device.type == "cpu" and opts.on_divergence in ("skip", "stop")
        assert opts.metrics is None or set(opts.metrics) <= set(all_metrics())
    else:
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (option, value, result.output)
        assert "Error:" in result.stderr and "Traceback" not in result.output
    assert files_under(out) == []


def test_a_malformed_seed_list_names_what_is_accepted():
    with pytest.raises(BenchError, match="0-2 .seeds 0, 1 and 2.*--n-seeds N"):
        _parse_seeds("x")


# --- corrupt records are refused the same way by every command that reads them ------------------
def test_a_corrupt_run_record_is_refused_the_same_way_everywhere(tmp_path):
    out, lb, site = tmp_path / "runs", tmp_path / "lb", tmp_path / "site"
    run = ["run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--metrics", "recon", "--no-progress", "--device", "cpu", "--out", out, "--leaderboard-dir", lb]
    assert invoke(*run).exit_code == 0
    run_dir = out / "lines" / "ae" / "seed0"
    config, metrics = (run_dir / "config.json").read_text(), (run_dir / "metrics.json").read_text()
    rows = (lb / "lines.csv").read_text()

    (run_dir / "config.json").write_text(config[: len(config) // 2])  # truncated: was silently reused by bench run
    for args in (run, ["publish", "--runs", out, "--out", site], ["leaderboard", "--pair", "lines", "--runs", out, "--out", site], ["generate", run_dir, "--seeds", run_dir]):
        assert_clean_exit_2(invoke(*args), f"Cannot read {run_dir / 'config.json'}")
    assert (lb / "lines.csv").read_text() == rows and not site.exists()

    (run_dir / "config.json").write_text(config)
    entries = json.loads(metrics)
    entries["metrics"]["recon_l2_novel"]["value"] = "0.1x"  # was shown as a blank cell by bench leaderboard
    (run_dir / "metrics.json").write_text(json.dumps(entries))
    message = f"{run_dir / 'metrics.json'} is not a valid metrics record: metric 'recon_l2_novel' has value '0.1x'"
    for args in (run, ["publish", "--runs", out, "--out", site], ["leaderboard", "--pair", "lines", "--runs", out, "--out", site], ["evaluate", run_dir, "--metrics", "recon"]):
        assert_clean_exit_2(invoke(*args), message)
    assert (lb / "lines.csv").read_text() == rows and not site.exists()


# --- write failures: exit 2 naming the file, nothing half-written ----------------------------------
def test_a_file_size_limit_below_the_checkpoint_exits_2_before_training(tmp_path):
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    cmd = [sys.executable, "-m", "bench", "run", "--models", "ae", "--pair", "pole", "--budget", "smoke", "--no-progress"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, preexec_fn=limit, timeout=600, env={**os.environ, "BENCH_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "file-size limit" in result.stderr and "ulimit -f" in result.stderr
    assert not (tmp_path / "runs" / "pole").exists()


def test_a_checkpoint_that_cannot_be_written_exits_2_naming_it(tmp_path, monkeypatch):
    def failing_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 545088 vs 544984")

    monkeypatch.setattr(torch, "save", failing_save)
    out = tmp_path / "runs"
    result = invoke("run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--metrics", "recon", "--no-progress", "--out", out)
    run_dir = out / "lines" / "ae" / "seed0"
    assert_clean_exit_2(result, f"Cannot write {run_dir / 'checkpoint.pt'}: the write failed")
    assert not (run_dir / "checkpoint.pt").exists() and not list(run_dir.glob(".*.tmp"))


def test_too_little_free_space_is_refused_before_training(tmp_path, monkeypatch):
    real = os.statvfs

    def nearly_full(path):
        stat = real(path)
        return os.statvfs_result((stat.f_bsize, 4096, stat.f_blocks, 10, 10, stat.f_files, stat.f_ffree, stat.f_favail, stat.f_flag, stat.f_namemax))

    monkeypatch.setattr(os, "statvfs", nearly_full)
    out = tmp_path / "runs"
    result = invoke("run", "--models", "ae", "--pair", "lines", "--budget", "smoke", "--metrics", "recon", "--no-progress", "--out", out)
    assert_clean_exit_2(result, f"The --out folder {out} has 0 MiB free, and this job writes about")
    assert not (out / "lines").exists()

"""The runner as a user drives it: interrupted runs resume to the same result; nothing is
written when a run directory holds an incompatible checkpoint."""

import json
from pathlib import Path

import pytest
import torch

from bench import data as data_layer
from bench.budgets import BUDGETS
from bench.errors import BenchError
from bench.runner import RunOptions, run_benchmark, same_domain_oracle_notes
from models import registry
from models.ae import AE


def options(tmp_path: Path, out: str, **kw) -> RunOptions:
    base = dict(
        models=["ae"],
        pair=data_layer.get_pair("pole"),
        budget=BUDGETS["smoke"],
        seeds=[0],
        device=torch.device("cpu"),
        data_dir=tmp_path / "data",
        out_dir=tmp_path / out,
        leaderboard_dir=tmp_path / "lb",
        progress=False,
        metrics=["recon"],  # these tests are about training and run directories
    )
    base.update(kw)
    return RunOptions(**base)


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path, monkeypatch):
    straight = run_benchmark(options(tmp_path, "straight"), echo=lambda m: None)[0]

    original = AE.train_step
    calls = {"n": 0}

    def interrupt_at_step_7(self, batch, step):
        if step == 7 and calls["n"] == 0:
            calls["n"] += 1
            raise KeyboardInterrupt
        return original(self, batch, step)

    monkeypatch.setattr(AE, "train_step", interrupt_at_step_7)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(options(tmp_path, "resumed"), echo=lambda m: None)
    run_dir = tmp_path / "resumed" / "pole" / "ae" / "seed0"
    assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "metrics.json").exists()
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    checkpoint["elapsed"] = 1000.0  # as if the interrupted process had trained for 1000 s
    torch.save(checkpoint, run_dir / "checkpoint.pt")

    messages = []
    resumed = run_benchmark(options(tmp_path, "resumed"), echo=messages.append)[0]
    assert any("resumed from step 5" in m for m in messages)
    assert resumed["recon_l2_novel"] == straight["recon_l2_novel"]
    assert resumed["recon_l2_train"] == straight["recon_l2_train"]
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "finished"
    # the run's times count the interrupted process's training: wall time is not below training
    assert 1000.0 <= record["train_seconds"] <= record["wall_seconds"] < 1000.0 + 600
    # each run records its own peak memory: at least the weights it held (AE at 64x64: ~13M floats)
    weights_mib = sum(p.numel() for p in AE(AE.Config(), (1, 64, 64)).parameters()) * 4 / 2**20
    assert weights_mib < record["peak_rss_mib"] < 24 * 1024


def test_incompatible_checkpoint_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    original = AE.train_step

    def interrupt(self, batch, step):
        if step == 6:
            raise KeyboardInterrupt
        return original(self, batch, step)

    monkeypatch.setattr(AE, "train_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(options(tmp_path, "runs"), echo=lambda m: None)
    monkeypatch.setattr(AE, "train_step", original)
    config = tmp_path / "runs" / "pole" / "ae" / "seed0" / "config.json"
    before = config.read_bytes()
    with pytest.raises(BenchError, match="another configuration"):
        run_benchmark(options(tmp_path, "runs", overrides=("lr=0.01",)), echo=lambda m: None)
    assert config.read_bytes() == before


def test_oracle_on_a_one_domain_pair_gets_a_note_and_only_there():
    names = ["ae", "wgan-gp", "wgan-gp-oracle"]
    classes = {n: registry.get(n) for n in names}
    notes = same_domain_oracle_notes(data_layer.get_pair("lines"), names, classes)
    assert len(notes) == 1 and notes[0].startswith("Note: wgan-gp-oracle ")
    assert same_domain_oracle_notes(data_layer.get_pair("mnist-fashion"), names, classes) == []


def test_runs_record_the_model_data_and_metric_revisions_that_produced_them(tmp_path):
    row = run_benchmark(options(tmp_path, "out", models=["ae", "ae-gan"]), echo=lambda m: None)
    config = json.loads((tmp_path / "out" / "pole" / "ae-gan" / "seed0" / "config.json").read_text())
    metrics = json.loads((tmp_path / "out" / "pole" / "ae-gan" / "seed0" / "metrics.json").read_text())["metrics"]
    assert config["model_revision"] == registry.get("ae-gan").revision == 2
    losses = (tmp_path / "out" / "pole" / "ae-gan" / "seed0" / "losses.csv").read_text().splitlines()
    assert losses[0] == "step,recon,adv,d_loss,k,d_real,d_fake"  # every run writes its loss log, k included
    assert [int(line.split(",")[0]) for line in losses[1:]] == [5, 10, 12]  # every log_every steps, and the last (12 on 64x64)
    assert config["data_revisions"] == {"pole": data_layer.get_domain("pole").revision}
    assert metrics["recon_l2_novel"]["revision"] == 1 and metrics["recon_l2_novel"]["data_revisions"] == {"pole": 1}
    assert [r["model_revision"] for r in row] == [2, 2]  # ae: 2 (raw images), ae-gan: 2 (-1/1 LSGAN targets)
    assert json.loads(row[0]["metric_revisions"]) == {"recon": 1}
    board = (tmp_path / "lb" / "pole.csv").read_text().splitlines()[0].split(",")
    assert {"model_revision", "metric_revisions", "data_revisions"} <= set(board)


def test_an_old_revision_in_the_run_folder_is_named_when_it_blocks_a_run(tmp_path):
    run_benchmark(options(tmp_path, "out", models=["ae-gan"]), echo=lambda m: None)
    run_dir = tmp_path / "out" / "pole" / "ae-gan" / "seed0"
    for name in ("config.json", "metrics.json"):  # as revision 1 wrote them (no revision keys, other hash)
        record = json.loads((run_dir / name).read_text())
        record.pop("model_revision", None)
        record["config_hash"] = "0123456789abcdef"
        (run_dir / name).write_text(json.dumps(record))
    with pytest.raises(BenchError, match="revision 1 of ae-gan; this suite trains revision 2"):
        run_benchmark(options(tmp_path, "out", models=["ae-gan"]), echo=lambda m: None)


def test_ae_trains_on_the_raw_images_as_in_table_1():
    # the Table 1 autoencoder; the "train on C" rule of appendix A.1 is for ae-gan and intae
    assert registry.get("ae").Config().train_on == "x"
    model = AE(AE.Config(), (1, 28, 28))
    model.optimizers = model.configure_optimizers()

    class RawOnly:
        x = torch.rand(4, 1, 28, 28)
        generator = None

        def triplet(self):
            raise AssertionError("ae must not ask for the augmentation triplet by default")

    model.train_step(RawOnly(), 0)

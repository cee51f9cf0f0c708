"""The shared trainer: loss falls, lr schedule, exact resume after an interruption, divergence."""

import math

import pytest
import torch

from bench.budgets import TrainingSchedule
from bench.trainer import Diverged, Trainer, autocast_context
from models.ae import AE, AEConfig


def blob_images(n=256, size=28, seed=0) -> torch.Tensor:
    """Bright discs at random places: a tiny learnable domain made in the test."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    centres = torch.randint(8, size - 8, (n, 2), generator=g)
    radius = torch.randint(3, 7, (n,), generator=g)
    d2 = (yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2
    return ((d2 <= radius[:, None, None] ** 2).to(torch.uint8) * 255)[:, None]


def tiny_budget(steps, **kw):
    base = dict(batch_size=32, steps=steps, log_every=5, checkpoint_every=5, checkpoint_seconds=1e9)
    base.update(kw)
    return TrainingSchedule(**base)


def make_trainer(model, images, budget, path, seed=0):
    return Trainer(model, images, budget, torch.device("cpu"), path, seed=seed, config_hash="h", progress=False)


def test_reconstruction_loss_falls(tmp_path):
    torch.manual_seed(0)
    model = AE(AEConfig(lr=2e-3), (1, 28, 28))
    result = make_trainer(model, blob_images(), tiny_budget(60), tmp_path / "ckpt.pt").fit()
    losses = [h["losses"]["recon"] for h in result.history]
    assert result.steps == 60 and len(losses) == 12
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:2]) / 2


def test_lr_schedule_milestones():
    budget = tiny_budget(100)
    assert [budget.lr_factor(s, 100) for s in (0, 34, 35, 69, 70, 99)] == [1, 1, 0.1, 0.1, pytest.approx(0.01), pytest.approx(0.01)]
    assert TrainingSchedule(batch_size=64, epochs=100).total_steps(60000) == 100 * (60000 // 64)


class InterruptOnce(AE):
    """Raises KeyboardInterrupt at a chosen step, as a user's Ctrl-C would."""

    interrupt_at = None

    def train_step(self, batch, step):
        if step == InterruptOnce.interrupt_at:
            InterruptOnce.interrupt_at = None
            raise KeyboardInterrupt
        return super().train_step(batch, step)


def _trained_params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    images = blob_images(128)
    torch.manual_seed(3)
    straight = AE(AEConfig(), (1, 28, 28))
    make_trainer(straight, images, tiny_budget(24), tmp_path / "a.pt", seed=3).fit()

    torch.manual_seed(3)
    first = InterruptOnce(AEConfig(), (1, 28, 28))
    InterruptOnce.interrupt_at = 17
    with pytest.raises(KeyboardInterrupt):
        make_trainer(first, images, tiny_budget(24), tmp_path / "b.pt", seed=3).fit()
    assert torch.load(tmp_path / "b.pt", weights_only=True)["step"] == 15  # last checkpoint kept

    torch.manual_seed(99)  # a fresh process: different init, everything comes from the checkpoint
    second = AE(AEConfig(), (1, 28, 28))
    result = make_trainer(second, images, tiny_budget(24), tmp_path / "b.pt", seed=3).fit()
    assert result.resumed_from == 15
    assert torch.equal(_trained_params(second), _trained_params(straight))


def test_checkpoint_of_another_config_or_corrupt_is_refused(tmp_path):
    from bench.errors import BenchError

    images = blob_images(64)
    make_trainer(AE(AEConfig(), (1, 28, 28)), images, tiny_budget(5), tmp_path / "c.pt").fit()
    other = Trainer(AE(AEConfig(), (1, 28, 28)), images, tiny_budget(10), torch.device("cpu"), tmp_path / "c.pt", seed=0, config_hash="other", progress=False)
    with pytest.raises(BenchError, match="another configuration"):
        other.fit()
    (tmp_path / "d.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BenchError, match="corrupt or incompatible"):
        make_trainer(AE(AEConfig(), (1, 28, 28)), images, tiny_budget(5), tmp_path / "d.pt").fit()


class NaNAfter(AE):
    def train_step(self, batch, step):
        losses = super().train_step(batch, step)
        if step >= 7:
            losses["recon"] = losses["recon"] * float("nan")
        return losses


def test_non_finite_loss_raises_diverged_with_last_finite_losses(tmp_path):
    with pytest.raises(Diverged) as err:
        make_trainer(NaNAfter(AEConfig(), (1, 28, 28)), blob_images(64), tiny_budget(30), tmp_path / "e.pt").fit()
    assert err.value.step == 10
    assert math.isfinite(err.value.last_finite["recon"])


def test_compile_routes_every_step_through_torch_compile_and_restores_the_method(tmp_path, monkeypatch):
    """`bench run --compile`: the trainer trains through torch.compile's wrapper of the model's
    step (here a counting stand-in, a real compile takes a minute on a CPU) and leaves the
    model's own method in place afterwards, so evaluation runs eagerly."""
    compiled_calls = []

    def fake_compile(fn):
        def wrapper(*args, **kwargs):
            compiled_calls.append(args[1])  # the step index
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(torch, "compile", fake_compile)
    model = AE(AEConfig(), (1, 28, 28))
    trainer = Trainer(model, blob_images(64), tiny_budget(6), torch.device("cpu"), tmp_path / "c.pt", seed=0, config_hash="h", progress=False, compile=True)
    result = trainer.fit()
    assert result.steps == 6 and compiled_calls == list(range(6))
    assert "train_step" not in model.__dict__


def test_fp32_on_cuda_turns_tf32_off_for_the_step_and_restores_it():
    """--precision fp32 must mean IEEE fp32: PyTorch's default runs cuDNN convolutions in TF32.
    Only the flags are touched, so this runs without a GPU."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with autocast_context(torch.device("cuda"), "fp32"):
            assert not torch.backends.cudnn.allow_tf32
            assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        with autocast_context(torch.device("cpu"), "fp32"):  # the CPU has no TF32: flags untouched
            assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


class LrProbe(AE):
    """Records the learning rate each of its updates ran with."""

    seen: list = []

    def train_step(self, batch, step):
        LrProbe.seen.append(self.optimizers["ae"].param_groups[0]["lr"])
        return super().train_step(batch, step)


class AdversarialLrProbe(LrProbe):
    adversarial = True


@pytest.mark.parametrize("cls", [LrProbe, AdversarialLrProbe])
def test_the_trainer_divides_the_lr_by_10_at_35_and_70_percent_for_non_adversarial_models(tmp_path, cls):
    # paper A.1: "Models with no adversarial component cut the learning rate by a factor of 10 at
    # epochs 35 and 70"; "adversarial models do not change their learning rate"
    LrProbe.seen = []
    model = cls(AEConfig(lr=1e-3), (1, 28, 28))
    make_trainer(model, blob_images(64), tiny_budget(20, batch_size=8), tmp_path / "ckpt.pt").fit()
    if cls.adversarial:
        assert LrProbe.seen == [pytest.approx(1e-3)] * 20
    else:  # 35% of 20 = step 7, 70% = step 14
        assert LrProbe.seen == [pytest.approx(1e-3)] * 7 + [pytest.approx(1e-4)] * 7 + [pytest.approx(1e-5)] * 6


class ReadsItsLossLog(AE):
    """At step 12 reads losses.csv, as a user would while the run trains."""

    seen: list = []

    def train_step(self, batch, step):
        if step == 12:
            import pandas as pd

            ReadsItsLossLog.seen = pd.read_csv(self.loss_csv)["step"].tolist()
        return super().train_step(batch, step)


def test_losses_csv_grows_while_training_and_stays_exact_across_a_resume(tmp_path):
    import pandas as pd

    from bench.loss_log import LossLog

    images = blob_images(64)
    torch.manual_seed(0)
    straight = ReadsItsLossLog(AEConfig(), (1, 28, 28))
    straight.loss_csv = tmp_path / "straight.csv"
    result = Trainer(straight, images, tiny_budget(20, batch_size=8), torch.device("cpu"), tmp_path / "a.pt", seed=0, config_hash="h", progress=False, loss_log=LossLog(straight.loss_csv)).fit()
    assert ReadsItsLossLog.seen == [5, 10]  # readable mid-run, one row per logged step so far
    table = pd.read_csv(straight.loss_csv)
    assert table["step"].tolist() == [h["step"] for h in result.history] == [5, 10, 15, 20]
    assert table["recon"].tolist() == pytest.approx([h["losses"]["recon"] for h in result.history], rel=1e-5)

    InterruptOnce.interrupt_at = 17  # after the checkpoint at step 10 and the row of step 15
    torch.manual_seed(0)
    resumed = InterruptOnce(AEConfig(), (1, 28, 28))
    log = LossLog(tmp_path / "resumed.csv")
    with pytest.raises(KeyboardInterrupt):
        Trainer(resumed, images, tiny_budget(20, batch_size=8, checkpoint_every=10), torch.device("cpu"), tmp_path / "b.pt", seed=0, config_hash="h", progress=False, loss_log=log).fit()
    assert pd.read_csv(tmp_path / "resumed.csv")["step"].tolist() == [5, 10, 15]
    again = InterruptOnce(AEConfig(), (1, 28, 28))
    Trainer(again, images, tiny_budget(20, batch_size=8, checkpoint_every=10), torch.device("cpu"), tmp_path / "b.pt", seed=0, config_hash="h", progress=False, loss_log=LossLog(tmp_path / "resumed.csv")).fit()
    assert (tmp_path / "resumed.csv").read_text() == straight.loss_csv.read_text()  # each step once, the same values


def test_tensorboard_events_carry_the_same_losses(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from bench.loss_log import LossLog

    model = AE(AEConfig(), (1, 28, 28))
    result = Trainer(model, blob_images(64), tiny_budget(10, batch_size=8), torch.device("cpu"), tmp_path / "c.pt", seed=0, config_hash="h", progress=False, loss_log=LossLog(tmp_path / "l.csv", tmp_path / "tb")).fit()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    recon = events.Scalars("loss/recon")
    assert [e.step for e in recon] == [5, 10]
    assert [e.value for e in recon] == pytest.approx([h["losses"]["recon"] for h in result.history], rel=1e-5)


def test_tensorboard_without_the_package_is_a_clear_error(monkeypatch):
    import importlib.util

    from bench.errors import BenchError
    from bench.loss_log import check_tensorboard

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(BenchError, match=r'pip install -e "\.\[tensorboard\]"'):
        check_tensorboard()


def test_bf16_autocast_keeps_no_cast_cache_within_a_step(recwarn):
    # A cached bf16 copy of a weight outlives an in-place optimizer step inside the same autocast
    # block (CPU autocast shows it as CUDA's does): the discriminator that an adversarial step
    # scores again after updating it would score with its old weights.
    layer = torch.nn.Linear(4, 4)
    x = torch.ones(1, 4)
    for cache, stale in ((True, True), (False, False)):
        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=cache):
            before = layer(x)
            with torch.no_grad():
                layer.weight.add_(1.0)
            assert torch.equal(layer(x), before) is stale
    context = autocast_context(torch.device("cuda"), "auto")  # built without a GPU: only inspected
    assert isinstance(context, torch.autocast) and context._cache_enabled is False

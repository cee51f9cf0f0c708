"""WGAN-GP: the gradient penalty on a known critic, a critic without batch norm, 5 critic updates
per generator update, the inversion phase after the main schedule (only the inversion network
learns, its MSE falls), sampling, encoding through inversion + refinement, and an interrupted
training run that resumes inside the inversion phase with identical weights."""

import pytest
import torch
from torch import nn

from bench.budgets import BUDGETS, TrainingSchedule
from bench.trainer import Trainer
from models import registry
from models.base import TrainBatch
from models.inversion import PAPER_REFINE_STEPS, refine_latents
from models.latent import normalize
from models.backbones import make_critic
from models.wgan_gp import WGANGP, critic_objective, gradient_penalty

SHAPE = (1, 28, 28)


def model(**overrides):
    torch.manual_seed(0)
    return WGANGP(WGANGP.Config(**overrides), SHAPE)


def images(n, seed=0):
    return (torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) * 255).to(torch.uint8)


def linear_critic(weight_norm):
    critic = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 1))
    with torch.no_grad():
        w = torch.randn(1, 28 * 28, generator=torch.Generator().manual_seed(1))
        critic[1].weight.copy_(w / w.norm() * weight_norm)
    return critic


@pytest.mark.parametrize("weight_norm", [3.0, 1.0, 0.5])
def test_gradient_penalty_on_a_linear_critic(weight_norm):
    # grad_x (w.x + b) = w everywhere, so the penalty is lambda * (||w|| - 1)^2 for any interpolate
    real, fake = torch.rand(4, *SHAPE), torch.rand(4, *SHAPE)
    gp = gradient_penalty(linear_critic(weight_norm), real, fake, torch.Generator().manual_seed(0), lam=10.0)
    assert gp.item() == pytest.approx(10.0 * (weight_norm - 1.0) ** 2, abs=1e-4)


def test_gradient_penalty_is_taken_at_interpolates_and_trains_the_critic():
    # D(x) = 0.5 * sum(x^2): grad = x, so the penalty depends on where between real and fake it is taken
    class Quadratic(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(0.5))

        def forward(self, x):
            return self.scale * x.flatten(1).pow(2).sum(1, keepdim=True)

    real, fake = torch.full((3, 1, 2, 2), 1.0), torch.zeros(3, 1, 2, 2)
    critic = Quadratic()
    eps = torch.rand(3, 1, 1, 1, generator=torch.Generator().manual_seed(5))
    expected = (((eps.flatten() * 2.0) - 1) ** 2).mean() * 10  # ||eps * real|| = 2 eps
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(5), lam=10.0)
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)
    gp.backward()
    assert critic.scale.grad is not None and critic.scale.grad.abs() > 0


def test_critic_objective_is_the_negative_wasserstein_estimate():
    assert critic_objective(torch.tensor([3.0, 1.0]), torch.tensor([0.0, -2.0])).item() == pytest.approx(-3.0)


@pytest.mark.parametrize("norm", ["none", "layer"])
def test_critic_has_no_batch_norm_and_scores_each_image_alone(norm):
    torch.manual_seed(0)
    critic = make_critic(SHAPE, norm).train()
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    has_layer_norm = any(isinstance(m, (nn.GroupNorm, nn.LayerNorm)) for m in critic.modules())
    assert has_layer_norm == (norm == "layer")
    x = torch.rand(6, *SHAPE)
    assert critic(x).shape == (6, 1)
    assert torch.allclose(critic(x)[:2], critic(x[:2]), atol=1e-5)


def _count_steps(opt):
    calls = []
    opt.register_step_post_hook(lambda *_: calls.append(1))
    return calls


def test_five_critic_updates_per_generator_update_and_no_inversion_in_the_main_phase():
    m = model()
    m.plan_training(100, inversion_iterations=7)
    m.optimizers = m.configure_optimizers()
    counts = {k: _count_steps(opt) for k, opt in m.optimizers.items()}
    gen_weights = [p.detach().clone() for p in m.generator.parameters()]
    inv_weights = [p.detach().clone() for p in m.inversion.parameters()]
    gen, x = torch.Generator().manual_seed(0), images(2)
    g_steps_at = []
    for step in range(10):
        before = len(counts["generator"])
        losses = m.train_step(TrainBatch(x, None, gen), step)
        if len(counts["generator"]) > before:
            g_steps_at.append(step)
        assert set(losses) == {"critic_loss", "gp", "wasserstein", "g_loss"}
        assert all(v.shape == () and not v.requires_grad and torch.isfinite(v) for v in losses.values())
    assert len(counts["critic"]) == 10 and g_steps_at == [4, 9] and len(counts["inversion"]) == 0
    assert any(not torch.equal(a, b) for a, b in zip(gen_weights, m.generator.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(inv_weights, m.inversion.parameters()))


def test_inversion_phase_trains_only_the_inversion_network_and_its_mse_falls():
    m = model()
    m.plan_training(1, inversion_iterations=40)
    assert m.extra_training_steps() == 40
    m.optimizers = m.configure_optimizers()
    gen, x = torch.Generator().manual_seed(0), images(16)
    m.train_step(TrainBatch(x, None, gen), 0)  # the main phase: gives the generator batch-norm statistics
    frozen = {k: v.clone() for k, v in m.state_dict().items() if not k.startswith("inversion.")}
    mse = []
    for step in range(1, 9):
        losses = m.train_step(TrainBatch(x, None, gen), step)
        assert set(losses) == {"inversion_mse"}
        mse.append(losses["inversion_mse"].item())
    assert m.generator.training  # restored after the frozen-generator forward passes
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in frozen.items())
    assert sum(mse[-3:]) < sum(mse[:3]), mse
    assert m.optimizers["inversion"].param_groups[0]["lr"] == pytest.approx(1e-4)  # steps 0-7 of 40: no drop


def test_sample_is_images_in_unit_range_and_reproducible():
    m = model().eval()
    with torch.no_grad():
        a = m.sample(5, torch.Generator().manual_seed(0))
        b = m.sample(5, torch.Generator().manual_seed(0))
        c = m.sample(5, torch.Generator().manual_seed(1))
    assert a.shape == (5, *SHAPE) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_encode_is_inversion_network_then_refinement_with_the_budgets_steps():
    m = model().eval()
    assert m.refine_steps == PAPER_REFINE_STEPS
    m.configure_evaluation(BUDGETS["smoke"].evaluation.refine_steps)
    assert m.refine_steps == BUDGETS["smoke"].evaluation.refine_steps
    pinned = model(refine_steps=3)
    pinned.configure_evaluation(BUDGETS["smoke"].evaluation.refine_steps)
    assert pinned.refine_steps == 3  # the hyperparameter wins over the budget
    m.refine_steps = 4
    x = torch.rand(3, *SHAPE)
    with torch.no_grad():
        z = m.encode(x)
        z0 = normalize(m.inversion(x))
    assert torch.allclose(z, refine_latents(m.decode, x, z0, 4, lr=0.01, normalized=True), atol=1e-6)
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(z, z0, atol=1e-6)


def test_registration_and_the_oracle_variant():
    base, oracle = registry.get("wgan-gp"), registry.get("wgan-gp-oracle")
    assert base is WGANGP and issubclass(oracle, WGANGP)
    assert base.trains_on == "train" and oracle.trains_on == "novel"
    assert "novel" in oracle.description.lower()
    for cls in (base, oracle):
        assert cls.adversarial and cls.generative and cls.normalized_latent and cls.steps_multiplier == 2.0
    c = WGANGP.Config()
    assert (c.gp_lambda, c.n_critic, c.inv_lr, c.inv_momentum, c.refine_lr) == (10.0, 5, 1e-4, 0.1, 0.01)
    m = WGANGP(c, SHAPE)
    assert m.latent_dim == 32 and WGANGP(c, (1, 32, 32)).latent_dim == 512


def _fit(tmp_path, stop_at=None):
    m = model(n_critic=1)  # a generator step every step, so that the short main phase trains it
    if stop_at is not None:
        original = m.train_step

        def train_step(batch, step):
            if step == stop_at:
                raise KeyboardInterrupt
            return original(batch, step)

        m.train_step = train_step
    schedule = TrainingSchedule(batch_size=4, steps=1, log_every=1, checkpoint_every=4, checkpoint_seconds=1e9, inversion_iterations=3)
    trainer = Trainer(m, images(8), schedule, torch.device("cpu"), tmp_path / "ckpt.pt", seed=0, config_hash="h", progress=False)
    return m, trainer.fit()


def test_interrupted_run_resumes_inside_the_inversion_phase_with_identical_weights(tmp_path):
    # 1 step x 2 = 2 main steps, then 3 inversion steps with lr / 10 after each (the resumed step
    # must take its lr from the checkpointed initial lr); checkpointed after step 3, killed at step 4
    straight, result = _fit(tmp_path / "a")
    assert result.steps == 5 and "inversion_mse" in result.history[-1]["losses"]
    assert "g_loss" in result.history[1]["losses"]
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "b", stop_at=4)
    resumed, result_b = _fit(tmp_path / "b")
    assert result_b.resumed_from == 4
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert [h["losses"] for h in result.history] == [h["losses"] for h in result_b.history]

"""Every registered model honours the contract: shapes, interpolation endpoints, and a short
training run on the synthetic lines domain with finite losses and a falling reconstruction loss
(pure GANs, which have no reconstruction loss: a critic that learns, a generator that changes and
an inversion network whose MSE falls)."""

import copy
import math

import pytest
import torch

from bench.budgets import BUDGETS
from model_testing import lines_images, train_briefly
from models import registry

ALL = registry.names()
# Oracle variants (trains_on = "novel") train exactly like their base model, on another domain.
TRAINABLE = [n for n in ALL if registry.get(n).trainable and registry.get(n).trains_on == "train"]


def _pure_gan(model) -> bool:
    """A generative adversarial model with a GAN-inversion phase (no reconstruction loss)."""
    model.plan_training(1, BUDGETS["smoke"].training.inversion_iterations)
    return model.generative and model.adversarial and model.extra_training_steps() > 0


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 32, 32)])
def test_encode_decode_and_interpolation_endpoints(name, shape):
    torch.manual_seed(0)
    cls = registry.get(name)
    model = cls(cls.Config(), shape).eval()
    model.configure_evaluation(BUDGETS["smoke"].evaluation.refine_steps)  # GAN inversion: the smoke budget's few refinement steps
    x = torch.rand(4, *shape)
    with torch.no_grad():
        z = model.encode(x)
        assert z.shape[0] == 4
        y = model.decode(z)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
        z_a, z_b = z[:2], z[2:]
        start = model.decode(model.interpolate(z_a, z_b, 0.0))
        end = model.decode(model.interpolate(z_a, z_b, 1.0))
        assert torch.allclose(start, model.decode(z_a), atol=1e-5)
        assert torch.allclose(end, model.decode(z_b), atol=1e-5)
        if cls.normalized_latent:
            assert torch.allclose(z.flatten(1).norm(dim=1), torch.ones(4), atol=1e-5)


@pytest.mark.parametrize("name", TRAINABLE)
def test_short_training_is_finite_and_reconstruction_falls(name, tmp_path):
    torch.manual_seed(0)
    cls = registry.get(name)
    model = cls(cls.Config(), (1, 32, 32))
    if _pure_gan(model):
        return _check_gan_training(model, tmp_path)
    history = train_briefly(model, lines_images(), steps=24, batch_size=8, log_every=1, tmp_path=tmp_path)
    assert all(math.isfinite(v) for losses in history for v in losses.values())
    recon = [losses["recon"] for losses in history]
    # 10%: GAIA's official objective learns reconstruction only through its discriminator.
    assert sum(recon[-3:]) / 3 < 0.9 * sum(recon[:3]) / 3, recon


def _samples(model):
    """Samples from a copy in train mode: batch statistics, so that only trained weights (not
    batch-norm running statistics) can change them."""
    with torch.no_grad():
        return copy.deepcopy(model).train().sample(4, torch.Generator().manual_seed(0))


def _check_gan_training(model, tmp_path):
    """3 x steps_multiplier main steps and 6 inversion steps (a GAN step costs ~3 AE steps)."""
    before = _samples(model)
    history = train_briefly(model, lines_images(), steps=3, batch_size=8, log_every=1, tmp_path=tmp_path, inversion_iterations=6)
    assert all(math.isfinite(v) for losses in history for v in losses.values())
    main = [h for h in history if "inversion_mse" not in h]
    inversion = [h["inversion_mse"] for h in history if "inversion_mse" in h]
    assert len(main) == round(3 * model.steps_multiplier) and len(inversion) == 6
    for key in main[0]:  # the critic's (and the generator's) losses move
        assert len({h[key] for h in main}) > 1, (key, main)
    assert not torch.allclose(_samples(model), before, atol=1e-4)  # the generator was trained
    assert sum(inversion[-2:]) / 2 < 0.9 * sum(inversion[:2]) / 2, inversion

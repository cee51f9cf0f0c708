"""AugIntAE: the interpolation direction, the discriminator's inputs, k, and the Fig. 7 ablations."""

import math

import pytest
import torch

from bench.augment import FAMILIES, PARAMS, AugmentationEngine
from models import registry
from models.augintae import AugIntAE
from models.latent import normalize, slerp

SHAPE = (1, 28, 28)


class KnownTriplet:
    """A stand-in for TrainBatch whose triplet is fixed tensors."""

    def __init__(self, a, b, c, alpha):
        self.x = c
        self._t = (a, b, c, alpha)
        self.generator = torch.Generator().manual_seed(0)

    def __len__(self):
        return self.x.shape[0]

    def triplet(self):
        return self._t


def _record(module, store):
    return module.register_forward_hook(lambda m, inp, out: store.append((inp[0].detach().clone(), out.detach().clone())))


def _step_and_record(name, alpha):
    torch.manual_seed(0)
    cls = registry.get(name)
    model = cls(cls.Config(), SHAPE)
    model.optimizers = model.configure_optimizers()
    n = alpha.shape[0]
    a, b, c = (torch.rand(n, *SHAPE) for _ in range(3))
    enc, dec, disc = [], [], []
    _record(model.encoder, enc)
    _record(model.decoder, dec)
    if hasattr(model, "discriminator"):
        _record(model.discriminator, disc)
    losses = model.train_step(KnownTriplet(a, b, c, alpha), 0)
    return model, (a, b, c), enc, dec, disc, losses


@pytest.mark.parametrize("name", ["augintae", "augintae-noadv"])
def test_decodes_slerp_from_B_to_A_at_alpha(name):
    alpha = torch.tensor([0.1, 0.9, 0.3])
    model, (a, b, c), enc, dec, disc, losses = _step_and_record(name, alpha)
    assert len(enc) == 1 and len(dec) == 1
    enc_in, enc_out = enc[0]
    assert torch.equal(enc_in, torch.cat((a, b)))  # A then B, one pass
    z_a, z_b = normalize(enc_out).chunk(2)
    z = dec[0][0]
    assert torch.allclose(z, slerp(z_b, z_a, alpha), atol=1e-5)  # C carries weight alpha on A
    assert not torch.allclose(z, slerp(z_a, z_b, alpha), atol=1e-2)
    assert losses["recon"].item() == pytest.approx((dec[0][1] - c).abs().mean().item(), rel=1e-5)


def test_alpha_one_decodes_A():
    model, _, enc, dec, _, _ = _step_and_record("augintae", torch.tensor([1.0, 1.0]))
    z_a = normalize(enc[0][1])[:2]
    assert torch.allclose(dec[0][0], z_a, atol=1e-5)


def test_discriminator_real_is_C_fake_is_the_decoded_interpolation_and_k_updates():
    model, (a, b, c), enc, dec, disc, losses = _step_and_record("augintae", torch.tensor([0.2, 0.7, 0.5]))
    assert set(losses) >= {"recon", "adv", "d_loss", "k"}
    assert all(math.isfinite(v.item()) for v in losses.values())
    # one joint batch [real = C; fake = decoded interpolation] for the discriminator's step and
    # again for the generator's loss (shared batch-norm statistics, see LSGANAutoencoder.score)
    (joint_d, scores), (joint_g, _) = disc
    n = c.shape[0]
    for joint in (joint_d, joint_g):
        assert torch.equal(joint[:n], c) and torch.equal(joint[n:], dec[0][1])
    # the discriminator step's scores drive k: k_1 = clip(1 - 0.001 * (1 - (D(real) - D(fake))), 0, 1)
    d_real, d_fake = scores[:n].mean(), scores[n:].mean()
    assert losses["k"].item() == 1.0
    assert model.balance.k.item() == pytest.approx(min(1.0, max(0.0, 1 - 1e-3 * (1 - (d_real - d_fake).item()))))
    assert "balance.k" in model.state_dict()  # checkpointed


def test_class_attributes():
    for name in ["augintae", "augintae-rotate", "augintae-translate", "augintae-scale", "augintae-shear"]:
        cls = registry.get(name)
        assert cls.adversarial and cls.uses_augmentation and cls.normalized_latent
    noadv = registry.get("augintae-noadv")
    assert not noadv.adversarial and noadv.uses_augmentation and noadv.normalized_latent
    assert not hasattr(noadv(noadv.Config(), SHAPE), "discriminator")
    assert AugIntAE.augmentation_families is None  # every family
    assert noadv.augmentation_families is None


@pytest.mark.parametrize("family", ["rotate", "translate", "scale", "shear"])
def test_ablation_trains_with_its_family_only(family):
    cls = registry.get(f"augintae-{family}")
    assert issubclass(cls, AugIntAE) and cls.train_step is AugIntAE.train_step and cls.Config is AugIntAE.Config
    assert cls.augmentation_families == frozenset({family}) and family in FAMILIES
    # the engine the trainer builds for it varies only this family's parameters
    engine = AugmentationEngine.for_images(SHAPE, families=cls.augmentation_families)
    assert engine.families == frozenset({family})
    params = engine.sample_params(64, torch.Generator().manual_seed(1))
    for pname, (fam, identity) in PARAMS.items():
        values = getattr(params, pname)
        if fam == family:
            assert values.std() > 0, pname
        else:
            assert torch.all(values == identity), pname

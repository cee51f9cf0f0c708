"""The pair's domain classifier: it separates two trivially different domains (all-dark vs
all-bright noise), is deterministic and independent of the run seed, is cached on disk per pair
and training setup (a second context loads it), trains once under concurrent requests, exposes
last-hidden-layer features, and does not exist for single-domain pairs."""

import threading
import time

import pytest
import torch
from torch import nn

import metrics.domain_classifier as dc
from bench.budgets import BUDGETS
from bench.data.domain import DomainData, Split
from bench.data.pairs import PairSpec
from metrics.base import MetricContext, MetricSkipped
from models.backbones import make_encoder

SHAPE = (1, 28, 28)
STEPS = 8  # enough for dark vs bright; each update of 64 28x28 images is costly on a shared CPU


def noise_domain(name, low, high, n_train, n_test, seed):
    g = torch.Generator().manual_seed(seed)

    def images(n):
        return torch.randint(low, high + 1, (n, *SHAPE), generator=g, dtype=torch.uint8)

    return DomainData(name, Split(images(n_train)), Split(images(n_test)))


DARK = noise_domain("dark", 0, 80, 200, 48, 0)
BRIGHT = noise_domain("bright", 150, 255, 150, 40, 1)


class CpuModel(nn.Module):
    """Only what the classifier needs from a model: its device."""

    generative = False

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))

    @property
    def device(self):
        return self.anchor.device


def make_ctx(cache_dir, steps=STEPS, seed=3, train=DARK, novel=BRIGHT, pair_novel="bright"):
    budget = BUDGETS["smoke"].with_settings(classifier_steps=steps, eval_images=32)
    pair = PairSpec("dark-bright", train.name, pair_novel, "test pair")
    return MetricContext(CpuModel(), pair, train, novel, budget, seed, cache_dir)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cache = tmp_path_factory.mktemp("classifier-cache")
    ctx = make_ctx(cache)
    return cache, ctx, dc.get_domain_classifier(ctx)


def test_separates_domains_with_held_out_accuracy(trained):
    _, ctx, clf = trained
    assert clf.accuracy >= 0.95
    p_bright, p_dark = clf.prob_novel(BRIGHT.test.images), clf.prob_novel(DARK.test.images.float() / 255)
    assert p_bright.shape == (40,) and p_dark.shape == (48,)
    assert (p_bright > 0.5).all() and (p_dark < 0.5).all()
    assert clf.protocol["held_out"].startswith("test images: 32 dark (all 48 test images; the first 32 of those) + 32 bright")
    assert clf.protocol["accuracy_train_domain"] >= 0.9 and clf.protocol["accuracy_novel_domain"] >= 0.9
    assert dc.get_domain_classifier(ctx) is clf  # shared within one evaluation


def test_cache_is_reused_and_keyed_by_setup(trained, monkeypatch):
    cache, _, clf = trained

    def must_not_train(*args, **kwargs):
        raise AssertionError("the cached classifier should have been loaded")

    monkeypatch.setattr(dc, "_train", must_not_train)
    loaded = dc.get_domain_classifier(make_ctx(cache, seed=99))  # another run seed shares the classifier
    x = torch.cat([BRIGHT.test.images, DARK.test.images])
    torch.testing.assert_close(loaded.logits(x), clf.logits(x))
    assert loaded.accuracy == clf.accuracy and loaded.protocol == clf.protocol

    calls = []

    def fake_train(shape, a, b, steps, device, seed):
        calls.append(steps)
        return make_encoder(shape, 2).eval()

    monkeypatch.setattr(dc, "_train", fake_train)
    dc.get_domain_classifier(make_ctx(cache, steps=STEPS + 1))  # other steps: another classifier
    assert calls == [STEPS + 1]
    assert len(list((cache / "domain_classifiers").glob("*.pt"))) == 2


def test_training_is_deterministic_and_ignores_the_run_seed(tmp_path):
    first = dc.get_domain_classifier(make_ctx(tmp_path / "a", steps=3, seed=1))
    again = dc.get_domain_classifier(make_ctx(tmp_path / "b", steps=3, seed=12345))  # fresh cache: trains again
    for (name, a), b in zip(first.net.state_dict().items(), again.net.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert first.accuracy == again.accuracy


def test_trains_when_first_needed_inside_a_no_grad_metric(tmp_path):
    with torch.no_grad():  # how evaluate runs metrics (admissibility's credibility needs it first)
        classifier = dc.get_domain_classifier(make_ctx(tmp_path, steps=3, seed=0))
    fresh = dc._train(SHAPE, DARK.train.images, BRIGHT.train.images, steps=0, device="cpu", seed=0)
    changed = any(not torch.equal(a, b) for a, b in zip(classifier.net.state_dict().values(), fresh.state_dict().values()))
    assert changed  # the 3 updates really happened


def test_concurrent_requests_train_once(tmp_path, monkeypatch):
    calls = []

    def slow_train(shape, a, b, steps, device, seed):
        calls.append(threading.get_ident())
        time.sleep(0.5)
        return make_encoder(shape, 2).eval()

    monkeypatch.setattr(dc, "_train", slow_train)
    results = []
    threads = [threading.Thread(target=lambda: results.append(dc.get_domain_classifier(make_ctx(tmp_path)))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 2


def test_features_are_the_last_hidden_layer():
    torch.manual_seed(0)
    small = dc.DomainClassifier(make_encoder(SHAPE, 2), 0.5, {})
    x = torch.rand(5, *SHAPE)
    assert small.features(x).shape == (5, 1024)
    # the head applied to the features gives the logits: they really are the penultimate layer
    torch.testing.assert_close(small.net[-1](small.features(x)), small.logits(x))
    large = dc.DomainClassifier(make_encoder((3, 32, 32), 2), 0.5, {})
    assert large.features(torch.rand(3, 3, 32, 32)).shape == (3, 512)  # 512x4x4 map averaged


def test_single_domain_pair_has_no_classifier(tmp_path):
    ctx = make_ctx(tmp_path, novel=DARK, pair_novel="dark")
    assert not dc.applies(ctx)
    with pytest.raises(MetricSkipped, match="single domain"):
        dc.get_domain_classifier(ctx)

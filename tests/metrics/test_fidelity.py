"""Generated images, FID, domain FID and misclassification, with fake models whose outputs are
known: a pair revealer (decoded images carry the pair's indices and alpha), a pixel cross-fader,
an inverter and a sampler. FID runs through the real pipeline with a tiny deterministic feature
extractor (the Inception weights are not needed; the missing-weights path is tested separately).
"""


import pytest
import torch
import torch.nn.functional as F
from torch import nn

import metrics.inception as inception
from bench.budgets import BUDGETS
from bench.data.domain import DomainData, Split
from bench.data.pairs import PairSpec
from bench.errors import BenchError
from metrics.base import MetricContext, MetricSkipped, all_metrics
from metrics.fidelity import fid_domain_metric, fid_score, misclassification_metric, reference_images
from metrics.frechet import feature_statistics, frechet_distance_scipy
from metrics.generated import ALPHAS, generated_images, generation_protocol
from metrics.inception import FeatureExtractor


class FakeModel(nn.Module):
    """Public interface only; latents are flattened pixels unless a subclass says otherwise."""

    generative = False
    normalized_latent = False

    def __init__(self, shape):
        super().__init__()
        self.shape = shape
        self.anchor = nn.Parameter(torch.zeros(1))

    @property
    def device(self):
        return self.anchor.device

    def encode(self, x):
        return x.flatten(1)

    def interpolate(self, z_a, z_b, alpha):
        return (1 - alpha) * z_a + alpha * z_b

    def decode(self, z):
        return z.view(-1, *self.shape)


class Inverter(FakeModel):
    def decode(self, z):
        return 1 - z.view(-1, *self.shape)


class PairRevealer(FakeModel):
    """Image k of the code domain holds k in its first pixel; decoded interpolations hold
    (k_a, k_b, alpha) in their first three pixels."""

    def encode(self, x):
        return x[:, 0, 0, :1]

    def interpolate(self, z_a, z_b, alpha):
        return torch.cat([z_a, z_b, torch.full_like(z_a, alpha)], dim=1)

    def decode(self, z):
        out = torch.zeros(z.shape[0], *self.shape)
        out[:, 0, 0, :3] = z
        return out


class Sampler(FakeModel):
    generative = True

    def __init__(self, shape, images):
        super().__init__(shape)
        self.images, self.calls = images, []

    def sample(self, n, generator=None):
        assert isinstance(generator, torch.Generator)
        start = sum(self.calls)
        self.calls.append(n)
        return self.images[start : start + n]


def uniform_domain(name, low, high, n_train, n_test, shape, seed, labels=None):
    g = torch.Generator().manual_seed(seed)

    def images(n):
        return torch.randint(low, high + 1, (n, *shape), generator=g, dtype=torch.uint8)

    return DomainData(name, Split(images(n_train)), Split(images(n_test), labels))


def make_ctx(model, train, novel, cache_dir, fid_images, pairing="same-class", seed=0, steps=8, require_fid=False):
    budget = BUDGETS["smoke"].with_settings(fid_images=fid_images, eval_images=16, classifier_steps=steps)
    pair = PairSpec("fake", train.name, novel.name, "test pair")
    return MetricContext(model, pair, train, novel, budget, seed, cache_dir, pairing=pairing, require_fid=require_fid)


# --- generated images ------------------------------------------------------------------------

CODE_SHAPE = (1, 4, 4)


def code_domain(labels, n=40):
    test = torch.zeros(n, *CODE_SHAPE, dtype=torch.uint8)
    test[:, 0, 0, 0] = torch.arange(n, dtype=torch.uint8)
    lab = None if labels is None else torch.tensor(labels)
    return DomainData("codes", Split(test.clone()), Split(test, lab))


def revealed_pairs(images):
    a = (images[:, 0, 0, 0] * 255).round().long()  # the uint8 code k became k / 255
    b = (images[:, 0, 0, 1] * 255).round().long()
    return a, b, images[:, 0, 0, 2]


def test_interpolation_pairs_share_a_class_and_use_the_full_split(tmp_path):
    labels = [k % 5 for k in range(40)]
    novel = code_domain(labels)
    ctx = make_ctx(PairRevealer(CODE_SHAPE), novel, novel, tmp_path, fid_images=100)
    images = generated_images(ctx)
    assert images.shape == (100, *CODE_SHAPE) and images.dtype == torch.float32 and images.device.type == "cpu"
    a, b, alpha = revealed_pairs(images)
    assert (a != b).all()
    assert all(labels[i] == labels[j] for i, j in zip(a.tolist(), b.tolist()))
    # pair-major: 3 points per pair at 0.25 / 0.5 / 0.75, 34 pairs truncated to 100 images
    torch.testing.assert_close(alpha, torch.tensor(ALPHAS * 34)[:100])
    assert (a[:99].view(33, 3) == a[0:99:3, None]).all() and (b[:99].view(33, 3) == b[0:99:3, None]).all()
    assert a.max() >= 16  # drawn from the test images as loaded (a capped split is capped when loaded), not re-capped here
    protocol = generation_protocol(ctx)
    assert protocol["pairs"] == 34 and protocol["generated"] == 100 and protocol["alphas"] == list(ALPHAS)
    assert protocol["pairing"] == "two distinct images of the same class" and "all 40 test images" in protocol["source_images"]
    # reproducible from the run seed; another seed draws other pairs
    again = generated_images(make_ctx(PairRevealer(CODE_SHAPE), novel, novel, tmp_path, fid_images=100))
    other = generated_images(make_ctx(PairRevealer(CODE_SHAPE), novel, novel, tmp_path, fid_images=100, seed=1))
    assert torch.equal(images, again) and not torch.equal(images, other)


def test_any_pairing_and_unlabelled_splits(tmp_path):
    labels = [k % 5 for k in range(40)]
    ctx = make_ctx(PairRevealer(CODE_SHAPE), code_domain(labels), code_domain(labels), tmp_path, fid_images=300, pairing="any")
    a, b, _ = revealed_pairs(generated_images(ctx))
    assert (a != b).all() and any(labels[i] != labels[j] for i, j in zip(a.tolist(), b.tolist()))
    assert generation_protocol(ctx)["pairing"] == "any two distinct images"
    unlabelled = code_domain(None)
    ctx = make_ctx(PairRevealer(CODE_SHAPE), unlabelled, unlabelled, tmp_path, fid_images=30)
    a, b, _ = revealed_pairs(generated_images(ctx))
    assert (a != b).all() and "no labels" in generation_protocol(ctx)["pairing"]
    with pytest.raises(BenchError, match="pairing"):
        generated_images(make_ctx(PairRevealer(CODE_SHAPE), unlabelled, unlabelled, tmp_path, fid_images=30, pairing="nearest"))


def test_generative_models_sample_in_chunks_once(tmp_path):
    pool = torch.rand(1300, *CODE_SHAPE)
    model = Sampler(CODE_SHAPE, pool)
    novel = code_domain(None)
    ctx = make_ctx(model, novel, novel, tmp_path, fid_images=1200)
    images = generated_images(ctx)
    assert model.calls == [500, 500, 200] and torch.equal(images, pool[:1200])
    generated_images(ctx)
    assert model.calls == [500, 500, 200]  # shared within the evaluation
    assert generation_protocol(ctx)["source"] == "model.sample"


# --- FID with a tiny extractor ---------------------------------------------------------------

SMALL = (1, 8, 8)


def tiny_extractor(counter=None):
    def extract(x):
        if counter is not None:
            counter.append(x.shape[0])
        return F.avg_pool2d(x.float(), 2).flatten(1)  # 16-d

    return FeatureExtractor("tiny", "tiny test extractor (2x2 average pool)", "none", torch.device("cpu"), extract, batch_size=32)


def test_fid_pipeline_is_zero_for_identical_sets_and_matches_pytorch_fid(tmp_path):
    novel = uniform_domain("noise", 0, 255, 10, 90, SMALL, 5)
    ref, what = reference_images(make_ctx(FakeModel(SMALL), novel, novel, tmp_path, fid_images=60))
    assert ref.shape[0] == 60 and "60 of the 90 noise test images" in what
    pool = ref[torch.randperm(60)].float() / 255  # the same images, another order
    ctx = make_ctx(Sampler(SMALL, pool), novel, novel, tmp_path, fid_images=60)
    same = fid_score(ctx, tiny_extractor())
    assert abs(same.value) < 1e-9
    assert same.protocol["extractor"].startswith("tiny") and same.protocol["reference"] == what
    assert "float64" in same.protocol["frechet"] and same.protocol["generated"]["source"] == "model.sample"

    darker = (pool * 0.6).clamp(0, 1)
    counter = []
    ctx = make_ctx(Sampler(SMALL, darker), novel, novel, tmp_path, fid_images=60)
    value = fid_score(ctx, tiny_extractor(counter)).value
    assert sum(counter) == 60  # reference statistics came from the on-disk cache
    stats = list((tmp_path / "fid_stats").glob("noise-test-tiny-60-none-*.npz"))
    assert len(stats) == 1
    mu_g, s_g = feature_statistics(F.avg_pool2d(darker, 2).flatten(1))
    mu_r, s_r = feature_statistics(F.avg_pool2d(ref.float() / 255, 2).flatten(1))
    assert value > 0.1 and value == pytest.approx(frechet_distance_scipy(mu_g, s_g, mu_r, s_r), rel=1e-6)


def test_missing_inception_weights_skip_or_fail_when_required(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(inception, "_NETWORKS", {})
    novel = uniform_domain("noise", 0, 255, 10, 20, SMALL, 6)
    fid = all_metrics()["fid"].fn
    ctx = make_ctx(FakeModel(SMALL), novel, novel, tmp_path, fid_images=20)
    expected = tmp_path / "torch-home" / "hub" / "checkpoints" / inception.WEIGHTS_FILE
    with pytest.raises(MetricSkipped) as skipped:
        fid(ctx)
    message = str(skipped.value)
    assert str(expected) in message and "github.com/mseitzer/pytorch-fid" in message and inception.OFFLINE_ENV in message
    assert "generated_images" not in ctx._shared  # skipped before any work
    with pytest.raises(BenchError, match="pt_inception-2015-12-05"):
        fid(make_ctx(FakeModel(SMALL), novel, novel, tmp_path, fid_images=20, require_fid=True))


# --- domain fidelity ---------------------------------------------------------------------------

SHAPE = (1, 28, 28)
DARK = uniform_domain("dark", 0, 80, 200, 32, SHAPE, 0)
BRIGHT = uniform_domain("bright", 150, 255, 150, 30, SHAPE, 1, labels=torch.arange(30) % 3)


@pytest.fixture(scope="module")
def classifier_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fidelity-classifier")


def test_misclassification_is_0_for_novel_looking_and_100_for_train_looking_images(classifier_cache):
    fader = make_ctx(FakeModel(SHAPE), DARK, BRIGHT, classifier_cache, fid_images=30)
    out = misclassification_metric(fader)
    assert out["misclassification"].value == 0.0
    assert out["domain_classifier_accuracy"].value >= 95.0
    assert out["misclassification"].protocol["classifier_accuracy_percent"] == out["domain_classifier_accuracy"].value
    inverter = make_ctx(Inverter(SHAPE), DARK, BRIGHT, classifier_cache, fid_images=30)  # bright -> dark
    assert misclassification_metric(inverter)["misclassification"].value == 100.0


def test_domain_fid_zero_for_the_reference_and_larger_for_the_wrong_domain(classifier_cache):
    reference = BRIGHT.test.images.float() / 255  # fid_images = 30 = the whole test split
    same = fid_domain_metric(make_ctx(Sampler(SHAPE, reference), DARK, BRIGHT, classifier_cache, fid_images=30))["fid_domain"]
    wrong = fid_domain_metric(make_ctx(Inverter(SHAPE), DARK, BRIGHT, classifier_cache, fid_images=30))["fid_domain"]
    assert abs(same.value) < 1e-6 * wrong.value
    assert wrong.value > 1.0
    assert "not comparable to Inception FID" in same.protocol["definition"] and same.protocol["extractor"].endswith("(1024-d)")


def test_domain_metrics_apply_only_to_two_domain_pairs(tmp_path):
    specs = all_metrics()
    one = make_ctx(FakeModel(SHAPE), BRIGHT, BRIGHT, tmp_path, fid_images=30)
    two = make_ctx(FakeModel(SHAPE), DARK, BRIGHT, tmp_path, fid_images=30)
    for name in ("fid_domain", "misclassification"):
        assert not specs[name].applies(one) and specs[name].applies(two)
    assert specs["fid"].applies(one)


def test_long_feature_extraction_and_inversion_show_progress(capsys):
    from metrics.inception import FeatureExtractor

    extractor = FeatureExtractor("fake", "fake", "none", torch.device("cpu"), lambda x: x.flatten(1)[:, :3], batch_size=10, progress=True)
    assert extractor.features(torch.zeros(35, 1, 4, 4, dtype=torch.uint8)).shape == (35, 3)
    assert "fake features" in capsys.readouterr().err
    FeatureExtractor("quiet", "q", "none", torch.device("cpu"), lambda x: x.flatten(1), batch_size=10).features(torch.zeros(35, 1, 2, 2))
    assert "quiet features" not in capsys.readouterr().err


def test_encoding_through_an_inversion_shows_progress(tmp_path, capsys):
    labels = [k % 5 for k in range(40)]
    novel = code_domain(labels)
    model = PairRevealer(CODE_SHAPE)
    model.generative = True  # encoded by inversion, as a GAN is: slow, so a bar is shown
    ctx = make_ctx(model, novel, novel, tmp_path, fid_images=30)
    ctx.progress = True
    x = torch.rand(30, *CODE_SHAPE)
    assert torch.equal(ctx.encode_many(x, 7), torch.cat([model.encode(x[i : i + 7]) for i in range(0, 30, 7)]))
    assert "encoding" in capsys.readouterr().err



def test_inception_weights_are_downloaded_with_their_hash_checked_from_a_local_server(tmp_path, monkeypatch):
    import hashlib
    import http.server
    import threading

    served = tmp_path / "site"
    served.mkdir()
    (served / "weights.pth").write_bytes(b"not really Inception" * 100)
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(inception, "weights_url", lambda: f"http://127.0.0.1:{server.server_port}/weights.pth")
        monkeypatch.setattr(torch.hub, "_hub_dir", None)
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
        digest = hashlib.sha256((served / "weights.pth").read_bytes()).hexdigest()
        wrong = "f" * 8 if digest.startswith("0" * 8) else "0" * 8
        monkeypatch.setattr(inception, "WEIGHTS_HASH", wrong)
        with pytest.raises(MetricSkipped, match="Downloading the FID Inception weights failed .*hash"):
            inception.check_inception_weights(require=False, offline=False)
        assert not inception.weights_path().exists()  # a file with the wrong hash is not kept
        with pytest.raises(MetricSkipped, match="downloads are off"):
            inception.check_inception_weights(require=False, offline=True)
        monkeypatch.setattr(inception, "WEIGHTS_HASH", digest[:8])
        assert inception.check_inception_weights(require=True, offline=False) == inception.weights_path()
        assert inception.weights_path().read_bytes() == (served / "weights.pth").read_bytes()
    finally:
        server.shutdown()

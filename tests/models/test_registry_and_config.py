from dataclasses import dataclass
from typing import Optional

import pytest

from bench.errors import BenchError
from models import registry
from models.base import BenchModel
from models.config import ModelConfig, apply_overrides, hp, split_overrides


def test_builtin_models_registered_with_papers():
    names = registry.names()
    assert {"ae", "pixel-fade"} <= set(names)
    for cls in registry.all_models():
        assert cls.paper and cls.description and cls.family


def test_duplicate_and_malformed_names_are_rejected():
    with pytest.raises(BenchError, match="already taken"):

        @registry.register("ae", family="x", description="d", paper="p")
        class Other(BenchModel):
            pass

    with pytest.raises(BenchError, match="lowercase"):

        @registry.register("Bad_Name", family="x", description="d", paper="p")
        class Bad(BenchModel):
            pass


def test_resolve_all_and_lists():
    assert registry.resolve("all") == registry.names()
    assert registry.resolve("pixel-fade, ae,ae") == ["pixel-fade", "ae"]
    with pytest.raises(BenchError) as err:
        registry.resolve("ae,nope")
    assert "'nope'" in str(err.value) and "pixel-fade" in str(err.value)


def test_plugin_module_registers_and_bad_plugin_is_clear(tmp_path, monkeypatch):
    (tmp_path / "my_plugin_models.py").write_text(
        "from models.registry import register\n"
        "from models.ae import AE\n"
        "@register('my-ae', family='autoencoder', description='test plug-in', paper='none')\n"
        "class MyAE(AE):\n    pass\n"
    )
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.load_plugin("my_plugin_models")
    assert registry.get("my-ae").description == "test plug-in"
    with pytest.raises(BenchError, match="broken_plugin.*boom"):
        registry.load_plugin("broken_plugin")
    with pytest.raises(BenchError, match="failed to import"):
        registry.load_plugin("no_such_module_xyz")


@dataclass
class _Cfg(ModelConfig):
    lr: float = hp(1e-3, min=0.0)
    steps: int = hp(5, min=1, max=10)
    flag: bool = hp(False)
    latent_dim: Optional[int] = hp(None, min=1)
    mode: str = hp("C", choices=("C", "x"))


def test_overrides_parse_each_type():
    cfg = apply_overrides(_Cfg, ["lr=0.5", "steps=7", "flag=true", "latent_dim=16", "mode=x"])
    assert (cfg.lr, cfg.steps, cfg.flag, cfg.latent_dim, cfg.mode) == (0.5, 7, True, 16, "x")
    assert apply_overrides(_Cfg, ["latent_dim=none"]).latent_dim is None
    assert apply_overrides(_Cfg, []) == _Cfg()


@pytest.mark.parametrize(
    "item, message",
    [
        ("nope=1", "Valid keys: lr, steps, flag, latent_dim, mode"),
        ("steps=2.5", "takes an integer"),
        ("steps=11", "out of range"),
        ("lr=-1", "out of range"),
        ("lr=nan", "finite number"),
        ("flag=maybe", "true or false"),
        ("mode=y", "accepted values are C, x"),
        ("justakey", "expected key=value"),
    ],
)
def test_bad_overrides_name_the_problem(item, message):
    with pytest.raises(BenchError, match=message):
        apply_overrides(_Cfg, [item])


def test_split_overrides_routes_by_model():
    classes = {"ae": registry.get("ae").Config, "pixel-fade": registry.get("pixel-fade").Config}
    routed = split_overrides(["lr=0.1", "ae.beta1=0.5"], ["ae", "pixel-fade"], classes)
    assert routed == {"ae": {"lr": "0.1", "beta1": "0.5"}, "pixel-fade": {}}
    with pytest.raises(BenchError, match="no selected model"):
        split_overrides(["unknown=1"], ["ae"], classes)
    with pytest.raises(BenchError, match="not one of the selected models"):
        split_overrides(["vae.lr=1"], ["ae"], classes)

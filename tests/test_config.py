import pytest
import torch

from matlib import config
from matlib.config import ConfigError, pick_device, resolve, resolve_profile

PRESETS = {"smoke": {"steps": 2}, "teach": {"steps": 100}, "full": {"steps": 5000}}


def test_profiles_and_presets():
    cfg = resolve("smoke", presets=PRESETS, seed=3)
    assert (cfg.profile, cfg.steps, cfg.seed, cfg.device.type) == ("smoke", 2, 3, "cpu")
    assert resolve("teach", presets=PRESETS, steps=7).steps == 7
    assert cfg.as_dict()["steps"] == 2


def test_auto_profile_follows_the_hardware():
    assert resolve_profile("auto") == ("full" if torch.cuda.is_available() else "teach")


def test_bad_parameters_are_explained():
    with pytest.raises(ConfigError, match="unknown profile"):
        resolve("fast")
    with pytest.raises(ConfigError, match="not settings of this notebook"):
        resolve("smoke", presets=PRESETS, stepz=3)
    with pytest.raises(ConfigError, match="lack profiles"):
        resolve("smoke", presets={"smoke": {}})
    with pytest.raises(AttributeError, match="no setting 'epochs'"):
        resolve("smoke", presets=PRESETS).epochs


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_request_without_gpu():
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        pick_device("cuda")


def test_seeding_is_reproducible():
    resolve("smoke", seed=11)
    a = torch.rand(3)
    resolve("smoke", seed=11)
    assert torch.equal(a, torch.rand(3))
    assert not resolve("smoke").amp


@pytest.mark.parametrize("value", ["all", 1, 2000])
def test_require_reference_count_accepts_counts_and_all(value):
    config.require_reference_count(value)


@pytest.mark.parametrize("value", [0, -5, 2.5, "some", True, None])
def test_require_reference_count_rejects_the_rest(value):
    with pytest.raises(ConfigError, match="n_reference must be a positive number or 'all'"):
        config.require_reference_count(value)

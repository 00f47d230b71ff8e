"""Profile presets (notebooks/presets/*.yaml) and config.setup, the notebooks' setup cell."""
from pathlib import Path

import pytest
import yaml

from matlib import config, presets
from matlib.course.runner import notebooks

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "notebooks" / "presets").glob("*.yaml"))


def write(folder: Path, text: str) -> Path:
    (folder / "nb.yaml").write_text(text)
    return folder


EXAMPLE = """
all: {lr_schedule: constant, holdout: 0.0}
choices: {lr_schedule: [constant, cosine]}
limits: {holdout: {min: 0, below: 1}}
smoke: {n_samples: 4, n_reference: 10}
teach: {n_samples: 40, n_reference: 100}
full:
  n_samples: 400
  n_reference: all
  by_dataset:
    carbon_24: {n_samples: 100}
"""


def test_every_notebook_has_a_preset_file_with_the_same_settings_in_every_profile():
    assert {p.stem for p in FILES} == {nb.stem for nb in notebooks(ROOT / "notebooks")}
    for path in FILES:
        data = presets.load(path.stem, path.parent)
        names = [set(presets.settings(data, p)) for p in presets.PROFILE_KEYS]
        assert names[0] == names[1] == names[2], f"{path.name}: profiles declare different settings"
        for profile in presets.PROFILE_KEYS:
            presets.check(data, presets.settings(data, profile))


def test_setup_layers_shared_profile_dataset_parameters_and_overrides(tmp_path):
    folder = write(tmp_path, EXAMPLE)
    cfg = config.setup("nb", "full", device="cpu", out_dir=tmp_path / "out", presets_folder=folder)
    assert (cfg.n_samples, cfg.n_reference, cfg.lr_schedule) == (400, "all", "constant")
    assert cfg.out == tmp_path / "out" and cfg.out.is_dir()
    cfg = config.setup("nb", "full", device="cpu", out_dir=tmp_path, dataset="carbon_24", presets_folder=folder)
    assert cfg.n_samples == 100 and cfg.dataset == "carbon_24"
    # a parameter that is not None beats the dataset's entry; overrides beat everything
    cfg = config.setup("nb", "full", device="cpu", out_dir=tmp_path, dataset="carbon_24", presets_folder=folder,
                       n_samples=7, overrides={"lr_schedule": "cosine", "n_reference": 5})
    assert (cfg.n_samples, cfg.lr_schedule, cfg.n_reference) == (7, "cosine", 5)
    assert config.setup("nb", "smoke", out_dir=tmp_path, presets_folder=folder, n_samples=None).n_samples == 4


@pytest.mark.parametrize("bad, message", [
    (dict(overrides={"n_sample": 3}), "n_sample"),
    (dict(overrides={"lr_schedule": "linear"}), "lr_schedule must be one of"),
    (dict(overrides={"n_reference": 0}), "n_reference"),
    (dict(n_steps=3), "n_steps"),
    (dict(overrides="{'n_samples': 3}"), "mapping"),
    (dict(overrides={"holdout": 1.0}), "holdout must be < 1"),
    (dict(overrides={"holdout": -0.1}), "holdout must be >= 0"),
])
def test_setup_refuses_unknown_settings_and_values(tmp_path, bad, message):
    folder = write(tmp_path, EXAMPLE)
    with pytest.raises(config.ConfigError, match=message):
        config.setup("nb", "smoke", out_dir=tmp_path, presets_folder=folder, **bad)


@pytest.mark.parametrize("text, message", [
    ("smoke: {seed: 1}\nteach: {}\nfull: {}\n", "name the run itself"),
    ("smoke: {}\nteach: {}\nfull: {by_dataset: {mp20: {a: 1}}}\n", "names no dataset"),
    ("smoke: {}\nteach: {}\nfull: {}\nlimits: {a: {least: 0}}\n", "limits know"),
    ("- smoke\n- teach\n", "mappings"),
])
def test_malformed_preset_files_get_a_clear_error(tmp_path, text, message):
    with pytest.raises(presets.PresetError, match=message):
        presets.load("nb", write(tmp_path, text))


def test_an_overridden_dataset_picks_its_presets(tmp_path):
    folder = write(tmp_path, EXAMPLE.replace("all: {", "all: {dataset: perov_5, "))
    cfg = config.setup("nb", "full", out_dir=tmp_path, presets_folder=folder, overrides={"dataset": "carbon_24"})
    assert (cfg.dataset, cfg.n_samples) == ("carbon_24", 100)


def test_a_preset_file_must_declare_every_profile(tmp_path):
    folder = write(tmp_path, "smoke: {a: 1}\nteach: {a: 2}\nsurprise: {}\n")
    with pytest.raises(presets.PresetError, match="surprise.*full"):
        presets.load("nb", folder)
    with pytest.raises(presets.PresetError, match="not found"):
        presets.load("other", folder)


def test_setup_seeds_like_resolve(tmp_path):
    import torch

    folder = write(tmp_path, EXAMPLE)
    config.setup("nb", "smoke", seed=3, out_dir=tmp_path, presets_folder=folder)
    first = torch.rand(3)
    config.resolve("smoke", seed=3)
    assert torch.equal(first, torch.rand(3))


def test_preset_files_parse_as_plain_yaml():
    for path in FILES:
        assert isinstance(yaml.safe_load(path.read_text()), dict)

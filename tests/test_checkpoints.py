import json

import pytest
import torch

from matlib import checkpoints
from matlib.checkpoints import CheckpointError
from matlib.course import reseal


def make_model(width=8):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.SiLU(), torch.nn.Linear(width, 1))


def train_a_bit(model, opt, steps=5):
    for _ in range(steps):
        loss = model(torch.randn(16, 3)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_round_trip_with_optimizer_state(tmp_path):
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_a_bit(model, opt)
    path = checkpoints.save(tmp_path / "m", model, optimizer=opt, config={"width": 8}, metrics={"mae": 0.1}, step=5)
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["sha256"] and manifest["config"] == {"width": 8} and manifest["step"] == 5
    other = make_model()
    torch.nn.init.zeros_(other[0].weight)
    other_opt = torch.optim.Adam(other.parameters(), lr=1e-3)
    ckpt = checkpoints.load(path, model=other, optimizer=other_opt)
    assert ckpt.metrics == {"mae": 0.1}
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], other_opt.state_dict()["state"][0]["exp_avg"])
    assert other_opt.state_dict()["param_groups"][0]["betas"] == (0.9, 0.999)


def test_corrupt_weights_are_refused(tmp_path):
    path = checkpoints.save(tmp_path / "m", make_model())
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoints.load(tmp_path / "m", model=make_model())


def test_missing_and_mismatched(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        checkpoints.load(tmp_path / "none")
    checkpoints.save(tmp_path / "m", make_model(width=8))
    with pytest.raises(CheckpointError, match="does not fit"):
        checkpoints.load(tmp_path / "m", model=make_model(width=4))
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoints.load(tmp_path / "m")


def test_manifest_values_are_json_safe(tmp_path):
    import numpy as np

    checkpoints.save(tmp_path / "m", make_model(), metrics={"mae": float("nan"), "n": np.int64(3),
                                                            "curve": torch.tensor([1.0, 2.0]), "best": torch.tensor(0.5)})
    metrics = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert metrics == {"mae": None, "n": 3, "curve": [1.0, 2.0], "best": 0.5}


def test_half_precision_narrows_parameters_but_keeps_buffers_exact(tmp_path):
    from safetensors.torch import load_file

    model = make_model()
    model.register_buffer("target_mean", torch.tensor([-154.3172]))   # fp16 would round it to -154.25
    checkpoints.save(tmp_path / "h", model, weights_dtype=torch.float16)
    stored = load_file(str(tmp_path / "h.safetensors"))
    assert stored["model/0.weight"].dtype == torch.float16
    assert stored["model/target_mean"].dtype == torch.float32
    other = make_model()
    other.register_buffer("target_mean", torch.zeros(1))
    checkpoints.load(tmp_path / "h", model=other)
    assert other.target_mean.item() == model.target_mean.item()
    assert torch.allclose(other[0].weight, model[0].weight, rtol=1e-3)


def test_saved_files_get_ordinary_permissions(tmp_path):
    import stat

    from matlib import paths

    checkpoints.save(tmp_path / "model", torch.nn.Linear(2, 1))
    expected = 0o666 & ~paths._UMASK                # what any new file of this user gets
    for suffix in (".safetensors", ".json"):       # safetensors alone would write 0600
        assert stat.S_IMODE((tmp_path / f"model{suffix}").stat().st_mode) == expected
    if not paths._UMASK & 0o044:                   # the usual umask 022: others can read a judge
        assert expected & 0o044 == 0o044


def test_non_finite_weights_are_refused_on_load_even_with_a_rehashed_manifest(tmp_path):
    from safetensors.torch import load_file, save_file

    from matlib.datasets import sha256_file

    checkpoints.save(tmp_path / "m", make_model())
    tensors = load_file(str(tmp_path / "m.safetensors"))
    name = next(k for k in tensors if k.endswith("weight"))
    tensors[name][0, 0] = float("nan")
    save_file(tensors, str(tmp_path / "m.safetensors"))
    manifest = json.loads((tmp_path / "m.json").read_text())
    manifest["sha256"] = sha256_file(tmp_path / "m.safetensors")        # the edit covered its tracks
    manifest["digest"] = checkpoints.manifest_digest(manifest)
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="NaN or inf"):
        checkpoints.load(tmp_path / "m")


@pytest.mark.parametrize("edit", ["config", "metrics", "trained_on", "step", "sha256"])
def test_an_edited_manifest_is_refused(tmp_path, edit):
    checkpoints.save(tmp_path / "m", make_model(), config={"width": 8}, metrics={"mae": 0.1}, step=3,
                     trained_on={"dataset": "mp_20", "split": "val"})
    manifest = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps(manifest))            # layout alone is no edit
    assert checkpoints.load(tmp_path / "m").metrics == {"mae": 0.1}
    changed = {"config": {"width": 9}, "metrics": {"mae": 0.01}, "trained_on": {"dataset": "perov_5", "split": "val"},
               "step": 30, "sha256": "0" * 64}[edit]
    (tmp_path / "m.json").write_text(json.dumps({**manifest, edit: changed}))
    with pytest.raises(CheckpointError, match="was edited after it was saved"):
        checkpoints.load(tmp_path / "m")
    (tmp_path / "m.json").write_text(json.dumps(manifest).replace('"mae": 0.1', '"mae": NaN'))
    with pytest.raises(CheckpointError, match="was edited after it was saved"):    # not a bare ValueError
        checkpoints.load(tmp_path / "m")


def test_require_checks_what_a_checkpoint_was_trained_on(tmp_path):
    checkpoints.save(tmp_path / "m", make_model(), trained_on={"dataset": "mp_20", "split": "val", "property": "band_gap"})
    ckpt = checkpoints.load(tmp_path / "m")
    checkpoints.require(ckpt, dataset="mp_20", property="band_gap", split=None)     # None: not checked
    with pytest.raises(CheckpointError, match="trained on dataset 'mp_20', not 'perov_5'"):
        checkpoints.require(ckpt, dataset="perov_5")
    with pytest.raises(CheckpointError, match="trained on property 'band_gap', not 'heat_ref'"):
        checkpoints.require(ckpt, property="heat_ref")
    checkpoints.save(tmp_path / "bare", make_model())
    with pytest.raises(CheckpointError, match="records no dataset .* save it with trained_on"):
        checkpoints.require(checkpoints.load(tmp_path / "bare"), dataset="mp_20")


def test_an_older_manifest_is_refused_until_resealed(tmp_path):
    checkpoints.save(tmp_path / "m", make_model(), config={"width": 8})
    manifest = json.loads((tmp_path / "m.json").read_text())
    for key in ("digest", "trained_on"):                                  # as matlib-checkpoint/1 wrote it
        del manifest[key]
    manifest["format"] = "matlib-checkpoint/1"
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="older matlib.*reseal"):
        checkpoints.load(tmp_path / "m")
    reseal.main([str(tmp_path / "m"), "--dataset", "perov_5", "--split", "val"])
    ckpt = checkpoints.load(tmp_path / "m")
    assert ckpt.trained_on == {"dataset": "perov_5", "split": "val"} and ckpt.config == {"width": 8}
    with pytest.raises(CheckpointError, match="only matlib-checkpoint/1"):     # no way round the digest
        reseal.reseal(tmp_path / "m", {"dataset": "mp_20", "split": "val"})


def test_committed_checkpoints_load_and_record_what_they_were_trained_on():
    from matlib import paths

    manifests = sorted((paths.project_root() / "data" / "checkpoints").glob("*/*.json"))
    assert len(manifests) >= 8
    for manifest in manifests:
        ckpt = checkpoints.load(manifest.with_suffix(""))
        assert {"dataset", "split"} <= set(ckpt.trained_on), manifest
        for key, recorded in (("dataset", "dataset"), ("train_split", "split"), ("property", "property")):
            if key in ckpt.config:                       # judges and MatGAN also name them in their config
                assert ckpt.config[key] == ckpt.trained_on[recorded], manifest
        if "train_split" in ckpt.metrics:                # the generators recorded their split in their metrics
            assert ckpt.metrics["train_split"] == ckpt.trained_on["split"], manifest


def test_a_reseal_that_fails_leaves_the_manifest_as_it_was(tmp_path):
    from safetensors.torch import load_file, save_file

    from matlib.datasets import sha256_file

    checkpoints.save(tmp_path / "m", make_model())
    tensors = load_file(str(tmp_path / "m.safetensors"))
    tensors[next(iter(tensors))].fill_(float("nan"))
    save_file(tensors, str(tmp_path / "m.safetensors"))
    manifest = json.loads((tmp_path / "m.json").read_text())
    for key in ("digest", "trained_on"):
        del manifest[key]
    manifest.update(format="matlib-checkpoint/1", sha256=sha256_file(tmp_path / "m.safetensors"))
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    before = (tmp_path / "m.json").read_text()
    with pytest.raises(CheckpointError, match="NaN or inf"):
        reseal.reseal(tmp_path / "m", {"dataset": "mp_20", "split": "val"})
    assert (tmp_path / "m.json").read_text() == before

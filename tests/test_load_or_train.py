"""load_or_train: one route to a trained model for every training notebook."""
from types import SimpleNamespace

import pytest
import torch

from matlib import checkpoints
from matlib.load_or_train import load_or_train, pick_checkpoint
from matlib.training import fit


class LinearStore:
    """A real checkpoint store (safetensors + manifest) for a small linear model."""

    exists = staticmethod(checkpoints.exists)

    @staticmethod
    def save(stem, model, *, dataset, split, step, extra, metrics):
        return checkpoints.save(stem, model, config={"n": model.in_features}, metrics=metrics, extra=extra,
                                step=step, trained_on={"dataset": dataset, "split": split})

    @staticmethod
    def load(stem, device="cpu", dataset=None):
        return checkpoints.load_model(stem, lambda c: torch.nn.Linear(c["n"], 1), device, dataset=dataset)


def train(model, steps=5):
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x.sum(1, keepdim=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = fit(model, optimizer, lambda m, b: {"loss": torch.nn.functional.mse_loss(m(b[0]), b[1])}, [(x, y)] * steps,
              max_steps=steps, log_every=1, resume=False)
    return model, run


def test_trains_saves_then_loads_the_same_weights(tmp_path):
    first = load_or_train(LinearStore, train, model=torch.nn.Linear(3, 1), dataset="toy", split="val",
                          save_to=tmp_path / "a")
    assert first.loaded is None and first.steps == 5 and first.splits == ["val"] and first.saved.exists()
    manifest = checkpoints.load(tmp_path / "a")
    assert manifest.trained_on == {"dataset": "toy", "split": "val"} and manifest.metrics["train_split"] == "val"
    again = load_or_train(LinearStore, lambda m: pytest.fail("a checkpoint was found: no training"),
                          dataset="toy", split="val", save_to=tmp_path / "b", checkpoint=tmp_path / "a")
    assert again.loaded == tmp_path / "a" and again.saved is None and again.run is None
    assert again.steps == 5 and again.history == first.history
    assert torch.allclose(again.model.weight, first.model.weight)


def test_a_warm_start_continues_steps_and_history_and_records_both_splits(tmp_path):
    load_or_train(LinearStore, train, model=torch.nn.Linear(3, 1), dataset="toy", split="val", save_to=tmp_path / "a")
    more = load_or_train(LinearStore, lambda m: train(m, 3), dataset="toy", split="train", save_to=tmp_path / "b",
                         warm_start=tmp_path / "a")
    assert more.steps == 8 and more.splits == ["train", "val"]
    assert [row["step"] for row in more.history][-3:] == [6, 7, 8]
    assert checkpoints.load(tmp_path / "b").step == 8
    with pytest.raises(ValueError, match="warm_start"):
        load_or_train(LinearStore, train, dataset="toy", split="val", save_to=tmp_path / "c",
                      checkpoint=tmp_path / "a", warm_start=tmp_path / "a")
    with pytest.raises(checkpoints.CheckpointError, match="trained on"):   # another dataset's checkpoint is refused
        load_or_train(LinearStore, train, dataset="other", split="val", save_to=tmp_path / "c", checkpoint=tmp_path / "a")


def test_pick_checkpoint(tmp_path):
    load_or_train(LinearStore, train, model=torch.nn.Linear(3, 1), dataset="toy", split="val", save_to=tmp_path / "a")
    assert pick_checkpoint(None, None, tmp_path / "missing", tmp_path / "a") == tmp_path / "a"
    assert pick_checkpoint(None, tmp_path / "missing") is None
    assert pick_checkpoint(tmp_path / "a", tmp_path / "missing") == tmp_path / "a"
    with pytest.raises(FileNotFoundError, match="missing"):
        pick_checkpoint(tmp_path / "missing", tmp_path / "a")


def test_a_committed_judge_loads_through_the_same_route():
    from matlib import judges

    stem = judges.judge_stem("perov_5", "heat_ref")
    got = load_or_train(judges.JudgeStore("heat_ref"), lambda m: pytest.fail("no training"), dataset="perov_5",
                        split="val", checkpoint=pick_checkpoint(None, stem), save_to=None)
    direct = judges.load_judge("perov_5", "heat_ref")
    assert got.loaded == stem and got.splits == [direct.trained_on]
    assert all(torch.equal(a, b) for a, b in zip(got.model.state_dict().values(), direct.model.state_dict().values()))
    with pytest.raises(checkpoints.CheckpointError, match="property"):   # a judge answers for its own property only
        load_or_train(judges.JudgeStore("dir_gap"), train, dataset="perov_5", split="val", checkpoint=stem, save_to=None)


def test_committed_adapters_load_on_their_base_and_are_saved_again(tmp_path):
    from matlib import paths
    from matlib.diffusion import store

    base, _ = store.load(paths.checkpoints_dir() / "diffusion" / "mp_20", dataset="mp_20")
    stem = paths.checkpoints_dir() / "adapters" / "mp_20__band_gap"
    got = load_or_train(store.AdapterStore(base, "mp_20", "band_gap"), lambda m: pytest.fail("no training"),
                        dataset="mp_20", split="val", checkpoint=stem, save_to=tmp_path / "copy", save_loaded=True)
    committed, copy = checkpoints.load(stem), checkpoints.load(tmp_path / "copy")
    assert got.steps == committed.step == copy.step and got.seconds is not None
    assert copy.trained_on == committed.trained_on and copy.manifest["sha256"] == committed.manifest["sha256"]
    assert len(got.history) == len(committed.manifest["extra"]["history"])

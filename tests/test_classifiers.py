"""Property classifiers: condition labels, temperature scaling, reliability/ECE, and a tiny
classifier trained on MP-20 end to end (log-probabilities on batches, checkpoint round trip)."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matlib import checkpoints, classifiers, judges, viz
from matlib.batching import GraphCache
from matlib.classifiers import CONDITIONS, ClassifierConfig
from matlib.crystal import CrystalBatch
from matlib.datasets import load_split
from matlib.load_or_train import load_or_train


def test_labels_per_condition_from_a_frame():
    frame = pd.DataFrame({"band_gap": [0.0, 0.5, 0.51, 2.5, 3.0, 3.5, 3.51, np.nan],
                          "formation_energy_per_atom": [-3.0, -2.0, -1.99, 0.2, -2.5, -0.5, 1.0, -2.1]})
    assert CONDITIONS["gap_window"].labels(frame).tolist() == [0, 0, 0, 1, 1, 1, 0, 0]
    assert CONDITIONS["insulating"].labels(frame).tolist() == [0, 0, 1, 1, 1, 1, 1, 0]   # strictly above 0.5
    bound = frame["formation_energy_per_atom"].to_numpy()
    assert CONDITIONS["strongly_bound"].labels(bound).tolist() == [1, 1, 0, 0, 1, 0, 0, 1]
    matrix = classifiers.label_matrix(frame, ["gap_window", "strongly_bound"])
    assert matrix.shape == (8, 2) and np.isnan(matrix[7, 0]) and matrix[7, 1] == 1.0   # missing gap: no label
    assert classifiers.positive_rates(frame, ["insulating"])["insulating"] == pytest.approx(5 / 7)


def calibrated_set(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, size=(n, 2))
    labels = (rng.random((n, 2)) < 1 / (1 + np.exp(-logits))).astype(float)
    return torch.tensor(logits), torch.tensor(labels)


def test_temperature_scaling_undoes_overconfident_logits_and_lowers_nll():
    logits, labels = calibrated_set()
    scale = torch.tensor([3.0, 0.5])             # over- and under-confident
    labels[:50, 1] = float("nan")                # unlabelled rows are ignored
    temperature = classifiers.fit_temperature(logits * scale, labels)
    assert temperature.numpy() == pytest.approx(scale.numpy(), rel=0.1)
    before = classifiers.binary_nll(logits * scale, labels)
    after = classifiers.binary_nll(logits * scale / temperature, labels)
    assert (after < before).all()
    one_class = classifiers.fit_temperature(logits[:, :1] * 3, torch.ones(len(logits), 1))
    assert one_class.item() == 1.0               # nothing to calibrate against


def test_reliability_bins_count_every_pair_and_ece_tells_calibration():
    logits, labels = calibrated_set()
    p = torch.sigmoid(logits[:, 0]).numpy()
    y = labels[:, 0].numpy()
    table = classifiers.reliability(p, y, bins=10)
    assert list(table.columns) == ["bin", "low", "high", "mean_predicted", "observed_frequency", "count"]
    assert table["count"].sum() == len(p)
    assert classifiers.expected_calibration_error(p, y) < 0.03
    overconfident = torch.sigmoid(3 * logits[:, 0]).numpy()
    assert classifiers.expected_calibration_error(overconfident, y) > 0.05
    with_nan = np.r_[p, np.nan]
    assert classifiers.reliability(with_nan, np.r_[y, 1.0])["count"].sum() == len(p)
    ax = viz.plot_reliability({"calibrated": table, "×3": classifiers.reliability(overconfident, y)})
    assert len(ax.lines) == 3


@pytest.fixture(scope="module")
def tiny(data_root, tmp_path_factory):
    """A classifier trained for a few dozen steps on 200 MP-20 val crystals, saved and reloaded."""
    data = load_split("mp_20", "val", limit=200, progress_bar=False)
    config = ClassifierConfig(dim=16, layers=2, rbf=16, cutoff=5.0, max_neighbors=12)
    cache = GraphCache(data.batch(), config.cutoff, config.max_neighbors)
    labels = classifiers.label_matrix(data.table, config.conditions)
    model, run = classifiers.train_classifier(cache, labels, config, steps=40, batch_size=32, seed=0,
                                              holdout_fraction=0.25, eval_every=20)
    stem = tmp_path_factory.mktemp("classifiers") / "mp_20"
    classifiers.save_classifier(model, stem, dataset="mp_20", train_split="val", metrics={"note": "test"})
    return data, classifiers.Classifier(model), classifiers.load_classifier(stem, dataset="mp_20"), run, stem


def test_tiny_classifier_gives_probabilities_and_matching_log_probabilities(tiny):
    data, classifier, _, run, _ = tiny
    assert run.steps == 40 and "temperatures" in run.history[-1]
    structures = data.structures[:20]
    p = classifier.probabilities(structures)
    assert p.shape == (20, 3) and ((p >= 0) & (p <= 1)).all()
    log_p = classifier.log_probability(CrystalBatch.from_structures(structures))
    assert log_p.shape == (20, 3) and torch.isfinite(log_p).all()
    assert log_p.exp().numpy() == pytest.approx(p, rel=1e-5, abs=1e-7)
    assert not np.allclose(classifier.probabilities(structures, calibrated=False), p) or \
        np.allclose(classifier.temperatures, 1.0)


def test_unscoreable_structures_get_nan_and_are_counted(tiny):
    data, classifier, _, _, _ = tiny
    collapsed = Structure(Lattice.cubic(0.5), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    p = classifier.probabilities([data.structures[0], collapsed])
    assert np.isfinite(p[0]).all() and np.isnan(p[1]).all() and classifier.last_unscoreable == 1
    log_p = classifier.log_probability(CrystalBatch.from_structures([collapsed, data.structures[0]]))
    assert torch.isnan(log_p[0]).all() and torch.isfinite(log_p[1]).all()


def test_save_load_round_trip_gives_identical_outputs(tiny):
    data, classifier, loaded, _, stem = tiny
    structures = data.structures[:30]
    assert np.array_equal(loaded.probabilities(structures), classifier.probabilities(structures))
    assert loaded.temperatures == pytest.approx(classifier.temperatures)
    config = loaded.manifest["config"]
    assert config["temperatures"] == pytest.approx(classifier.temperatures.tolist())
    assert set(config["conditions"]) == set(CONDITIONS) and config["train_split"] == "val"
    assert "gap_window" in loaded.describe()
    with pytest.raises(checkpoints.CheckpointError, match="not 'perov_5'"):
        classifiers.load_classifier(stem, dataset="perov_5")


def test_a_judge_checkpoint_is_not_a_classifier(tiny, tmp_path):
    model = judges.PeriodicGNN(judges.GNNConfig(targets=("band_gap",), dim=8, layers=1, rbf=8))
    judges.save_judge(model, "mp_20", "band_gap", train_split="val", metrics={}, folder=tmp_path)
    with pytest.raises(checkpoints.CheckpointError, match="not a property classifier"):
        classifiers.load_classifier(judges.judge_stem("mp_20", "band_gap", tmp_path))


def test_store_loads_through_load_or_train(tiny):
    _, classifier, _, _, stem = tiny
    trained = load_or_train(classifiers.ClassifierStore(), lambda m: None, dataset="mp_20", split="val",
                            save_to=None, checkpoint=stem)
    assert trained.splits == ["val"] and torch.equal(trained.model.temperature, classifier.model.temperature)


def test_evaluate_reports_auroc_and_ece_per_condition(tiny):
    data, classifier, _, _, _ = tiny
    report = classifiers.evaluate(classifier, data.structures[:60], data.table.iloc[:60])
    assert list(report["condition"]) == list(CONDITIONS)
    assert report["n"].eq(60).all() and report["ece_scaled"].between(0, 1).all()
    assert all(math.isnan(a) or 0 <= a <= 1 for a in report["auroc"])

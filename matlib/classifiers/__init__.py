"""Calibrated property classifiers on notebook 01's periodic GNN, for property-conditioned sampling.

``conditions``: the declared yes/no questions (CONDITIONS) and their labels; ``calibration``:
temperature scaling, reliability tables and ECE; ``model``: the network and its training;
``classifier``: the `Classifier` a sampler calls, its checkpoint and store.
"""
from .calibration import binary_nll, expected_calibration_error, fit_temperature, reliability
from .classifier import (Classifier, ClassifierStore, classifier_stem, evaluate, load_classifier, save_classifier,
                         scoreable_mask)
from .conditions import CONDITIONS, Condition, label_matrix, positive_rates
from .model import ClassifierConfig, ConditionGNN, calibrate, classification_step, logits_on, train_classifier

__all__ = ["CONDITIONS", "Classifier", "ClassifierConfig", "ClassifierStore", "Condition", "ConditionGNN",
           "binary_nll", "calibrate", "classification_step", "classifier_stem", "evaluate",
           "expected_calibration_error", "fit_temperature", "label_matrix", "load_classifier", "logits_on",
           "positive_rates", "reliability", "save_classifier", "scoreable_mask", "train_classifier"]

"""An autoregressive, symmetry-aware crystal generator (CrystalFormer-style) with an exact likelihood.

``sites``: crystals as padded Wyckoff-site tensors and the sequence rules; ``densities``: von Mises
and Gaussian mixtures; ``model``: the transformer and its log-likelihood; ``sampling``: ancestral
sampling and decoding; ``training``: maximum likelihood and the checkpoint store; ``data``: a split
as cached Wyckoff sequences.
"""
from .data import WyckoffSplit, wyckoff_split
from .model import ARConfig, WyckoffTransformer, nll_loss
from .sampling import sample, to_structures
from .sites import Rules, SiteBatch, crystals_of, site_batch
from .training import ARStore, mean_nll, train

__all__ = ["ARConfig", "ARStore", "Rules", "SiteBatch", "WyckoffSplit", "WyckoffTransformer", "crystals_of",
           "mean_nll", "nll_loss", "sample", "site_batch", "to_structures", "train", "wyckoff_split"]

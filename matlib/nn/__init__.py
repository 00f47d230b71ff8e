"""Neural building blocks shared by the generators (``matlib.cdvae`` and ``matlib.diffusion`` both
import them; neither imports the other).

``gnn`` (the periodic message-passing network: CDVAE's encoder and the property judges),
``elements`` (the element vocabulary: [MASK] and Z = 1..100), ``element_features`` (periodic-table
features of every element), ``edges`` (all-pairs edge builder), ``score_network`` (the all-pairs
periodic score network, its time and Fourier features) and ``wrapped_normal`` (variance-exploding
wrapped-normal noise on fractional coordinates).
"""
from .elements import MASK_TOKEN, NUM_ELEMENTS
from .edges import all_pair_edges
from .element_features import element_feature_table
from .score_network import DenoiserConfig, ScoreNetwork, fourier_features, symmetric_from_six, time_features
from .wrapped_normal import WrappedNormalVE, wrapped_normal_score

__all__ = ["MASK_TOKEN", "NUM_ELEMENTS", "all_pair_edges", "element_feature_table", "DenoiserConfig", "ScoreNetwork",
           "fourier_features", "symmetric_from_six", "time_features", "WrappedNormalVE", "wrapped_normal_score"]

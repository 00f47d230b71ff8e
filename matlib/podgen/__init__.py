"""PODGen: Markov-chain Monte Carlo over a generative model times property classifiers.

``metropolis``: the acceptance rule, annealing schedule and convergence test (one rule for every
state space); ``moves``: the three symmetric moves on Wyckoff-site chains; ``sampler``: the target
density and the annealed, harvesting chains; ``crystals``: classifier terms, harvest tests and
de-duplication.
"""
from . import moves
from .crystals import classifier_term, distinct, harvest_test, site_crystals
from .metropolis import accept, converged, cosine_temperatures, metropolis_chain
from .moves import MoveConfig
from .sampler import ChainRun, PodgenConfig, TargetDensity, run_chains

__all__ = ["ChainRun", "MoveConfig", "PodgenConfig", "TargetDensity", "accept", "classifier_term", "converged",
           "cosine_temperatures", "distinct", "harvest_test", "metropolis_chain", "moves", "run_chains",
           "site_crystals"]

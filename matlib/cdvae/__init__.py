"""CDVAE (Xie et al., ICLR 2022), built from the series' own parts.

``lattice_scaler`` (lengths / N^(1/3) and angles, standardised), ``encoder`` (periodic GNN ->
Gaussian posterior), ``heads`` (atom count, lattice, composition from z), ``decoder`` (noise levels
and the z-conditioned score network), ``model`` (the losses), ``langevin`` (annealed Langevin decoding), ``store`` (checkpoints).
Con-CDVAE on top: ``conditioning`` (property embeddings, z_cond, the predictor), ``conditional``
(the stage-1 model) and ``latent_prior`` (the stage-2 DDPM over z).
"""
from .conditional import ConCDVAE, ConCDVAEConfig, ConditionedSamples, generate
from .conditioning import ConditionSpec, condition_values, crystal_system_index, crystal_system_spec, fill_missing
from .decoder import NoiseLevels, ScoreDecoder
from .encoder import CrystalEncoder
from .heads import PropertyHeads
from .langevin import DecodeResult, LangevinConfig, decode, prior_draws
from .latent_prior import LatentPrior, LatentPriorConfig, closest_to_target, latent_minibatches
from .lattice_scaler import LatticeScaler
from .model import CDVAE, MODEL_SIZES, WEIGHTS, CDVAEConfig
from . import store

__all__ = ["NoiseLevels", "ScoreDecoder", "CrystalEncoder", "PropertyHeads", "DecodeResult", "LangevinConfig",
           "decode", "prior_draws", "LatticeScaler", "CDVAE", "MODEL_SIZES", "WEIGHTS", "CDVAEConfig", "store", "ConCDVAE", "ConCDVAEConfig",
           "ConditionedSamples", "generate", "ConditionSpec", "condition_values", "crystal_system_index",
           "crystal_system_spec", "fill_missing", "LatentPrior", "LatentPriorConfig",
           "closest_to_target", "latent_minibatches"]

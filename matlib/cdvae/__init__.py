"""CDVAE (Xie et al., ICLR 2022), built from the series' own parts.

``lattice_scaler`` (lengths / N^(1/3) and angles, standardised), ``encoder`` (periodic GNN ->
Gaussian posterior), ``heads`` (atom count, lattice, composition from z), ``decoder`` (noise levels
and the z-conditioned score network), ``model`` (the losses), ``langevin`` (annealed Langevin decoding), ``store`` (checkpoints).
"""
from .decoder import NoiseLevels, ScoreDecoder
from .encoder import CrystalEncoder
from .heads import PropertyHeads
from .langevin import DecodeResult, LangevinConfig, decode
from .lattice_scaler import LatticeScaler
from .model import CDVAE, WEIGHTS, CDVAEConfig
from . import store

__all__ = ["NoiseLevels", "ScoreDecoder", "CrystalEncoder", "PropertyHeads", "DecodeResult", "LangevinConfig",
           "decode", "LatticeScaler", "CDVAE", "WEIGHTS", "CDVAEConfig", "store"]

"""MatterGen-style joint diffusion over atom types, fractional coordinates and the lattice.

One concept per module: ``atom_types`` (absorbing-state D3PM with a mask token), ``lattice``
(symmetric cell drifting to a cubic cell of the mean density), ``model`` (the three processes +
network + loss),
``sampler`` (predictor-corrector reverse process), ``store`` (checkpoints), ``adapters``
(zero-initialised property adapters) and ``guidance`` (classifier-free guidance).
The score network, the wrapped normal on the torus (coordinates) and the element vocabulary and
features are shared with CDVAE and live in ``matlib.nn``; they are re-exported here.
"""
from .atom_types import MASK_TOKEN, NUM_ELEMENTS, MaskedTypeDiffusion
from ..nn import WrappedNormalVE, wrapped_normal_score
from .lattice import SymmetricLatticeVP, symmetric_lattice, symmetric_noise
from ..nn import DenoiserConfig, ScoreNetwork
from .model import TYPE_LOSSES, CrystalDiffusion, DiffusionConfig
from .sampler import SamplerConfig, SampleResult, Trajectory, sample
from .adapters import ConditionedDiffusion, PropertyAdapters, ScalarEncoding
from .guidance import guided_denoiser
from . import store

__all__ = ["MASK_TOKEN", "NUM_ELEMENTS", "MaskedTypeDiffusion", "WrappedNormalVE", "wrapped_normal_score",
           "SymmetricLatticeVP", "symmetric_lattice", "symmetric_noise", "DenoiserConfig", "ScoreNetwork",
           "CrystalDiffusion", "DiffusionConfig", "TYPE_LOSSES", "SamplerConfig", "SampleResult", "Trajectory", "sample", "store",
           "ConditionedDiffusion", "PropertyAdapters", "ScalarEncoding", "guided_denoiser"]

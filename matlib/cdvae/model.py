"""CDVAE (Xie et al. 2022): encoder, property heads, score decoder, and the training loss.

loss = 1·CE(atom count) + 10·MSE(lattice) + 1·CE(composition) + 10·coordinate score + 1·CE(types)
       + 0.01·KL   (CDVAE's weights). The decoder is trained on the true lattice and atom count
(CDVAE's teacher forcing), at one random noise level per crystal.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..crystal import CrystalBatch
from ..nn import DenoiserConfig, all_pair_edges
from ..nn.gnn import GNNConfig
from ..nn.weighting import weighted_mean
from ..packing import PackedBatch, edges_and_weights
from .decoder import NoiseLevels, ScoreDecoder
from .encoder import CrystalEncoder
from .heads import PropertyHeads
from .lattice_scaler import LatticeScaler

WEIGHTS = {"num_atoms": 1.0, "lattice": 10.0, "composition": 1.0, "coords": 10.0, "types": 1.0, "kl": 0.01}


@dataclass
class CDVAEConfig:
    latent: int = 256
    hidden: int = 256
    max_atoms: int = 20
    encoder: GNNConfig = field(default_factory=lambda: GNNConfig(targets=("z",), dim=128, layers=4))
    decoder: DenoiserConfig = field(default_factory=lambda: DenoiserConfig(dim=128, layers=3))
    levels: int = 50
    weights: dict = field(default_factory=lambda: dict(WEIGHTS))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["encoder"] = self.encoder.as_dict()
        return d

    @classmethod
    def from_dict(cls, values: dict) -> "CDVAEConfig":
        values = dict(values)
        encoder = dict(values.pop("encoder"))
        encoder["targets"] = tuple(encoder["targets"])
        return cls(encoder=GNNConfig(**encoder), decoder=DenoiserConfig(**values.pop("decoder")), **values)


def _size(latent: int, hidden: int, encoder_dim: int, encoder_layers: int, decoder_dim: int, decoder_layers: int,
          levels: int = 50) -> dict:
    return dict(latent=latent, hidden=hidden, levels=levels,
                encoder=GNNConfig(targets=("z",), dim=encoder_dim, layers=encoder_layers),
                decoder=DenoiserConfig(dim=decoder_dim, layers=decoder_layers))


# CDVAEConfig overrides by name, shared by the notebooks that train a CDVAE
MODEL_SIZES = {"tiny": _size(32, 64, 32, 2, 48, 2, levels=10),   # proves the pipeline
               "small": _size(128, 128, 64, 3, 160, 4),          # 1.1 M: the committed Perov-5 checkpoint
               "large": _size(256, 256, 128, 4, 192, 4)}         # 2.1 M


class CDVAE(nn.Module):
    def __init__(self, config: CDVAEConfig = CDVAEConfig()):
        super().__init__()
        self.config = config
        self.encoder = CrystalEncoder(config.encoder, config.latent)
        self.heads = PropertyHeads(config.latent, config.hidden, config.max_atoms)
        self.decoder = ScoreDecoder(config.decoder, config.latent)
        self.noise = NoiseLevels(config.levels)
        self.lattice_scaler = LatticeScaler()

    @classmethod
    def from_data(cls, batch: CrystalBatch, **overrides) -> "CDVAE":
        """A model whose atom-count range and lattice standardisation come from ``batch``."""
        model = cls(CDVAEConfig(max_atoms=int(batch.num_atoms.max()), **overrides))
        model.lattice_scaler.fit(batch.to("cpu"))
        return model

    @property
    def device(self) -> torch.device:
        return self.lattice_scaler.mean.device

    def check_size(self, batch: CrystalBatch) -> None:
        if int(batch.num_atoms.max()) > self.config.max_atoms:
            raise ValueError(f"a crystal has {int(batch.num_atoms.max())} atoms; this model handles at most "
                             f"{self.config.max_atoms}")

    def loss(self, batch: CrystalBatch | PackedBatch, generator: torch.Generator | None = None,
             graph=None) -> dict[str, torch.Tensor]:
        """The weighted losses of one mini-batch; ``graph``: the encoder's precomputed neighbour graph.
        A packed batch (fixed shapes, `matlib.packing`) carries its graph, and gives the losses of its
        real crystals alone; its crystals were checked against the model's size when it was packed."""
        if isinstance(batch, PackedBatch):
            if batch.graph is None:
                raise ValueError("a packed batch for CDVAE needs its encoder graph (PackedMinibatches(..., graphs=...))")
            graph = batch.graph
        else:
            self.check_size(batch)
        crystals, edges, atom_weight, crystal_weight = edges_and_weights(batch)
        mu, logvar, z = self.encoder(crystals, generator, graph, batch_index=edges[0])
        losses = self.decoding_losses(z, crystals, generator, edges=edges, atom_weight=atom_weight,
                                      crystal_weight=crystal_weight)
        losses["kl"] = CrystalEncoder.kl(mu.float(), logvar.float(), crystal_weight)
        losses["loss"] = sum(self.config.weights[k] * losses[k] for k in WEIGHTS)
        return losses

    def decoding_losses(self, z: torch.Tensor, batch: CrystalBatch, generator: torch.Generator | None = None, *,
                        edges=None, atom_weight: torch.Tensor | None = None,
                        crystal_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Everything the decoding side must reproduce from z: heads, coordinate scores, elements.
        ``edges``, the weights: a packed batch's (`matlib.packing.edges_and_weights`)."""
        n = batch.num_atoms
        edges = all_pair_edges(n) if edges is None else edges
        atom_crystal = edges[0]
        heads = self.heads(z)
        lengths, angles = batch.lattice_params()
        losses = PropertyHeads.losses(heads, n, self.lattice_scaler.encode(lengths, angles, n), batch.atom_types,
                                      atom_crystal, atom_weight, crystal_weight)
        level = torch.randint(0, self.config.levels, (len(n),), device=n.device, generator=generator)
        sigma = self.noise.fractional(self.noise.coord_sigma(level), batch.lattice)[atom_crystal]
        frac_noisy, target = self.decoder.coords.corrupt(batch.frac_coords, sigma, generator)
        composition = F.softmax(heads["composition"].detach().float(), -1)[atom_crystal]
        tokens = self.noise.corrupt_types(batch.atom_types, composition, self.noise.type_sigma(level)[atom_crystal],
                                          generator)
        coord, logits = self.decoder(z, tokens, frac_noisy, batch.lattice, n, self.noise.time(level), edges)
        losses["coords"] = self.decoder.coords.loss(coord, target, atom_weight)
        losses["types"] = weighted_mean(F.cross_entropy(logits, batch.atom_types - 1, reduction="none"), atom_weight)
        return losses


__all__ = ["WEIGHTS", "MODEL_SIZES", "CDVAEConfig", "CDVAE"]

"""The diffusion model: three corruption processes, one score network, one training loss."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..crystal import CrystalBatch
from .atom_types import NUM_ELEMENTS, MaskedTypeDiffusion
from ..nn import DenoiserConfig, ScoreNetwork, WrappedNormalVE
from .lattice import SymmetricLatticeVP, symmetric_lattice
from ..packing import PackedBatch, edges_and_weights


TYPE_LOSSES = ("masked_mean", "elbo")   # how the element loss weighs masked atoms (DiffusionConfig.type_loss)


@dataclass
class DiffusionConfig:
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    density: float = 0.0577           # atoms per Å^3 of the limit cell; from_data() measures it
    sigma_min: float = 0.01
    sigma_max: float = 5.0
    beta_min: float = 0.1
    beta_max: float = 20.0
    t_min: float = 1e-3
    weight_coords: float = 1.0
    weight_lattice: float = 1.0
    weight_types: float = 1.0
    max_atoms: int = 20
    # "masked_mean": the element loss is the mean over masked atoms; "elbo": each masked atom weighted
    # by 1/t, so that the last choices of a cell (few atoms left masked) weigh as much as the first
    type_loss: str = "masked_mean"

    def __post_init__(self):
        if self.type_loss not in TYPE_LOSSES:
            raise ValueError(f"type_loss must be one of {TYPE_LOSSES}, not {self.type_loss!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "DiffusionConfig":
        values = dict(values)
        return cls(denoiser=DenoiserConfig(**values.pop("denoiser")), **values)


class CrystalDiffusion(nn.Module):
    def __init__(self, config: DiffusionConfig = DiffusionConfig()):
        super().__init__()
        self.config = config
        self.network = ScoreNetwork(config.denoiser)
        self.types = MaskedTypeDiffusion()
        self.coords = WrappedNormalVE(config.sigma_min, config.sigma_max)
        self.lattice = SymmetricLatticeVP(config.density, config.beta_min, config.beta_max)
        # what the training data allows: elements to sample, and the atom-count histogram
        self.register_buffer("allowed_elements", torch.ones(NUM_ELEMENTS, dtype=torch.bool))
        self.register_buffer("atom_count_weights", torch.ones(config.max_atoms + 1))

    @classmethod
    def from_data(cls, batch: CrystalBatch, denoiser: DenoiserConfig = DenoiserConfig(), **overrides
                  ) -> "CrystalDiffusion":
        """A model whose limit density, element set and atom-count histogram come from ``batch``."""
        density = overrides.pop("density", None) or float((batch.num_atoms.float() / batch.volumes().abs()).mean())
        max_atoms = int(batch.num_atoms.max())
        model = cls(DiffusionConfig(denoiser=denoiser, density=density, max_atoms=max_atoms, **overrides))
        present = torch.zeros(NUM_ELEMENTS, dtype=torch.bool)
        present[batch.atom_types.cpu().unique() - 1] = True
        model.allowed_elements.copy_(present)
        model.atom_count_weights.copy_(torch.bincount(batch.num_atoms.cpu(), minlength=max_atoms + 1).float())
        return model

    @staticmethod
    def prepare(batch: CrystalBatch) -> CrystalBatch:
        """The training representation: the symmetric (rotation-free) cell, same fractional coordinates."""
        return CrystalBatch(batch.atom_types, batch.frac_coords, symmetric_lattice(batch.lattice), batch.num_atoms)

    @property
    def device(self) -> torch.device:
        return self.allowed_elements.device

    def mean_edge(self, num_atoms: torch.Tensor) -> torch.Tensor:
        return (num_atoms.float() / self.config.density) ** (1 / 3)

    def sample_num_atoms(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Atom counts from the training histogram, drawn with the caller's generator (a GPU generator
        seeds a CPU one, where the histogram lives), so one seed gives the same sizes every time."""
        weights = self.atom_count_weights.cpu()
        if generator is not None and generator.device.type != "cpu":
            seed = int(torch.randint(0, 2**62, (1,), device=generator.device, generator=generator))
            generator = torch.Generator().manual_seed(seed)
        return torch.multinomial(weights, n, replacement=True, generator=generator).to(self.device)

    def denoise(self, tokens, frac, lattice, num_atoms, t, edges=None, layer_hook=None):
        """(sigma * coordinate score (N,3), lattice noise (B,3,3), element logits (N,100)), all float32."""
        coord, lattice_eps, logits = self.network(tokens, frac, lattice, num_atoms, t, self.mean_edge(num_atoms),
                                                  edges=edges, layer_hook=layer_hook)
        return coord.float(), lattice_eps.float(), logits.float()

    @torch.no_grad()
    def mean_losses(self, batch: CrystalBatch, *, chunk: int = 500, seed: int = 0) -> dict[str, float]:
        """The training losses over a whole prepared batch, with seeded (stratified) times and noise:
        the same model and data give the same numbers, so two splits compare fairly. Each chunk's
        losses (means over its atoms, as in training) are weighted by the chunk's crystal count."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        was_training = self.training
        self.eval()
        totals: dict[str, float] = {}
        size = len(batch.num_atoms)
        try:
            for start in range(0, size, chunk):
                part = batch.select(list(range(start, min(start + chunk, size)))).to(self.device)
                n = len(part.num_atoms)
                # stratified times in a random order: each chunk covers (t_min, 1) evenly, steadying every term
                strata = torch.randperm(n, device=self.device, generator=generator)
                share = (strata + torch.rand(n, device=self.device, generator=generator)) / n
                t = self.config.t_min + (1 - self.config.t_min) * share
                for name, value in self.loss(part, generator=generator, t=t).items():
                    totals[name] = totals.get(name, 0.0) + float(value) * n
        finally:
            self.train(was_training)
        return {name: total / size for name, total in totals.items()}

    def element_times(self, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """When each crystal's elements are masked in training: at its positions' and cell's t (a
        subclass may give the elements a clock of their own)."""
        return t

    def loss(self, batch: CrystalBatch | PackedBatch, generator: torch.Generator | None = None, layer_hook=None,
             t: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Denoising losses for a prepared batch (symmetric cells), at random times unless ``t`` gives them.
        A packed batch (fixed shapes, `packing.py`) gives the same losses as its real crystals alone."""
        batch, edges, atom_weight, crystal_weight = edges_and_weights(batch)
        n = batch.num_atoms
        atom_crystal = edges[0]
        if t is None:
            t = self.config.t_min + (1 - self.config.t_min) * torch.rand(len(n), device=n.device, generator=generator)
        t_types = self.element_times(t, generator)
        tokens, masked = self.types.corrupt(batch.atom_types, t_types[atom_crystal], generator)
        sigma = self.coords.sigma(t, n)[atom_crystal]
        frac_t, coord_target = self.coords.corrupt(batch.frac_coords, sigma, generator)
        lattice_t, lattice_target = self.lattice.corrupt(batch.lattice, n, t, generator)
        coord, lattice_eps, logits = self.denoise(tokens, frac_t, lattice_t, n, t, edges=edges, layer_hook=layer_hook)
        losses = {"coords": self.coords.loss(coord, coord_target, atom_weight),
                  "lattice": self.lattice.loss(lattice_eps, lattice_target, crystal_weight),
                  "types": self.types.loss(logits, batch.atom_types, masked,
                                           t_types[atom_crystal] if self.config.type_loss == "elbo" else None,
                                           atom_weight)}
        c = self.config
        losses["loss"] = (c.weight_coords * losses["coords"] + c.weight_lattice * losses["lattice"]
                          + c.weight_types * losses["types"])
        return losses

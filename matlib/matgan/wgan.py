"""MatGAN's networks and a Wasserstein GAN with gradient penalty (WGAN-GP) over 85 × 8 matrices.

Generator: z (128) -> FC -> 128 × 6 × 4 -> transposed convolutions -> 1 × 85 × 8, sigmoid.
Critic:    1 × 85 × 8 -> strided convolutions -> 128 × 6 × 4 -> FC -> one unbounded score.
The critic uses layer norm, not batch norm: the gradient penalty is a per-sample constraint, and
batch norm would mix samples (the WGAN-GP paper's advice).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import checkpoints
from ..jsonsafe import jsonable
from ..progress import progress
from ..training import NonFiniteLossError
from .composition_matrix import SHAPE

LATENT = 128


class Generator(nn.Module):
    """Defaults are MatGAN's widths; smaller `width`/`channels` keep CPU runs and checkpoints small.

    `out_bias` starts every cell near sigmoid(-3) = 0.05: real matrices have ~3 of 680 cells set,
    and a generator that starts at 0.5 everywhere (85 elements per formula) wastes its first
    hundreds of steps, or gets stuck all-off, before it makes a usable formula (not in MatGAN).
    """

    def __init__(self, latent: int = LATENT, width: int = 128, channels: tuple[int, int, int] = (64, 32, 16),
                 out_bias: float | None = -3.0):
        super().__init__()
        self.latent, self.width, self.channels = latent, width, tuple(channels)
        self.fc = nn.Sequential(nn.Linear(latent, width * 6 * 4), nn.BatchNorm1d(width * 6 * 4), nn.ReLU())
        c1, c2, c3 = channels

        def up(cin, cout, kernel, stride, out_pad, last=False):
            layers = [nn.ConvTranspose2d(cin, cout, kernel, stride, padding=kernel // 2, output_padding=out_pad)]
            return layers + ([] if last else [nn.BatchNorm2d(cout), nn.ReLU()])

        self.deconv = nn.Sequential(
            *up(width, c1, 5, (2, 2), (0, 1)),   # 6×4  -> 11×8
            *up(c1, c2, 3, (2, 1), (1, 0)),      # 11×8 -> 22×8
            *up(c2, c3, 3, (2, 1), (0, 0)),      # 22×8 -> 43×8
            *up(c3, 1, 3, (2, 1), (0, 0), last=True),  # 43×8 -> 85×8
        )
        if out_bias is not None:
            nn.init.constant_(self.deconv[-1].bias, out_bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.width, 6, 4)
        return torch.sigmoid(self.deconv(h))

    def sample(self, n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        device = device or next(self.parameters()).device
        return self(torch.randn(n, self.latent, device=device, generator=generator))


class Critic(nn.Module):
    """Defaults are MatGAN's widths (16, 16, 32, 64, 128)."""

    def __init__(self, channels: tuple[int, int, int, int, int] = (16, 16, 32, 64, 128)):
        super().__init__()
        self.channels = c1, c2, c3, c4, c5 = tuple(channels)

        def down(cin, cout, kernel, stride, size):
            return [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2), nn.LayerNorm([cout, *size]),
                    nn.LeakyReLU(0.2)]

        self.net = nn.Sequential(
            *down(1, c1, 3, 1, (85, 8)), *down(c1, c2, 3, (2, 1), (43, 8)), *down(c2, c3, 3, (2, 1), (22, 8)),
            *down(c3, c4, 3, (2, 1), (11, 8)), *down(c4, c5, 5, (2, 2), (6, 4)), nn.Flatten(),
            nn.Linear(c5 * 6 * 4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.view(-1, 1, *SHAPE)).squeeze(-1)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(||∇D(x̂)|| - 1)²] on random interpolates x̂ between real and fake samples."""
    u = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    mixed = (real + u * (fake - real)).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


@dataclass
class GANHistory:
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0

    @property
    def history(self) -> list[dict]:     # what load_or_train records, as for any training run
        return self.rows

    def series(self, key: str) -> tuple[list[int], list[float]]:
        pts = [(r["step"], r[key]) for r in self.rows if key in r]
        return [p[0] for p in pts], [p[1] for p in pts]


def _critic_step(generator: Generator, critic: Critic, data: torch.Tensor, opt_d: torch.optim.Optimizer, loss: str,
                 batch_size: int, gp_weight: float, gen: torch.Generator):
    """One critic update on a batch of real and generated crystals; returns (critic_loss, D(real),
    D(fake), gradient penalty)."""
    device = data.device
    real = data[torch.randint(len(data), (batch_size,), generator=gen).to(device)]
    with torch.no_grad():
        fake = generator.sample(batch_size, device)
    d_real, d_fake = critic(torch.cat([real, fake])).split(batch_size)  # one pass: no batch norm
    if loss == "wgan-gp":
        gp = gradient_penalty(critic, real, fake)
        critic_loss = d_fake.mean() - d_real.mean() + gp_weight * gp
    else:
        gp = torch.zeros((), device=device)
        critic_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()  # BCE with logits
    opt_d.zero_grad(set_to_none=True)
    critic_loss.backward()
    opt_d.step()
    return critic_loss, d_real, d_fake, gp


def _logged_row(step: int, mean_sums: torch.Tensor, loss: str) -> dict:
    """The history row of the means since the last log; raises when any is not finite."""
    means = mean_sums.tolist()
    row = {"step": step, "critic_loss": means[0], "g_loss": means[1]}
    if loss == "wgan-gp":
        row.update(wasserstein=means[2], gp=means[3])
    if not all(math.isfinite(v) for v in row.values()):
        raise NonFiniteLossError(f"GAN losses became non-finite at step {step}: {row}. Lower the learning "
                                 f"rates or raise the gradient-penalty weight.")
    return row


def train_gan(generator: Generator, critic: Critic, data: torch.Tensor, *, steps: int, loss: str = "wgan-gp",
              batch_size: int = 256, n_critic: int = 1, lr_g: float = 1e-3, lr_d: float = 1e-3,
              gp_weight: float = 10.0, max_seconds: float | None = None, log_every: int = 50,
              monitor: Callable[[Generator], dict] | None = None, monitor_every: int = 500,
              seed: int = 0) -> GANHistory:
    """Alternate critic and generator updates. `loss="gan"` is the plain (non-saturating) GAN loss,
    kept so the notebook can show what goes wrong without the Wasserstein critic.

    Logged every `log_every` steps, as means over those steps (one batch is noisy): `critic_loss`,
    `g_loss`, and for WGAN-GP `wasserstein` (E D(real) - E D(fake), the critic's estimate of the
    distance between the data and the generator) and `gp`. Training stops after `steps` or, at the
    end of the first step past `max_seconds`; the last step is always logged and monitored.
    """
    if loss not in {"wgan-gp", "gan"}:
        raise ValueError("loss must be 'wgan-gp' or 'gan'")
    device = data.device
    gen = torch.Generator(device="cpu").manual_seed(seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(critic.parameters(), lr=lr_d, betas=(0.5, 0.9))
    history, start = GANHistory(), time.perf_counter()
    sums, since_log = torch.zeros(4, device=device), 0  # summed on the device: no sync per step
    generator.train()
    critic.train()
    for step in progress(range(1, steps + 1), desc=f"training ({loss})"):
        for _ in range(n_critic):
            critic_loss, d_real, d_fake, gp = _critic_step(generator, critic, data, opt_d, loss, batch_size,
                                                           gp_weight, gen)
        d_gen = critic(generator.sample(batch_size, device))
        g_loss = -d_gen.mean() if loss == "wgan-gp" else F.softplus(-d_gen).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        sums += torch.stack([critic_loss, g_loss, d_real.mean() - d_fake.mean(), gp]).detach()
        since_log += 1
        done = step == steps or (max_seconds is not None and time.perf_counter() - start > max_seconds)
        if step % log_every == 0 or done:
            row = _logged_row(step, sums / since_log, loss)
            history.rows.append(row)
            sums.zero_()
            since_log = 0
        if monitor is not None and (step % monitor_every == 0 or done):
            generator.eval()
            with torch.no_grad():
                history.rows.append({"step": step, **monitor(generator)})
            generator.train()
        history.steps = step
        if done:
            break
    history.seconds = time.perf_counter() - start
    generator.eval()
    return history


class GeneratorStore:
    """Generator checkpoints for `load_or_train`: half-precision weights, and the training settings
    (generator size, critic, dataset, split, rates) as the manifest's config. The critic is not kept."""

    exists = staticmethod(checkpoints.exists)

    def __init__(self, settings: dict):
        self.settings = settings

    def fits(self, stem: str | Path, keys=("generator", "dataset", "train_split")) -> bool:
        """Whether the checkpoint at `stem` holds a generator of this size trained on this dataset and
        split (else train anew). The critic and learning rates may differ: only the generator is kept."""
        found = checkpoints.load(stem).config
        return all(found.get(k) == jsonable(self.settings.get(k)) for k in keys)

    def load(self, stem: str | Path, device="cpu", dataset: str | None = None):
        ckpt = checkpoints.load(stem)
        checkpoints.require(ckpt, dataset=dataset)
        return ckpt.load_into(Generator(**ckpt.config["generator"])).to(device), ckpt

    def save(self, stem: str | Path, model: Generator, *, dataset: str, split: str, **options) -> Path:
        """Half-precision weights of the generator trained with this store's settings."""
        return checkpoints.save(stem, copy.deepcopy(model).half(), config=self.settings,
                                trained_on={"dataset": dataset, "split": split}, **options)

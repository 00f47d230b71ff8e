import pytest
import torch

from matlib.matgan import composition_matrix as cm
from matlib.matgan.wgan import Critic, Generator, gradient_penalty, train_gan


def test_shapes_and_ranges():
    torch.manual_seed(0)
    g, c = Generator().eval(), Critic()
    x = g.sample(5)
    assert x.shape == (5, 1, 85, 8) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert c(x).shape == (5,)


class LinearCritic(torch.nn.Module):
    def __init__(self, norm):
        super().__init__()
        w = torch.randn(85 * 8)
        self.w = torch.nn.Parameter(w / w.norm() * norm)

    def forward(self, x):
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("norm, expected", [(1.0, 0.0), (2.0, 1.0), (0.5, 0.25)])
def test_gradient_penalty_of_a_linear_critic(norm, expected):
    real, fake = torch.rand(8, 1, 85, 8), torch.rand(8, 1, 85, 8)
    assert gradient_penalty(LinearCritic(norm), real, fake).item() == pytest.approx(expected, abs=1e-5)


def test_short_training_logs_the_critic_estimate():
    torch.manual_seed(0)
    data = torch.tensor(cm.encode_many(["NaCl", "Fe2O3", "BaTiO3", "SiO2"])[0])[:, None]
    history = train_gan(Generator(), Critic(), data, steps=6, batch_size=8, log_every=2,
                        monitor=lambda g: {"usable": 1.0}, monitor_every=3)
    steps, w = history.series("wasserstein")
    assert steps == [2, 4, 6] and all(isinstance(v, float) for v in w)
    assert history.series("usable")[0] == [3, 6]
    with pytest.raises(ValueError, match="wgan-gp"):
        train_gan(Generator(), Critic(), data, steps=1, loss="hinge")


def test_generator_store_round_trip_and_fit_check(tmp_path):
    from matlib.matgan.wgan import GeneratorStore

    settings = {"generator": {"width": 16, "channels": [8, 4, 4]}, "dataset": "mp_20", "train_split": "val"}
    generator = Generator(width=16, channels=(8, 4, 4))
    store = GeneratorStore(settings)
    saved = store.save(tmp_path / "g", generator, dataset="mp_20", split="val", step=3, metrics={})
    loaded, ckpt = store.load(saved, dataset="mp_20")
    assert ckpt.step == 3 and ckpt.trained_on == {"dataset": "mp_20", "split": "val"}
    z = torch.randn(4, generator.latent)
    assert torch.allclose(loaded(z), generator.half().float()(z), atol=1e-3)   # stored in half precision
    assert store.fits(saved)
    assert not GeneratorStore({**settings, "train_split": "train"}).fits(saved)

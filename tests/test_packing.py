"""Fixed-shape packed batches: every crystal once per epoch, every real pair present, and the same
losses and gradients as the real crystals alone; the recorded step's CPU guards."""
import pytest
import torch

from matlib.batching import GraphCache
from matlib.captured_step import CapturedStep, captured_adamw, compiled_for_replay
from matlib.cdvae import CDVAE
from matlib.crystal import CrystalBatch
from matlib.diffusion import CrystalDiffusion, DenoiserConfig, DiffusionConfig
from matlib.diffusion.lattice import symmetric_lattice
from matlib.packing import Budget, PackedBatch, PackedMinibatches
from matlib.graph import radius_graph
from matlib.nn import all_pair_edges
from matlib.nn.gnn import GNNConfig, cosine_envelope


def random_crystals(count: int, seed: int = 0) -> CrystalBatch:
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, 7, (count,), generator=g)
    total = int(counts.sum())
    types = torch.tensor([3, 8, 11, 26])[torch.randint(0, 4, (total,), generator=g)]
    cells = torch.eye(3) * 4 + 0.3 * torch.randn(count, 3, 3, generator=g)
    return CrystalBatch(types, torch.rand(total, 3, generator=g), symmetric_lattice(cells), counts)


def real_part(packed: PackedBatch) -> CrystalBatch:
    c, crystals = packed.crystals, packed.real_crystals
    atoms = int(packed.atom_weight.sum())
    return CrystalBatch(c.atom_types[:atoms], c.frac_coords[:atoms], c.lattice[:crystals], c.num_atoms[:crystals])


def test_packed_epochs_hold_every_crystal_once_in_fixed_shapes():
    data = random_crystals(50)
    budget = Budget.for_data(data.num_atoms, 8, spread=1.0)
    stream = iter(PackedMinibatches(data, budget, seed=1))
    seen, shapes = [], set()
    while len(seen) < 50:
        packed = next(stream)
        shapes.add(tuple(tuple(t.shape) for t in packed.tensors()))
        real = real_part(packed)
        # the crystal's identity: its atoms' fractional coordinates, unique in random data
        starts = torch.cumsum(real.num_atoms, 0) - real.num_atoms
        for start in starts.tolist():
            seen.append(round(float(real.frac_coords[start, 0]), 6))
        # every ordered pair of the real crystals, and padding pairs only between padding atoms
        batch_index, (i, j) = all_pair_edges(real.num_atoms)
        real_atoms = int(packed.atom_weight.sum())
        pairs = list(zip(packed.centre.tolist(), packed.neighbour.tolist()))
        assert sorted(p for p in pairs if p[0] < real_atoms) == sorted(zip(i.tolist(), j.tolist()))
        assert all(a >= real_atoms and b >= real_atoms for a, b in pairs if a >= real_atoms or b >= real_atoms)
        assert (packed.batch_index[:len(batch_index)] == batch_index).all()
        assert (packed.batch_index[len(batch_index):] == budget.crystals).all()
        assert packed.crystals.num_atoms.min() >= 1 and packed.atom_weight[-1] == 0
        # padding pairs spread evenly over the padding atoms (no scatter piles onto one row)
        pad_centres = packed.centre[len(i):]
        pad_atoms = budget.atoms - real_atoms
        per_atom = torch.bincount(pad_centres - real_atoms, minlength=pad_atoms)
        assert per_atom.max() - per_atom.min() <= 1
    # the first epoch: 50 different crystals before any comes again
    assert len(shapes) == 1 and len(set(seen[:50])) == 50


def test_a_budget_without_room_for_the_largest_crystal_is_refused():
    data = random_crystals(10)
    with pytest.raises(ValueError, match="largest crystal"):
        PackedMinibatches(data, Budget(4, int(data.num_atoms.max()), 1000))


class Replay:
    """Records the random draws of one loss call, then hands out their first rows again: the
    packed batch's real crystals and atoms come first, so they get the same noise."""

    def __init__(self, monkeypatch):
        self.draws, self.replaying, self.monkeypatch = [], False, monkeypatch
        for name in ("rand", "randn", "randint"):
            monkeypatch.setattr(torch, name, self.wrap(getattr(torch, name), sized_last=name == "randint"))

    def wrap(self, draw, sized_last: bool):
        def drawn(*args, **options):
            # randint(low, high, size): the size comes last; rand(size) or rand(*size)
            size = args[-1] if sized_last else args[0] if isinstance(args[0], (tuple, list, torch.Size)) else args
            if not self.replaying:
                self.draws.append(draw(*args, **options))
                return self.draws[-1]
            return self.draws.pop(0)[:size[0]].clone()
        return drawn


@pytest.mark.parametrize("type_loss", ["masked_mean", "elbo"])
def test_a_packed_batch_gives_the_losses_and_gradients_of_its_real_crystals(monkeypatch, type_loss):
    data = random_crystals(40, seed=2)
    torch.manual_seed(0)
    model = CrystalDiffusion(DiffusionConfig(denoiser=DenoiserConfig(dim=16, layers=2, num_freqs=4),
                                             type_loss=type_loss))
    packed = next(iter(PackedMinibatches(data, Budget.for_data(data.num_atoms, 12, spread=2.0), seed=0)))
    assert 0 < packed.real_crystals <= 12 and packed.atom_weight.sum() < len(packed.atom_weight)
    replay = Replay(monkeypatch)
    packed_losses = model.loss(packed)
    packed_losses["loss"].backward()
    packed_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    replay.replaying = True
    plain_losses = model.loss(real_part(packed))
    plain_losses["loss"].backward()
    assert not replay.draws   # every draw was used once, in the same order
    for name in ("coords", "lattice", "types", "loss"):
        assert torch.allclose(packed_losses[name], plain_losses[name], rtol=1e-5, atol=1e-6), name
    for packed_grad, p in zip(packed_grads, model.parameters()):
        assert torch.allclose(packed_grad, p.grad, rtol=1e-4, atol=1e-6)


def test_the_recorded_step_needs_a_gpu_and_a_capturable_optimizer():
    model = torch.nn.Linear(3, 1)
    optimizer = captured_adamw(model.parameters(), 1e-3, "cpu")
    assert not optimizer.param_groups[0]["capturable"] and optimizer.param_groups[0]["lr"] == 1e-3
    with pytest.raises(RuntimeError, match="CUDA device"):
        CapturedStep(model, optimizer, lambda m, b: {"loss": m(b).sum()}, torch.zeros(2, 3))


needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="a CUDA graph needs a GPU (run on the device)")


def eager_update(model, optimizer, batch):
    optimizer.zero_grad(set_to_none=True)
    losses = model.loss(batch)
    losses["loss"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return losses


@needs_gpu
def test_a_replayed_step_is_the_eager_step_and_the_warm_up_leaves_no_trace():
    import copy
    data = random_crystals(200, seed=3)
    torch.manual_seed(0)
    model = CrystalDiffusion(DiffusionConfig(denoiser=DenoiserConfig(dim=32, layers=2, num_freqs=4))).cuda()
    twin = copy.deepcopy(model)
    batches = iter(PackedMinibatches(data, Budget.for_data(data.num_atoms, 32), seed=0, device="cuda"))
    example, batch = next(batches), next(batches)
    step = CapturedStep(model, captured_adamw(model.parameters(), 1e-3, "cuda"), lambda m, b: m.loss(b), example,
                        grad_clip=1.0)
    for mine, theirs in zip(model.parameters(), twin.parameters()):
        assert torch.equal(mine, theirs)
    twin_optimizer = torch.optim.AdamW(twin.parameters(), lr=1e-3)
    for seed in (5, 6):   # the same generator state gives the same draws, eager or replayed
        torch.cuda.manual_seed(seed)
        eager = eager_update(twin, twin_optimizer, batch)
        torch.cuda.manual_seed(seed)
        replayed = step(batch)
        for name in ("coords", "lattice", "types", "loss"):
            assert torch.allclose(eager[name], replayed[name], rtol=1e-4, atol=1e-5), name
    for mine, theirs in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(mine, theirs, rtol=1e-4, atol=1e-5)


@needs_gpu
def test_replayed_steps_train_the_model():
    data = random_crystals(400, seed=4)
    torch.manual_seed(0)
    model = CrystalDiffusion(DiffusionConfig(denoiser=DenoiserConfig(dim=32, layers=2, num_freqs=4))).cuda()
    batches = iter(PackedMinibatches(data, Budget.for_data(data.num_atoms, 32), seed=0, device="cuda"))
    step = CapturedStep(model, captured_adamw(model.parameters(), 3e-3, "cuda"), lambda m, b: m.loss(b),
                        next(batches), grad_clip=1.0, amp_dtype=torch.bfloat16, compiled="network")
    assert type(model.network).__name__ == "ScoreNetwork"   # compiled only while recorded
    losses = [float(step(next(batches))["loss"]) for _ in range(300)]
    assert all(map(torch.isfinite, map(torch.tensor, losses)))
    assert sum(losses[-30:]) < 0.8 * sum(losses[:30])


def cdvae_and_graphs(data: CrystalBatch):
    torch.manual_seed(0)
    model = CDVAE.from_data(data, latent=16, hidden=32, levels=10, encoder=GNNConfig(targets=("z",), dim=32, layers=2),
                            decoder=DenoiserConfig(dim=16, layers=2, num_freqs=4))
    encoder = model.config.encoder
    return model, GraphCache(data, encoder.cutoff, encoder.max_neighbors)


def test_packed_graphs_hold_each_crystals_edges_and_inert_padding():
    data = random_crystals(30, seed=5)
    model, graphs = cdvae_and_graphs(data)
    budget = Budget.for_data(data.num_atoms, 6, spread=1.0, edge_counts=graphs.edge_counts)
    stream = iter(PackedMinibatches(data, budget, seed=0, graphs=graphs))
    for _ in range(8):
        packed = next(stream)
        assert packed.graph.distance.shape == (budget.edges,)
        real = real_part(packed)
        expected = radius_graph(real, graphs.cutoff, model.config.encoder.max_neighbors)
        edges = len(expected.distance)
        index = packed.graph.edge_index
        key = lambda pairs, distance: sorted(zip(*pairs.tolist(), [round(d, 5) for d in distance.tolist()]))
        assert key(index[:, :edges], packed.graph.distance[:edges]) == key(expected.edge_index, expected.distance)
        # padding edges: a padding atom to itself, at the cutoff, where the envelope weighs them by zero
        real_atoms = int(packed.atom_weight.sum())
        assert (index[:, edges:] >= real_atoms).all() and (index[0, edges:] == index[1, edges:]).all()
        assert (cosine_envelope(packed.graph.distance[edges:], graphs.cutoff) == 0).all()
    with pytest.raises(ValueError, match="go together"):
        PackedMinibatches(data, budget, seed=0)


def test_a_packed_cdvae_batch_gives_the_losses_and_gradients_of_its_real_crystals(monkeypatch):
    data = random_crystals(40, seed=6)
    model, graphs = cdvae_and_graphs(data)
    budget = Budget.for_data(data.num_atoms, 12, spread=2.0, edge_counts=graphs.edge_counts)
    packed = next(iter(PackedMinibatches(data, budget, seed=0, graphs=graphs)))
    # the padding crystal holds more atoms than the atom-count head has classes: its target must not break the loss
    assert packed.crystals.num_atoms[-1] > model.config.max_atoms and packed.real_crystals <= 12
    replay = Replay(monkeypatch)
    packed_losses = model.loss(packed)
    packed_losses["loss"].backward()
    trained = [p for p in model.parameters() if p.grad is not None]   # not the encoder GNN's unused head
    packed_grads = [p.grad.clone() for p in trained]
    model.zero_grad()
    replay.replaying = True
    plain_losses = model.loss(real_part(packed))
    plain_losses["loss"].backward()
    assert not replay.draws
    for name in ("num_atoms", "lattice", "composition", "coords", "types", "kl", "loss"):
        assert torch.allclose(packed_losses[name], plain_losses[name], rtol=1e-5, atol=1e-6), name
    assert len(trained) > 30
    for packed_grad, p in zip(packed_grads, trained, strict=True):
        assert torch.allclose(packed_grad, p.grad, rtol=1e-4, atol=1e-6)


def test_a_compiled_encoder_draws_the_eager_encoders_random_numbers():
    # the encoder samples z = mu + sigma * eps: compiled with its own generator it would draw another eps
    data = random_crystals(40, seed=3)
    model, graphs = cdvae_and_graphs(data)
    budget = Budget.for_data(data.num_atoms, 8, edge_counts=graphs.edge_counts)
    batch = next(iter(PackedMinibatches(data, budget, seed=0, graphs=graphs)))
    torch.manual_seed(11)
    eager = model.loss(batch)
    model.encoder = compiled_for_replay(model.encoder)
    torch.manual_seed(11)
    compiled = model.loss(batch)
    for name in ("num_atoms", "lattice", "composition", "coords", "types", "kl", "loss"):
        assert torch.allclose(eager[name], compiled[name], rtol=1e-5, atol=1e-6), name


@needs_gpu
def test_a_replayed_cdvae_step_is_the_eager_step_and_trains():
    import copy
    data = random_crystals(300, seed=7)
    model, graphs = cdvae_and_graphs(data)
    model.cuda()
    twin = copy.deepcopy(model)
    budget = Budget.for_data(data.num_atoms, 32, edge_counts=graphs.edge_counts)
    batches = iter(PackedMinibatches(data, budget, seed=0, device="cuda", graphs=graphs))
    step = CapturedStep(model, captured_adamw(model.parameters(), 1e-3, "cuda"), lambda m, b: m.loss(b),
                        next(batches), grad_clip=1.0, compiled=("encoder", "decoder"))
    twin_optimizer = torch.optim.AdamW(twin.parameters(), lr=1e-3)
    batch = next(batches)
    for seed in (5, 6):
        torch.cuda.manual_seed(seed)
        eager = eager_update(twin, twin_optimizer, batch)
        torch.cuda.manual_seed(seed)
        replayed = step(batch)
        for name in ("num_atoms", "lattice", "composition", "coords", "types", "kl", "loss"):
            assert torch.allclose(eager[name], replayed[name], rtol=1e-3, atol=1e-4), name
    losses = [float(step(next(batches))["loss"]) for _ in range(300)]
    assert all(map(torch.isfinite, map(torch.tensor, losses)))
    assert sum(losses[-30:]) < 0.8 * sum(losses[:30])

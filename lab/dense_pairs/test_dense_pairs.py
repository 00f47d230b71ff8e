"""The padded all-pairs network (the GPU fast path) computes what the edge-list network computes."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dense_pairs import DenseScoreNetwork  # noqa: E402
from matlib.nn import DenoiserConfig, ScoreNetwork  # noqa: E402


@pytest.mark.parametrize("options", [{}, {"global_context": True, "element_features": True}])
def test_dense_pairs_give_the_edge_list_outputs(options):
    torch.manual_seed(0)
    network = ScoreNetwork(DenoiserConfig(dim=32, layers=2, num_freqs=4, **options)).eval()
    num_atoms = torch.tensor([1, 4, 7, 2, 20])     # one lone atom, the largest MP-20 crystal
    atoms = int(num_atoms.sum())
    inputs = (torch.randint(0, 90, (atoms,)), torch.rand(atoms, 3), torch.randn(5, 3, 3), num_atoms,
              torch.rand(5), torch.rand(5) + 1)
    hook = lambda i, h: 1.5 * h + i       # adapters edit atom states between blocks
    with torch.no_grad():
        for layer_hook in (None, hook):
            edge_list = network(*inputs, layer_hook=layer_hook)
            dense = DenseScoreNetwork(network)(*inputs, layer_hook=layer_hook)
            for a, b in zip(edge_list, dense):
                assert a.shape == b.shape
                assert torch.allclose(a, b, atol=1e-5, rtol=1e-5)
    assert all(a is b for a, b in zip(DenseScoreNetwork(network).parameters(), network.parameters()))   # shared


def test_dense_pairs_train_like_the_edge_list():
    torch.manual_seed(1)
    network = ScoreNetwork(DenoiserConfig(dim=16, layers=2, num_freqs=3, global_context=True))
    num_atoms = torch.tensor([3, 5, 1])
    inputs = (torch.randint(1, 90, (9,)), torch.rand(9, 3), torch.randn(3, 3, 3), num_atoms, torch.rand(3),
              torch.rand(3) + 1)
    grads = []
    for model in (network, DenseScoreNetwork(network)):
        network.zero_grad()
        coord, lattice_eps, logits = model(*inputs)
        (coord.square().sum() + lattice_eps.sum() + logits.logsumexp(-1).sum()).backward()
        grads.append([p.grad.clone() for p in network.parameters()])
    assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(*grads))

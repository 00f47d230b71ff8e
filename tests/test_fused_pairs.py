"""The fused pair messages (``matlib.nn.fused_pairs``) equal the edge-list path: the kernel runs on the
CPU under Triton's interpreter, which has to be switched on before Triton is imported, so the
comparisons run in a fresh process."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from matlib.nn.edges import all_pair_edges
from matlib.nn.fused_pairs import PairPlan

triton = pytest.importorskip("triton")

CHECK = textwrap.dedent("""
    import torch
    from matlib.nn.edges import all_pair_edges
    from matlib.nn.fused_pairs import PairPlan, fused_pair_messages
    from matlib.nn.score_network import DenoiserConfig, ScoreLayer, ScoreNetwork, fourier_features
    torch.manual_seed(0)
    # sizes 1 to 33: a lone atom (no neighbours), and 32 pairs an atom (two atoms a 64-row tile)
    num_atoms = torch.tensor([1, 2, 4, 5, 3, 9, 17, 8, 16, 20, 33, 7])
    batch_index, (centre, neighbour) = all_pair_edges(num_atoms)
    atoms = int(num_atoms.sum())
    frac = torch.rand(atoms, 3)
    worst = 0.0
    for dim, freqs in ((32, 8), (48, 12)):      # 6 x 12 = 72 Fourier columns: not a multiple of 16
        layer = ScoreLayer(dim, 6 * freqs)
        per_atom, q = torch.randn(atoms, dim), torch.randn(atoms, dim)
        diff = frac[neighbour] - frac[centre]
        diff = diff - torch.round(diff)
        with torch.no_grad():
            m = layer.message(per_atom[centre] + q[neighbour] + layer.edge(fourier_features(diff, freqs)))
            inverse = 1.0 / (num_atoms[batch_index] - 1).clamp_min(1).float()[:, None]
            expected = torch.zeros(atoms, dim).index_add_(0, centre, m) * inverse
            fused = fused_pair_messages(per_atom, q, frac, layer.edge.weight, layer.message[1].weight,
                                        layer.message[1].bias, PairPlan.for_sizes(num_atoms), freqs, inverse)
        assert expected.abs().max() > 0.1
        worst = max(worst, float((fused - expected).abs().max()))
    network = ScoreNetwork(DenoiserConfig(dim=32, layers=2, num_freqs=8, global_context=True)).eval()
    tokens = torch.randint(1, 90, (atoms,))
    lattice = torch.eye(3).expand(len(num_atoms), 3, 3) * 4 + 0.3 * torch.rand(len(num_atoms), 3, 3)
    t, mean_edge = torch.rand(len(num_atoms)), torch.full((len(num_atoms),), 4.0)
    with torch.no_grad():
        edge_out = network(tokens, frac, lattice, num_atoms, t, mean_edge)
        fused_out = network(tokens, frac, lattice, num_atoms, t, mean_edge, edges=PairPlan.for_sizes(num_atoms))
    for a, b in zip(edge_out, fused_out):
        worst = max(worst, float((a - b).abs().max()))
    # the sampler's fused route: the same crystals from the same random draws
    from matlib.crystal import CrystalBatch
    from matlib.datasets import load_split
    from matlib.diffusion import CrystalDiffusion, SamplerConfig, sample
    batch = CrystalDiffusion.prepare(CrystalBatch.from_structures(load_split("perov_5", "val", limit=20,
                                                                             progress_bar=False).structures))
    model = CrystalDiffusion.from_data(batch, DenoiserConfig(dim=32, layers=2, num_freqs=4))
    runs = [sample(model, torch.tensor([5, 5, 10, 3]), SamplerConfig(steps=4, pairs=pairs), progress_bar=False,
                   generator=torch.Generator().manual_seed(1)).crystals for pairs in ("edges", "fused")]
    assert torch.equal(runs[0].atom_types, runs[1].atom_types)
    worst = max(worst, float((runs[0].frac_coords - runs[1].frac_coords).abs().max()),
                float((runs[0].lattice - runs[1].lattice).abs().max()))
    print(worst)
""")


def test_fused_messages_network_and_sampler_equal_the_edge_list_path_on_the_cpu():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TRITON_INTERPRET": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(done.stdout.strip().splitlines()[-1]) < 1e-5      # float32 both ways: rounding only


def test_plan_puts_every_pair_in_one_row_beside_its_atoms_and_refuses_big_crystals():
    num_atoms = torch.tensor([1, 4, 5, 8, 9, 16, 17, 2, 33, 20, 20, 65])
    plan = PairPlan.for_sizes(num_atoms, rows=64, atoms_per_tile=16)
    _, (centre, neighbour) = all_pair_edges(num_atoms)
    used = plan.row_atom >= 0
    rows = sorted(zip(plan.row_atom[used].tolist(), plan.row_neighbour[used].tolist()))
    assert rows == sorted(zip(centre.tolist(), neighbour.tolist()))             # each pair exactly once
    tile = torch.arange(len(plan.row_atom)) // plan.rows
    assert torch.equal(plan.tile_atom[(tile * plan.atoms_per_tile + plan.row_slot)[used]], plan.row_atom[used])
    placed = plan.tile_atom[plan.tile_atom >= 0].sort().values
    with_neighbours = torch.nonzero(num_atoms.repeat_interleave(num_atoms) > 1).flatten()
    assert placed.tolist() == with_neighbours.tolist()                          # every atom with neighbours, once
    assert plan.tiles < 1.3 * len(centre) / plan.rows + 12                      # little room left empty
    with pytest.raises(ValueError, match="up to 65 atoms"):
        PairPlan.for_sizes(torch.tensor([3, 66]), rows=64)


def test_fused_messages_refuse_to_run_where_gradients_are_wanted():
    from matlib.nn.fused_pairs import fused_pair_messages
    per_atom = torch.randn(3, 16, requires_grad=True)
    weight = torch.randn(16, 48)
    with pytest.raises(RuntimeError, match="no backward"):
        fused_pair_messages(per_atom, per_atom, torch.rand(3, 3), weight, torch.randn(16, 16), torch.zeros(16),
                            PairPlan.for_sizes(torch.tensor([3])), 8, torch.full((3, 1), 0.5))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the compiled kernel needs a GPU (run on the device)")
def test_compiled_kernel_on_a_gpu_matches_the_edge_list_path_in_bf16():
    from matlib.nn.score_network import DenoiserConfig, ScoreNetwork
    torch.manual_seed(0)
    device = torch.device("cuda")
    num_atoms = torch.randint(1, 21, (3000,), device=device)
    atoms = int(num_atoms.sum())
    network = ScoreNetwork(DenoiserConfig(dim=224, layers=4, num_freqs=24)).to(device).eval()
    inputs = (torch.randint(1, 90, (atoms,), device=device), torch.rand(atoms, 3, device=device),
              torch.eye(3, device=device).expand(len(num_atoms), 3, 3) * 5, num_atoms,
              torch.rand(len(num_atoms), device=device), torch.full((len(num_atoms),), 5.0, device=device))
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        edge_out = network(*inputs)
        fused_out = network(*inputs, edges=PairPlan.for_sizes(num_atoms))
    for a, b in zip(edge_out, fused_out):     # bf16 products both ways, summed in a different order
        scale = a.float().abs().max()
        assert float((a.float() - b.float()).abs().max()) < 0.03 * float(scale)

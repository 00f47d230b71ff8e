"""Network variants the benchmarks time beside the notebooks' own."""
import sys
from pathlib import Path


def dense_network(network):
    """The padded all-pairs variant of a score network, a lab experiment (lab/dense_pairs/)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab" / "dense_pairs"))
    from dense_pairs import DenseScoreNetwork

    return DenseScoreNetwork(network)

"""Figures the notebooks share."""
import warnings

import matplotlib
import numpy as np

from matlib import viz

matplotlib.use("Agg")


def test_loss_terms_figure_draws_a_smoothed_log_panel_per_term():
    history = [{"step": i, "loss": 10.0 / i, "kl": float(i)} for i in range(1, 12)]
    history += [{"step": 12, "held_loss": 1.0}]       # an evaluation row without the terms
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = viz.loss_terms_figure(history, ["loss", "kl"])
    assert [ax.get_title() for ax in fig.axes] == ["loss", "kl"]
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    smooth = fig.axes[0].lines[0].get_ydata()
    assert np.isclose(smooth[4], np.mean([10.0 / i for i in range(1, 6)]))   # the mean of five logged steps
    assert np.isclose(smooth[-1], np.mean([10.0 / i for i in range(8, 12)]))   # the last row carries on the mean

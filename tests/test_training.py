import pytest
import torch

from matlib import checkpoints
from matlib.training import NonFiniteLossError, fit


def regression_problem(n=256):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1
    return [(x[i:i + 32], y[i:i + 32]) for i in range(0, n, 32)]


def mse_step(model, batch):
    x, y = batch
    return {"loss": (model(x).squeeze(-1) - y).pow(2).mean()}


def test_fit_reduces_the_loss():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    result = fit(model, torch.optim.Adam(model.parameters(), lr=0.05), mse_step, regression_problem(),
                 max_steps=200, log_every=10)
    assert result.steps == 200 and result.stopped == "max_steps"
    assert result.history[-1]["loss"] < 0.01 * result.history[0]["loss"]


def test_nan_loss_stops_with_a_clear_message():
    model = torch.nn.Linear(4, 1)

    def bad_step(model, batch):
        return {"loss": model(batch[0]).mean() * float("nan")}

    with pytest.raises(NonFiniteLossError, match="loss became nan at step 1"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), bad_step, regression_problem(), max_steps=5,
            log_every=1)


def test_time_budget_then_resume(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    stem = tmp_path / "run"
    first = fit(model, opt, mse_step, regression_problem(), max_steps=10_000, max_seconds=0.0, checkpoint=stem,
                log_every=1)
    assert first.stopped == "time_budget" and first.steps == 0
    partial = fit(model, opt, mse_step, regression_problem(), max_steps=30, checkpoint=stem, log_every=1)
    assert partial.steps == 30 and checkpoints.load(stem).step == 30
    model2 = torch.nn.Linear(4, 1)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.05)
    resumed = fit(model2, opt2, mse_step, regression_problem(), max_steps=50, checkpoint=stem, log_every=1)
    assert resumed.resumed_from == 30 and resumed.steps == 50
    assert [h["step"] for h in resumed.history] == list(range(1, 51))
    model3 = torch.nn.Linear(4, 1)
    fresh = fit(model3, torch.optim.Adam(model3.parameters(), lr=0.05), mse_step, regression_problem(), max_steps=5,
                checkpoint=stem, log_every=1, resume=False)
    assert fresh.resumed_from == 0 and fresh.steps == 5 and checkpoints.load(stem).step == 5   # overwritten


def test_empty_batches_are_an_error():
    model = torch.nn.Linear(4, 1)
    with pytest.raises(ValueError, match="empty"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), mse_step, [], max_steps=3)


def test_evaluation_hook_and_keep_best():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    scores = iter([5.0, 1.0, 3.0, 4.0])
    seen = []

    def evaluate(m):
        seen.append(m.weight.detach().clone())
        return {"val": next(scores)}

    result = fit(model, torch.optim.SGD(model.parameters(), lr=0.01), mse_step, regression_problem(),
                 max_steps=40, evaluate=evaluate, eval_every=10, keep_best="val")
    steps, values = result.curve("val")
    assert steps == [10, 20, 30, 40] and values == [5.0, 1.0, 3.0, 4.0]
    assert result.best == {"val": 1.0}
    assert torch.equal(model.weight, seen[1])  # the weights evaluated at step 20 are restored
    assert result.curve("loss")[0][-1] == 40



def test_ema_leaves_the_moving_average_of_the_weights_in_the_model():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 3), torch.randn(64, 1)
    loss_of = lambda w: ((x @ w.T - y) ** 2).mean()
    seen = []

    def step(m, _):
        seen.append(m.weight.detach().clone())  # the weights before this step's update
        return {"loss": loss_of(m.weight)}

    fit(model, opt, step, [None], max_steps=20, ema_decay=0.8, log_every=5)
    w = seen[-1].clone().requires_grad_(True)
    last, = torch.autograd.grad(loss_of(w), w)
    updated = seen[1:] + [seen[-1] - 0.1 * last]      # weights after each of the 20 updates
    ema = updated[0]
    for w in updated[1:]:
        ema = 0.8 * ema + 0.2 * w
    assert torch.allclose(model.weight.detach(), ema, atol=1e-6)
    assert not torch.allclose(ema, updated[-1], atol=1e-4)  # the average lags the raw weights

import pytest
import torch

from matlib import checkpoints
from matlib.training import NonFiniteLossError, budget_cosine, budget_schedule, fit


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


def test_a_run_never_resumes_a_checkpoint_of_other_data(tmp_path):
    model = torch.nn.Linear(4, 1)
    perov = {"dataset": "perov_5", "split": "val"}
    fit(model, torch.optim.Adam(model.parameters()), mse_step, regression_problem(), max_steps=3,
        checkpoint=tmp_path / "run", trained_on=perov)
    assert checkpoints.load(tmp_path / "run").trained_on == perov
    other = torch.nn.Linear(4, 1)
    before = [p.clone() for p in other.parameters()]
    with pytest.raises(checkpoints.CheckpointError, match="trained on dataset 'perov_5', not 'mp_20'"):
        fit(other, torch.optim.Adam(other.parameters()), mse_step, regression_problem(), max_steps=6,
            checkpoint=tmp_path / "run", trained_on={"dataset": "mp_20", "split": "val"})
    assert all(torch.equal(a, b) for a, b in zip(before, other.parameters()))      # refused before loading


def test_empty_batches_are_an_error():
    model = torch.nn.Linear(4, 1)
    with pytest.raises(ValueError, match="empty"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), mse_step, [], max_steps=3)


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_evaluation_hook_and_keep_best(ema_decay):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    scores = iter([5.0, 1.0, 3.0, 4.0])
    seen = []

    def evaluate(m):
        assert (m is model) == (ema_decay is None)   # with EMA: the averaged weights, the ones returned
        seen.append(m.weight.detach().clone())
        return {"val": next(scores)}

    result = fit(model, torch.optim.SGD(model.parameters(), lr=0.01), mse_step, regression_problem(),
                 max_steps=40, evaluate=evaluate, eval_every=10, keep_best="val", ema_decay=ema_decay)
    steps, values = result.curve("val")
    assert steps == [10, 20, 30, 40] and values == [5.0, 1.0, 3.0, 4.0]
    assert result.best == {"val": 1.0}
    assert torch.equal(model.weight, seen[1])  # the weights evaluated at step 20 are restored
    assert not torch.equal(seen[1], seen[3])
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


def test_snapshot_keeps_the_weights_a_shorter_budget_would_have_given():
    def run(max_steps, snapshot_budget=None):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        result = fit(model, torch.optim.Adam(model.parameters(), lr=0.05), mse_step, regression_problem(),
                     max_steps=max_steps, ema_decay=0.9, snapshot_budget=snapshot_budget, log_every=10)
        return model, result

    short, _ = run(12)
    _, long = run(40, snapshot_budget=(12, None))
    assert long.steps == 40 and long.snapshot["steps"] == 12 and long.snapshot["seconds"] >= 0
    for key, value in short.state_dict().items():          # the 12-step run's averaged weights, exactly
        assert torch.equal(long.snapshot["state"][key], value)
    _, by_time = run(5, snapshot_budget=(1000, 0.0))        # the time budget is spent at once
    assert by_time.snapshot["steps"] == 1
    assert run(5, snapshot_budget=(1000, None))[1].snapshot is None   # never reached: no snapshot


def test_budget_cosine_decays_over_whichever_budget_ends_first():
    by_steps = budget_cosine(100, None)
    assert by_steps(0) == 1.0 and by_steps(50) == pytest.approx(0.5) and by_steps(100) == pytest.approx(0.0)
    assert by_steps(150) == pytest.approx(0.0)                  # past the budget: stays at zero
    by_time = budget_cosine(100, 1e-9)
    by_time(0)                                                  # the clock starts at the first call
    assert by_time(1) == pytest.approx(0.0)                     # the time budget is already spent
    assert budget_cosine(100, 3600.0)(50) == pytest.approx(0.5, abs=1e-3)   # steps end first here


def test_budget_schedule_warms_up_then_holds_or_decays():
    def rates(schedule, warmup_steps, steps=10):
        model = torch.nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        scheduler = budget_schedule(optimizer, schedule, steps, None, warmup_steps=warmup_steps)
        if scheduler is None:
            return None
        seen = []
        for _ in range(steps):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return seen

    assert rates("constant", 0) is None                          # nothing to schedule: fit runs without one
    assert rates("constant", 4)[:5] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    cosine = rates("cosine", 0)
    assert cosine[0] == 1.0 and all(a > b for a, b in zip(cosine, cosine[1:])) and cosine[-1] < 0.05
    warmed = rates("cosine", 4)
    assert warmed[0] == pytest.approx(0.25) and max(warmed) < 1.0 and warmed[-1] < 0.05
    with pytest.raises(ValueError, match="lr_schedule"):
        budget_schedule(torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0), "linear", 10, None)


def nan_once_step(bad_step: int):
    """mse_step, but the loss of step `bad_step` (1-based) is NaN: between two logged steps."""
    calls = {"n": 0}

    def step(model, batch):
        calls["n"] += 1
        losses = mse_step(model, batch)
        if calls["n"] == bad_step:
            losses["loss"] = losses["loss"] * float("nan")
        return losses
    return step


def test_a_nan_between_logged_steps_never_reaches_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    with pytest.raises(NonFiniteLossError, match="not finite at a step up to 4"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.01), nan_once_step(3), regression_problem(),
            max_steps=20, log_every=10, checkpoint=tmp_path / "run", checkpoint_every=2)
    saved = checkpoints.load(tmp_path / "run")
    assert saved.step == 2 and all(torch.isfinite(v).all() for v in saved.tensors.values())


def test_a_time_budget_ending_after_a_nan_step_raises_instead_of_returning(tmp_path, monkeypatch):
    import matlib.training as training

    clock = iter([0.0] + [0.0] * 4 + [100.0] * 1000)     # the budget runs out after four steps
    monkeypatch.setattr(training.time, "perf_counter", lambda: next(clock))
    model = torch.nn.Linear(4, 1)
    with pytest.raises(NonFiniteLossError):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.01), nan_once_step(2), regression_problem(),
            max_steps=1000, max_seconds=1.0, log_every=100, checkpoint=tmp_path / "run")
    assert not checkpoints.exists(tmp_path / "run")


def test_checkpoints_refuse_non_finite_weights(tmp_path):
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(checkpoints.CheckpointError, match="NaN or inf"):
        checkpoints.save(tmp_path / "bad", model)
    assert not list(tmp_path.iterdir())


def test_weight_average_copies_first_then_moves_toward_the_model_and_follows_buffers():
    from matlib.weight_average import WeightAverage
    model = torch.nn.BatchNorm1d(2)
    average = WeightAverage(model, decay=0.75)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.running_mean.fill_(5.0)
    average.update_parameters(model)            # first update: a copy
    assert torch.equal(average.module.weight, model.weight)
    with torch.no_grad():
        model.weight.fill_(6.0)
    average.update_parameters(model)            # then 0.75 * 2 + 0.25 * 6
    assert torch.allclose(average.module.weight, torch.full((2,), 3.0))
    assert torch.equal(average.module.running_mean, model.running_mean)
    assert average.module.weight.data_ptr() != model.weight.data_ptr()

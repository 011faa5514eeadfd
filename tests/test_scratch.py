"""The from-scratch NumPy network: exact gradients, learning, events, stopping, threads, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnlab import scratch
from nnlab.architectures import count_params, validate
from nnlab.cli import main
from nnlab.events import to_record
from nnlab.scratch.session import ScratchJob
from nnlab.training import validate_config as validate_keras_config
from nnlab.validation import InvalidSettings

# Small, fast settings for every training here (the machine is shared).
QUICK = dict(subset=2000, epochs=2, hidden=(32,), batch_size=64, blas_threads=1, batch_event_every=5)


def _toy(n=16, d=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, size=n)


# ---- gradients ----------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", scratch.ACTIVATIONS)
@pytest.mark.parametrize("classes", [4, 2])
def test_backprop_matches_finite_differences(activation, classes):
    x, y = _toy(k=classes)
    net = scratch.MLP(12, (7, 5), classes, activation, seed=1, dtype=np.float64)
    errors = scratch.gradient_check(net, x, y, l2=0.01)
    assert set(errors) == {"W1", "b1", "W2", "b2", "W3", "b3", "max"}
    assert errors["max"] < 1e-6, errors


def test_gradient_check_without_hidden_layers_and_with_sampling():
    x, y = _toy(k=10, d=20)
    net = scratch.MLP(20, (), 10, seed=3, dtype=np.float64)
    assert scratch.gradient_check(net, x, y)["max"] < 1e-6
    wide = scratch.MLP(20, (64,), 10, "tanh", seed=3, dtype=np.float64)
    assert scratch.gradient_check(wide, x, y, max_per_param=30)["max"] < 1e-6


def test_gradient_check_catches_a_wrong_backward_pass(monkeypatch):
    x, y = _toy()
    net = scratch.MLP(12, (7,), 4, "sigmoid", seed=1, dtype=np.float64)
    # A classic mistake: using the activation itself instead of its derivative.
    monkeypatch.setattr(scratch.net, "activation_grad", lambda name, a: a)
    errors = scratch.gradient_check(net, x, y)
    assert errors["W1"] > 1e-2
    assert errors["W2"] < 1e-6  # the output layer's gradient does not use f'


def test_check_leaves_the_weights_unchanged():
    x, y = _toy()
    net = scratch.MLP(12, (7,), 4, seed=1, dtype=np.float64)
    before = [p.copy() for p in net.params]
    scratch.gradient_check(net, x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.params, strict=True))


# ---- the network ---------------------------------------------------------------------------------


def test_shapes_probabilities_and_output_head():
    net = scratch.MLP(784, (64, 32), 10, seed=0)
    assert [w.shape for w in net.W] == [(784, 64), (64, 32), (32, 10)]
    assert all(w.dtype == np.float32 for w in net.params)
    p = net.predict_proba(np.random.default_rng(0).random((5, 784), dtype=np.float32))
    assert p.shape == (5, 10) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    binary = scratch.MLP(784, (8,), 2, seed=0)
    assert binary.binary and binary.W[-1].shape == (8, 1)  # one sigmoid unit
    pb = binary.predict_proba(np.zeros((3, 784), dtype=np.float32))
    assert pb.shape == (3, 2) and np.allclose(pb.sum(axis=1), 1)


def test_he_and_xavier_initialisation():
    he = scratch.MLP(784, (512,), 10, "relu", seed=0)
    assert he.W[0].std() == pytest.approx(math.sqrt(2 / 784), rel=0.02)
    xavier = scratch.MLP(784, (512,), 10, "tanh", seed=0)
    limit = math.sqrt(6 / (784 + 512))
    assert np.abs(xavier.W[0]).max() <= limit and np.abs(xavier.W[0]).max() > 0.99 * limit
    assert np.abs(he.W[-1]).max() <= math.sqrt(6 / (512 + 10))  # the output layer is Xavier under "auto"
    forced = scratch.MLP(784, (512,), 10, "tanh", init="he", seed=0)
    assert forced.W[0].std() == pytest.approx(math.sqrt(2 / 784), rel=0.02)
    assert all(np.all(b == 0) for b in he.b)


def test_sgd_with_momentum_follows_the_keras_rule():
    p = np.array([1.0, 2.0])
    opt = scratch.SGD([p], learning_rate=0.1, momentum=0.5)
    opt.step([p], [np.array([1.0, -1.0])])  # v = -0.1 g
    assert np.allclose(p, [0.9, 2.1])
    opt.step([p], [np.array([1.0, -1.0])])  # v = 0.5 v - 0.1 g = -0.15 g
    assert np.allclose(p, [0.75, 2.25])


def test_l2_adds_its_penalty_to_the_loss():
    x, y = _toy()
    net = scratch.MLP(12, (7,), 4, seed=1, dtype=np.float64)
    plain = net.loss_and_grads(x, y, 0.0)[0]
    penalised = net.loss_and_grads(x, y, 0.1)[0]
    penalty = 0.1 * sum(float((w**2).sum()) for w in net.W)
    assert penalised - plain == pytest.approx(penalty)
    assert scratch.evaluate(net, x, y, 0.1)[0] - scratch.evaluate(net, x, y)[0] == pytest.approx(
        penalty
    )  # as Keras' val_loss


# ---- training ------------------------------------------------------------------------------------


def test_short_training_learns_and_reports_events():
    events = []
    config = scratch.ScratchConfig(**QUICK)
    result = scratch.train(config, on_event=events.append)
    assert result.test_accuracy > 0.8  # chance is 0.1
    assert result.history[1].loss < result.history[0].loss
    assert not result.stopped and not result.diverged
    assert (result.n_train, result.n_val) == (1800, 200)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 2
    assert events[0].steps_per_epoch == math.ceil(1800 / 64)
    batch = next(e for e in events if e.kind == "batch")
    assert {"epoch", "batch", "loss", "accuracy", "elapsed", "samples_per_sec", "grad_norms"} <= set(
        to_record(batch)
    )
    assert batch.batch == 5 and len(batch.grad_norms) == 2
    epoch = next(e for e in events if e.kind == "epoch")
    assert {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "elapsed",
        "samples_per_sec",
        "grad_norms",
    } <= set(to_record(epoch))
    assert events[-1].test_accuracy == result.test_accuracy


def test_same_seed_same_numbers():
    config = scratch.ScratchConfig(**{**QUICK, "epochs": 1})
    a, b = scratch.train(config), scratch.train(config)
    assert a.history[0].loss == b.history[0].loss and a.test_accuracy == b.test_accuracy


def test_should_stop_ends_after_the_current_batch():
    events = []
    result = scratch.train(scratch.ScratchConfig(**QUICK), on_event=events.append, should_stop=lambda: True)
    assert result.stopped
    batches = [e for e in events if e.kind == "batch"]
    assert len(batches) == 1 and batches[0].batch == 1
    assert events[-1].kind == "end" and events[-1].stopped


def test_two_digits_make_a_binary_task():
    config = scratch.ScratchConfig(**{**QUICK, "digits": (3, 8), "subset": 1000})
    data = scratch.prepare_data(config)
    assert data.class_names == ["3", "8"] and set(np.unique(data.y_test)) == {0, 1}
    result = scratch.train(config, data=data)
    assert result.net.binary and result.test_accuracy > 0.9


def test_raw_pixels_train_far_worse_than_scaled_ones():
    scaled = scratch.train(scratch.ScratchConfig(**QUICK))
    raw = scratch.train(scratch.ScratchConfig(**QUICK, scale_inputs=False))
    assert scratch.prepare_data(scratch.ScratchConfig(subset=200, scale_inputs=False)).x_train.max() == 255
    assert raw.diverged or raw.test_accuracy < scaled.test_accuracy - 0.3


def test_divergence_is_detected_and_ends_training():
    config = scratch.ScratchConfig(**QUICK)
    net = scratch.build_net(config)
    net.W[0][:] = 1e37  # weighted sums of ~100 ink pixels overflow float32: the loss becomes NaN at once
    events = []
    result = scratch.train(config, on_event=events.append, net=net)
    assert result.diverged and len(result.history) == 1
    assert [e.batch for e in events if e.kind == "batch"] == [1]
    assert events[-1].kind == "end" and events[-1].diverged


def test_sigmoid_gradients_vanish_in_deep_nets_and_relu_ones_do_not():
    deep = dict(QUICK, hidden=(32, 32, 32, 32), epochs=1)
    sig = scratch.train(scratch.ScratchConfig(**deep, activation="sigmoid")).history[-1].grad_norms
    relu = scratch.train(scratch.ScratchConfig(**deep, activation="relu")).history[-1].grad_norms
    assert sig[0] < sig[-1] / 20  # the first layer gets a tiny fraction of the output layer's gradient
    assert relu[0] > relu[-1] / 5


def test_invalid_settings_are_listed_in_words():
    bad = scratch.ScratchConfig(
        hidden=(0, 5000), activation="softplus", learning_rate=-1, batch_size=0, digits=(3,)
    )
    problems = scratch.validate_config(bad)
    text = " ".join(str(p) for p in problems)
    for word in ("Hidden layer 1", "Hidden layer 2", "softplus", "learning rate", "batch size", "digits"):
        assert word in text
    with pytest.raises(InvalidSettings):
        scratch.train(bad)
    assert "larger than the training subset" in " ".join(
        str(p) for p in scratch.validate_config(scratch.ScratchConfig(subset=100, batch_size=128))
    )
    assert scratch.validate_config(scratch.ScratchConfig()) == []


def test_first_layer_images():
    net = scratch.MLP(784, (20,), 10, seed=0)
    images = scratch.first_layer_images(net, max_units=8)
    assert images.shape == (8, 28, 28)
    assert np.array_equal(images[3].reshape(-1), net.W[0][:, 3])


def test_keras_twin_has_the_same_architecture_and_settings():
    config = scratch.ScratchConfig(
        hidden=(64, 32),
        activation="tanh",
        l2=1e-4,
        learning_rate=0.05,
        momentum=0.8,
        batch_size=32,
        epochs=3,
        subset=5000,
    )
    spec = scratch.keras_spec(config)
    assert validate(spec) == []
    assert [layer["kind"] for layer in spec["layers"]] == ["Flatten", "Dense", "Dense", "Dense"]
    assert (
        count_params(spec)
        == scratch.n_params(config)
        == sum(p.size for p in scratch.build_net(config).params)
    )
    train_config = scratch.keras_train_config(config)
    assert validate_keras_config(train_config) == []
    assert (
        train_config.optimizer,
        train_config.learning_rate,
        train_config.momentum,
        train_config.batch_size,
        train_config.epochs,
        train_config.subset,
    ) == ("sgd", 0.05, 0.8, 32, 3, 5000)


def test_the_same_images_as_the_keras_training():
    from nnlab.training import TrainConfig, prepare_data

    config = scratch.ScratchConfig(subset=500, seed=4)
    mine = scratch.prepare_data(config)
    theirs = prepare_data(TrainConfig(subset=500, seed=4))
    assert np.array_equal(mine.y_train, theirs.y_train)
    assert np.array_equal(mine.x_val, theirs.x_val.reshape(len(theirs.x_val), -1))


# ---- the background job --------------------------------------------------------------------------


def test_job_trains_in_a_thread_and_can_be_stopped():
    job = ScratchJob(scratch.ScratchConfig(**QUICK)).start()
    job.join(120)
    snap = job.snapshot()
    assert not snap.running and snap.error is None
    assert snap.end.test_accuracy > 0.8 and len(snap.epochs) == 2 and snap.batches
    assert 0.9 <= snap.fraction_done(2) <= 1.0  # from the last batch reported
    assert job.net is not None and job.result is not None

    stopped = ScratchJob(scratch.ScratchConfig(**{**QUICK, "epochs": 50}))
    stopped.stop()  # asked before it starts: it ends after its first batch
    stopped.start().join(120)
    assert stopped.snapshot().end.stopped


def test_job_rejects_bad_settings_at_once():
    with pytest.raises(InvalidSettings):
        ScratchJob(scratch.ScratchConfig(epochs=0))


# ---- the CLI -----------------------------------------------------------------------------------------


def test_cli_trains_and_prints_the_test_accuracy(capsys):
    status = main(["scratch", "--hidden", "16", "--epochs", "1", "--subset", "1000", "--blas-threads", "1"])
    out = capsys.readouterr().out
    assert status == 0
    assert "training 784-16-10 relu" in out and "epoch 1/1" in out
    line = next(x for x in out.splitlines() if x.startswith("test accuracy:"))
    assert 0.5 < float(line.split()[2]) <= 1.0


def test_cli_binary_and_quiet(capsys):
    assert (
        main(
            [
                "scratch",
                "--digits",
                "0",
                "1",
                "--subset",
                "500",
                "--epochs",
                "1",
                "--quiet",
                "--blas-threads",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and float(out[0].split()[2]) > 0.9


def test_cli_rejects_bad_values(capsys):
    assert main(["scratch", "--hidden", "0", "--activation", "softplus"]) == 2
    err = capsys.readouterr().err
    assert "Hidden layer 1" in err and "softplus" in err
    with pytest.raises(SystemExit) as exc:
        main(["scratch", "--epochs", "many"])
    assert exc.value.code == 2


def test_keras_twins_get_names_that_tell_them_apart():
    a = scratch.ScratchConfig(hidden=(128,), learning_rate=0.1, batch_size=64, epochs=1)
    b = scratch.ScratchConfig(hidden=(128,), learning_rate=0.01, batch_size=64, epochs=1)
    name_a = scratch.keras_twin_name(a, when=0)
    assert (
        name_a.startswith("MLP 784-128-10 relu (Keras twin") and "lr 0.1" in name_a and "batch 64" in name_a
    )
    assert name_a != scratch.keras_twin_name(b, when=0)  # other settings
    assert name_a != scratch.keras_twin_name(a, when=3600)  # same settings, another time

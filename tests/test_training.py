"""A short real training learns, is reproducible, reports events and stops on request."""

from __future__ import annotations

import pytest

from nnlab import architectures as A
from nnlab.events import to_record
from nnlab.training import TrainConfig, prepare_data, train, validate_config
from nnlab.validation import InvalidSettings

QUICK = TrainConfig(epochs=2, subset=1500, batch_size=64, validation_fraction=0.1, seed=7)


@pytest.fixture(scope="module")
def quick_data():
    return prepare_data(QUICK)


def test_short_training_learns_well_above_chance(quick_data):
    events = []
    result = train(A.get_preset("MLP 784-128-10"), QUICK, on_event=events.append, data=quick_data)
    assert result.test_accuracy > 0.75  # chance is 0.10
    assert not result.stopped
    assert [e.kind for e in events][0] == "start" and events[-1].kind == "end"
    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.epoch for e in epochs] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "elapsed", "samples_per_sec"} <= set(
        to_record(epochs[0])
    )
    assert epochs[1].loss < epochs[0].loss
    batches = [e for e in events if e.kind == "batch"]
    steps = events[0].steps_per_epoch
    untrained, batches = batches[0], batches[1:]
    # step 0: the untrained network guesses: loss near ln 10 = 2.30, accuracy near chance
    assert (untrained.epoch, untrained.batch, untrained.step) == (1, 0, 0)
    assert 1.8 < untrained.loss < 3.0 and untrained.accuracy < 0.35
    assert untrained.loss > batches[-1].loss
    assert len(batches) >= 2 * (steps // QUICK.batch_event_every)
    assert all(b.samples_per_sec > 0 for b in batches) and all(b.step > 0 for b in batches)


def test_same_seed_same_numbers_on_cpu(quick_data):
    spec = A.get_preset("CNN with dropout (Keras tutorial)")
    config = TrainConfig(epochs=1, subset=600, batch_size=64, seed=3)
    a = train(spec, config)
    b = train(spec, config)
    same = ("loss", "accuracy", "val_loss", "val_accuracy")
    assert [[getattr(h, k) for k in same] for h in a.history] == [
        [getattr(h, k) for k in same] for h in b.history
    ]
    assert a.test_accuracy == b.test_accuracy


def test_stop_request_ends_within_one_batch_and_keeps_the_model(quick_data):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3

    config = TrainConfig(epochs=5, subset=1500, batch_size=32, seed=1)
    result = train(A.get_preset("MLP 784-128-10"), config, should_stop=should_stop, data=quick_data)
    assert result.stopped
    assert len(calls) == 3  # no batch ran after the request
    assert len(result.history) == 1  # the first epoch was cut short...
    steps = -(-result.n_train // config.batch_size)
    assert result.history[0].epoch == pytest.approx(3 / steps, abs=1e-3)  # ...and is placed where it ended
    assert result.model is not None and 0.0 <= result.test_accuracy <= 1.0


@pytest.mark.parametrize("schedule", ["plateau", "cosine", "exponential"])
def test_learning_rate_schedules_change_the_rate(schedule, quick_data):
    config = TrainConfig(
        epochs=3,
        subset=1500,
        batch_size=128,
        schedule=schedule,
        learning_rate=0.01,
        plateau_patience=0,
        decay_rate=0.5,
        seed=2,
    )
    result = train(A.get_preset("Logistic regression 784-10"), config, data=quick_data)
    rates = [h.lr for h in result.history]
    assert rates[-1] < rates[0] or (schedule == "plateau" and rates[-1] <= rates[0])
    if schedule == "exponential":
        assert rates[1] == pytest.approx(0.01 * 0.5, rel=0.05)


def test_augmentation_and_early_stopping_run(quick_data):
    config = TrainConfig(
        epochs=2,
        subset=1500,
        augment=True,
        early_stopping=True,
        early_stopping_patience=0,
        optimizer="sgd",
        learning_rate=0.05,
        seed=4,
    )
    result = train(A.get_preset("MLP 784-128-10"), config, data=quick_data)
    assert 1 <= len(result.history) <= 2 and result.test_accuracy > 0.5


def test_config_validation_messages():
    assert validate_config(TrainConfig()) == []
    problems = validate_config(
        TrainConfig(optimizer="adamw", learning_rate=0.0, epochs=0, validation_fraction=0.9, batch_size=2.5)
    )
    text = " ".join(str(p) for p in problems)
    assert "Unknown optimizer 'adamw'" in text
    assert "learning rate must be between" in text
    assert "epochs must be between 1" in text
    assert "validation fraction must be between 0 and 0.5" in text
    assert "batch size must be a whole number" in text
    with pytest.raises(InvalidSettings):
        train(A.get_preset("MLP 784-128-10"), TrainConfig(epochs=0))
    assert "larger than the training subset" in " ".join(
        str(p) for p in validate_config(TrainConfig(subset=200, batch_size=500))
    )

"""Learning replayed, fooling the network, the digit map, the diagram, input scaling and augmentation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnlab import snapshots as sn
from nnlab.architectures import build_model, get_preset, summary, validate
from nnlab.evaluation import mnist_test_set, to_model_input
from nnlab.explain import adversarial, embedding
from nnlab.explain.diagram import model_blocks, spec_blocks
from nnlab.runs import RunStore
from nnlab.training import TrainConfig, train, validate_config
from nnlab.worker import run_here

TINY = TrainConfig(epochs=2, subset=600, batch_size=64, validation_fraction=0.1, seed=0)


@pytest.fixture(scope="module")
def worker_run(tmp_path_factory):
    """A tiny CNN trained as a worker trains it (snapshots on), in a store of its own."""
    store = RunStore(tmp_path_factory.mktemp("snapshot_store"))
    run = run_here(get_preset("CNN Conv32-Pool-Conv64-Pool-Dense64"), TINY, store=store)
    assert run.status == "completed", run.error
    return store, run


@pytest.fixture(scope="module")
def trained_mlp(tiny_mlp):
    return tiny_mlp[2].model  # trained once for the session (conftest)


# ---- learning replayed ----------------------------------------------------------------------------


def test_a_workers_training_writes_snapshots_that_read_back(worker_run):
    store, run = worker_run
    snaps = sn.read_snapshots(store, run.id)
    steps = int(np.ceil(540 / 64))  # 600 images, 10 % held back for validation
    marks = sorted({int(np.ceil(f * steps)) for f in sn.FIRST_EPOCH_MARKS})
    assert [s.epoch for s in snaps] == [0.0, *[round(m / steps, 3) for m in marks], 1.0, 2.0]
    assert sn.snapshot_epochs(store, run.id) == [s.epoch for s in snaps]
    probe = sn.probe_indices(mnist_test_set()[1])
    assert len(probe) == 100 and np.bincount(mnist_test_set()[1][probe]).tolist() == [10] * 10
    from nnlab.modelio import load_model_safely

    model = load_model_safely(store.model_path(run.id))
    last = snaps[-1]
    assert last.layer == "conv2d_1" and last.weights.shape == (3, 3, 1, 32)
    # The last snapshot is the trained model itself: its first kernels and its answers on the probe.
    np.testing.assert_allclose(last.weights, model.get_layer("conv2d_1").get_weights()[0], atol=1e-6)
    x = to_model_input(model, mnist_test_set()[0][last.probe])
    np.testing.assert_allclose(last.probs, np.asarray(model(x)), atol=1e-5)
    assert not np.allclose(snaps[0].weights, last.weights)  # the kernels changed while it learnt
    assert last.accuracy > snaps[0].accuracy
    assert sn.latest_snapshot(store, run.id).epoch == 2.0


def test_a_run_without_snapshots_or_with_a_damaged_index_reads_as_none(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(get_preset("MLP 784-128-10"), TINY.to_dict())
    assert sn.read_snapshots(store, run.id) == [] and sn.latest_snapshot(store, run.id) is None
    store.write_artifact(run.id, sn.INDEX, b"{not json")
    assert sn.read_snapshots(store, run.id) == [] and sn.snapshot_epochs(store, run.id) == []
    index = {"layer": "dense_2", "probe": [0, 1], "snapshots": [{"epoch": 1.0, "file": "snapshot_000.npz"}]}
    store.write_artifact(run.id, sn.INDEX, json.dumps(index).encode())
    store.write_artifact(run.id, "snapshot_000.npz", b"truncated")
    assert sn.read_snapshots(store, run.id) == []


def test_a_plain_training_takes_no_snapshots():
    events = []
    train(get_preset("Logistic regression 784-10"), TrainConfig(epochs=1, subset=300), on_event=events.append)
    assert not [e for e in events if e.kind == "snapshot"]


def test_dense_first_layers_keep_their_first_units_as_images():
    weights = np.arange(784 * 128, dtype=np.float32).reshape(784, 128)
    kept = sn.kept_weights(weights)
    assert kept.shape == (784, sn.MAX_UNITS)
    from nnlab.figures.replay import weight_tiles

    np.testing.assert_array_equal(weight_tiles(kept)[3].ravel(), weights[:, 3])
    assert sn.epoch_label(0) == "the start" and sn.epoch_label(0.25) == "0.25 epochs"
    assert sn.epoch_label(1) == "1 epoch"


# ---- fooling the network ----------------------------------------------------------------------------


def test_fgsm_raises_the_loss_of_the_true_digit(trained_mlp):
    x, y = mnist_test_set()
    rises, flips = [], 0
    for i in range(8):
        image, digit = x[i] / 255.0, int(y[i])
        attack = adversarial.fgsm(trained_mlp, image, digit)
        assert attack.epsilons[0] == 0 and attack.losses[0] == pytest.approx(
            -np.log(max(float(np.asarray(trained_mlp(image.reshape(1, 28, 28, 1)))[0, digit]), 1e-7)),
            rel=1e-4,
        )
        at = int(np.argmin(np.abs(attack.epsilons - 0.1)))
        rises.append(attack.losses[at] - attack.losses[0])
        # The signed gradient beats random signs of the same size.
        noise = np.random.default_rng(i).choice([-1.0, 1.0], (28, 28))
        noisy = np.clip(image + 0.1 * noise, 0, 1).astype(np.float32)
        p_noise = float(np.asarray(trained_mlp(noisy.reshape(1, 28, 28, 1)))[0, digit])
        assert attack.losses[at] > -np.log(max(p_noise, 1e-7))
        perturbed = attack.perturbed(0.1)
        assert np.abs(perturbed - image).max() <= 0.1 + 1e-6 and 0 <= perturbed.min() and perturbed.max() <= 1
        if attack.flip is not None:
            flips += 1
            k = int(np.flatnonzero(attack.epsilons == attack.flip)[0])
            assert attack.answers[k] != attack.answers[0] and (attack.answers[:k] == attack.answers[0]).all()
    assert all(r > 0 for r in rises) and flips >= 4


# ---- the digit map -----------------------------------------------------------------------------------


def test_digit_map_pca_and_tsne_place_the_images_and_a_new_one():
    model = build_model(get_preset("Strong CNN (BatchNorm, 99.4 %+)"))
    names = [name for name, _ in embedding.map_layers(model)]
    assert names[0] == embedding.PIXELS and "conv2d_1" not in names  # 18,432 numbers: too many to map fast
    assert names[-1] == "dense_10" and "dropout_11" not in names
    dm = embedding.digit_map(model, "dense_10", "PCA")
    assert dm.coords.shape == (2000, 2) and dm.activations.shape == (2000, 128)
    assert np.bincount(dm.labels).min() > 150
    np.testing.assert_allclose(embedding.place(dm, dm.activations[5]), dm.coords[5], atol=1e-4)
    small = embedding.digit_map(model, embedding.PIXELS, "t-SNE", n_images=200)
    assert small.coords.shape == (200, 2) and small.projection is None
    spot = embedding.place(small, small.activations[7])
    assert np.linalg.norm(spot - small.coords[7]) < np.ptp(small.coords, axis=0).max() / 2
    with pytest.raises(ValueError, match="unknown map method"):
        embedding.digit_map(model, "dense_10", "UMAP")


# ---- the diagram ---------------------------------------------------------------------------------------


def test_diagram_blocks_follow_the_spec_and_mark_the_invalid_layer():
    spec = get_preset("CNN Conv32-Pool-Conv64-Pool-Dense64")
    blocks = spec_blocks(spec, validate(spec))
    table = summary(spec)
    assert blocks[0].kind == "Input" and blocks[0].shape == (28, 28, 1)
    assert [b.params for b in blocks[1:]] == list(table["parameters"])
    assert [str(b.shape).replace(",)", ")") for b in blocks[1:]] == list(table["output shape"])
    spec["layers"].insert(5, {"kind": "Conv2D", "filters": 8})  # after the Flatten: cannot work
    blocks = spec_blocks(spec, validate(spec))
    (bad,) = [b for b in blocks if b.problem]
    assert bad.index == 5 and "Flatten" in bad.problem and blocks[7].shape is None

    from nnlab.figures.diagram import diagram_figure

    model = build_model(get_preset("MLP 784-128-10"), raw_pixels=True)
    mblocks = model_blocks(model)
    assert [b.kind for b in mblocks] == ["Input", "Rescaling", "Flatten", "Dense", "Dense"]
    assert sum(b.params for b in mblocks) == model.count_params()
    fig = diagram_figure(mblocks, activations={"dense_2": np.ones(128)}, selected=1)
    assert list(fig.data[0].customdata) == [-1, 0, 1, 2, 3] and len(fig.layout.images) == 1
    assert any(s.line.width == 4 for s in fig.layout.shapes)  # the selected block is outlined


# ---- input scaling ----------------------------------------------------------------------------------


def test_scale_inputs_is_a_validated_setting_recorded_with_the_run(tmp_path):
    assert TrainConfig().scale_inputs is True
    problems = validate_config(TrainConfig(scale_inputs="no"))
    assert [p.setting for p in problems] == ["scale_inputs"] and "'no'" in problems[0].message
    store = RunStore(tmp_path)
    run = run_here(
        get_preset("Logistic regression 784-10"),
        TrainConfig(epochs=1, subset=300, scale_inputs=False),
        store=store,
    )
    assert run.status == "completed" and run.config["scale_inputs"] is False
    from nnlab.modelio import load_model_safely

    model = load_model_safely(store.model_path(run.id))  # every page loads it like any other
    assert model.layers[0].name == "raw_pixels"
    assert TrainConfig.from_dict({k: v for k, v in run.config.items() if k != "scale_inputs"}).scale_inputs


def test_unscaled_pixels_stall_an_mlp_that_learns_when_they_are_scaled():
    """The classic lesson: MLP 784-128-10 with sgd (lr 0.01, momentum 0.9) on 3,000 images."""
    accuracy = {}
    for scale in (True, False):
        config = TrainConfig(
            optimizer="sgd",
            learning_rate=0.01,
            epochs=3,
            subset=3000,
            validation_fraction=0.0,
            scale_inputs=scale,
        )
        accuracy[scale] = train(get_preset("MLP 784-128-10"), config).test_accuracy
    assert accuracy[True] > 0.8 and accuracy[False] < 0.4, accuracy


# ---- augmentation ------------------------------------------------------------------------------------


def test_the_augmentation_preview_shifts_and_turns_images_like_the_training():
    from nnlab.training.augmentation import preview

    x, _ = mnist_test_set()
    images = x[:3] / 255.0
    out = preview(images, copies=4, seed=1)
    assert out.shape == (3, 4, 28, 28) and 0 <= out.min() and out.max() <= 1.0 + 1e-6
    assert not np.allclose(out[0, 0], images[0]) and not np.allclose(out[0, 0], out[0, 1])
    np.testing.assert_allclose(preview(images, copies=4, seed=1), out)  # seeded
    assert abs(out.sum() - 4 * images.sum()) / (4 * images.sum()) < 0.15  # the ink is moved, not made
    with pytest.raises(ValueError):
        preview(np.zeros((2, 32, 32)))

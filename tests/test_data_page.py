"""The Data page: its selections (nnlab.exploration), figures (nnlab.figures.data) and an AppTest render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nnlab import exploration
from nnlab.figures import data as figs
from nnlab.figures import style

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "5_Data.py")


def test_select_indices_filters_pages_and_shuffles():
    y = np.array([0, 1, 2, 1, 1, 0, 1])
    idx, pages = exploration.select_indices(y, digit=1, page=1, per_page=3)
    assert list(idx) == [1, 3, 4] and pages == 2
    assert list(exploration.select_indices(y, digit=1, page=2, per_page=3)[0]) == [6]
    assert list(exploration.select_indices(y, digit=1, page=99, per_page=3)[0]) == [
        6
    ]  # past the end: last page
    shuffled, _ = exploration.select_indices(y, None, 1, 7, shuffle_seed=1)
    assert sorted(shuffled) == list(range(7)) and list(shuffled) != list(range(7))
    assert list(exploration.select_indices(y, None, 1, 7, shuffle_seed=1)[0]) == list(shuffled)  # seeded
    assert exploration.select_indices(y, digit=9, page=1, per_page=3)[0].size == 0
    with pytest.raises(ValueError):
        exploration.select_indices(y, per_page=0)


def test_tile_places_every_image():
    images = np.arange(5 * 2 * 3).reshape(5, 2, 3)
    mosaic = style.tile(images, cols=2, pad=1, fill=-1)
    assert mosaic.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert np.array_equal(mosaic[0:2, 4:7], images[1])
    assert np.array_equal(mosaic[6:8, 0:3], images[4])
    assert np.all(mosaic[6:8, 4:7] == -1)  # the empty sixth cell


def test_image_grid_labels_every_image():
    images = np.zeros((12, 28, 28), dtype=np.uint8)
    fig = figs.image_grid_figure(images, np.arange(12) % 10, np.arange(100, 112), cols=5)
    assert list(fig.data[1].text) == [f"<b>{d % 10}</b>" for d in range(12)]  # above each image
    assert fig.data[1].y[5] < fig.data[2].y[5] and fig.data[1].x[5] == fig.data[2].x[5] - 0.5
    assert fig.data[0].source.startswith("data:image/png;base64,")
    assert fig.data[2].text[11] == "label 1 · image #111"
    assert figs.image_grid_figure(images[:0], np.array([])).layout.title.text == "No images"


def test_class_counts_and_means():
    y_tr = np.array([0, 0, 1, 9])
    table = exploration.class_counts_table(y_tr, np.array([1]))
    assert list(table["training"]) == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert table["training share"].sum() == pytest.approx(1.0)
    fig = figs.class_counts_figure(y_tr, np.array([1]))
    assert [t.name for t in fig.data] == ["training", "test"] and list(fig.data[0].y) == list(
        table["training"]
    )
    x = np.zeros((4, 2, 2), dtype=np.uint8)
    x[0], x[1] = 100, 200
    means = exploration.mean_images(x, y_tr)
    assert means.shape == (10, 2, 2) and np.all(means[0] == 150) and np.all(means[5] == 0)
    assert len(figs.mean_images_figure(means).data) == 10


def test_pixel_histogram_and_scaling_tables():
    x = np.array([[[0, 0], [255, 128]]], dtype=np.uint8)
    counts = exploration.pixel_histogram(x)
    assert counts.shape == (256,) and counts[0] == 2 and counts[255] == 1 and counts.sum() == 4
    fig = figs.pixel_histogram_figure(counts, skip_zero=True)
    assert fig.data[0].x[0] == 1 and fig.layout.yaxis.type == "log"
    raw, scaled = exploration.raw_and_scaled(x[0])
    assert (
        raw.iloc[1, 0] == 255
        and scaled.iloc[1, 0] == 1.0
        and scaled.iloc[1, 1] == pytest.approx(0.5, abs=0.01)
    )
    stats = exploration.input_stats(x[0]).set_index("inputs")
    assert stats.loc["raw 0-255", "max"] == 255 and stats.loc["scaled [0, 1]", "max"] == 1
    with pytest.raises(ValueError):
        exploration.raw_and_scaled(x)
    image = np.zeros((28, 28), dtype=np.uint8)
    image[5:9, 10:12] = 200
    assert exploration.ink_box(image) == (slice(4, 10), slice(9, 13))
    assert exploration.ink_box(np.zeros((28, 28))) == (slice(0, 28), slice(0, 28))
    fig = figs.values_heatmap(image[4:10, 9:13], "raw", 255, ".0f", origin=(4, 9))
    assert list(fig.data[0].y) == [4, 5, 6, 7, 8, 9] and fig.data[0].text[1][1] == "200"


def test_the_page_renders_filters_pages_and_shuffles():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception and not at.error
    assert len(at.tabs) == 5
    assert len(at.get("plotly_chart")) == 6  # grid, counts, means, histogram, raw and scaled values
    assert "60,000 training images of all digits" in at.caption[0].value

    at.selectbox(key="data_digit").set_value(7).run()
    assert "6,265 training images of digit 7" in at.caption[0].value
    assert at.number_input(key="data_page").label == "Page (of 157)"
    at.number_input(key="data_page").set_value(3).run()
    assert not at.exception and at.number_input(key="data_page").value == 3

    at.button[0].click().run()  # Shuffle: a new random order, back to page 1
    assert at.session_state["data_seed"] == 1 and at.number_input(key="data_page").value == 1
    assert "shuffled" in at.caption[0].value

    at.segmented_control(key="data_part").set_value("test").run()
    assert "1,028 test images of digit 7" in at.caption[0].value

    at.number_input(key="data_scale_index").set_value(59999).run()
    assert not at.exception
    assert any("label **8**" in c.value for c in at.caption)  # the last training image is an 8

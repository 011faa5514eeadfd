"""canvas_to_mnist, load_image_bytes and predict_digit: what the Draw page relies on.

Digits are drawn with PIL (polylines with round joints and caps, the way a brush draws them) at
different places, sizes and stroke widths; each must come out like the same digit drawn in the
middle at MNIST's size. Real MNIST digits pasted off-centre on a big canvas must come back close to
the originals.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from nnlab import canvas as preprocess
from nnlab.canvas import ImageLoadError, canvas_to_mnist, load_image_bytes, stroke_width
from nnlab.data import load_mnist
from nnlab.predict import UNSURE_CONFIDENCE, predict_digit, verdict

# Digit shapes as polylines in a unit box (x right, y down).
SHAPES = {
    "7": [(0.05, 0.05), (0.95, 0.05), (0.4, 0.95)],
    "1": [(0.1, 0.25), (0.6, 0.0), (0.6, 1.0)],
    "4": [(0.75, 1.0), (0.75, 0.0), (0.0, 0.65), (1.0, 0.65)],
}


def draw(
    shape: str,
    box: tuple[float, float, float, float],
    width: int,
    size: tuple[int, int] = (280, 280),
    mode: str = "RGBA",
    ink: int = 255,
    paper: int = 0,
) -> np.ndarray:
    """A canvas ``size`` = (W, H) with ``shape`` drawn into ``box`` = (x0, y0, x1, y1)."""
    colour = {"RGBA": (ink, ink, ink, 255), "RGB": (ink, ink, ink), "L": ink}[mode]
    background = {"RGBA": (paper, paper, paper, 255), "RGB": (paper, paper, paper), "L": paper}[mode]
    img = Image.new(mode, size, background)
    pen = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    points = [(x0 + u * (x1 - x0), y0 + v * (y1 - y0)) for u, v in SHAPES[shape]]
    pen.line(points, fill=colour, width=width, joint="curve")
    r = width / 2
    for x, y in points:  # round caps, like a brush
        pen.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return np.asarray(img)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def box_of(shape: str, centre: tuple[float, float], height: float) -> tuple[float, float, float, float]:
    """A box of the given height around ``centre``, as wide as the shape's usual aspect ratio."""
    aspect = {"7": 0.6, "1": 0.35, "4": 0.65}[shape]
    cx, cy = centre
    return (cx - aspect * height / 2, cy - height / 2, cx + aspect * height / 2, cy + height / 2)


def reference(shape: str) -> np.ndarray:
    """The digit drawn in the middle of a 280 x 280 canvas at MNIST's size and stroke width."""
    out = canvas_to_mnist(draw(shape, box_of(shape, (140, 140), 200), width=22))
    assert out is not None
    return out


def assert_mnist_like(out: np.ndarray | None) -> np.ndarray:
    """The output contract: 28 x 28 float32 in [0, 1], centred by mass, within a 20 x 20 box."""
    assert out is not None
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() > 0.9
    com = ndimage.center_of_mass(out)
    assert abs(com[0] - 14.0) < 1.0 and abs(com[1] - 14.0) < 1.0, com
    rows = np.flatnonzero((out >= 0.5).any(axis=1))
    cols = np.flatnonzero((out >= 0.5).any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert max(height, width) <= 20, (height, width)
    assert max(height, width) >= 18, (height, width)  # scaled up to fill the box, not left small
    return out


# ---- empty and nearly empty -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((280, 280, 4), np.uint8),  # transparent canvas
        np.dstack([np.zeros((280, 280, 3), np.uint8), np.full((280, 280), 255, np.uint8)]),  # black canvas
        np.full((280, 280, 3), 255, np.uint8),  # blank white paper
        np.zeros((50, 90), np.uint8),
    ],
    ids=["transparent", "black-rgba", "white-rgb", "black-gray"],
)
def test_empty_images_give_none(image):
    assert canvas_to_mnist(image) is None


def test_faint_noise_is_empty():
    rng = np.random.default_rng(0)
    noise = np.clip(rng.normal(200, 5, (300, 400)) + np.linspace(-20, 20, 400), 0, 255).astype(np.uint8)
    assert canvas_to_mnist(noise) is None
    faint = np.zeros((280, 280), np.uint8)
    faint[100:200, 130:140] = 30  # barely visible mark
    assert canvas_to_mnist(faint) is None


def test_a_dot_or_a_tap_is_nearly_empty():
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).ellipse((130, 130, 150, 150), fill=(255, 255, 255, 255))
    assert canvas_to_mnist(np.asarray(canvas)) is None
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line((130, 130, 142, 136), fill=(255, 255, 255, 255), width=15)
    assert canvas_to_mnist(np.asarray(canvas)) is None
    tiny = draw("7", box_of("7", (60, 60), 20), width=3)  # a whole digit, but 7 % of the canvas
    assert canvas_to_mnist(tiny) is None


def test_the_smallest_real_digit_is_accepted():
    assert_mnist_like(canvas_to_mnist(draw("7", box_of("7", (60, 60), 40), width=4)))


# ---- invariance: where, how big, how thick --------------------------------------------------------

VARIANTS = {
    "small-in-corner": ((40, 40), 60, 6),
    "small-corner-thick": ((235, 230), 70, 16),
    "huge": ((140, 140), 265, 26),
    "thin": ((140, 140), 200, 3),
    "thick": ((140, 140), 200, 42),
    "huge-thin": ((140, 140), 265, 2),
    "small-off-centre-thin": ((200, 70), 90, 2),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_position_size_and_thickness_do_not_matter(shape, variant):
    centre, height, width = VARIANTS[variant]
    out = assert_mnist_like(canvas_to_mnist(draw(shape, box_of(shape, centre, height), width)))
    assert corr(out, reference(shape)) > 0.9


def test_thin_and_thick_strokes_are_evened_out():
    thin = canvas_to_mnist(draw("4", box_of("4", (140, 140), 200), width=3))
    thick = canvas_to_mnist(draw("4", box_of("4", (140, 140), 200), width=42))
    ink = [float((img > 0.5).sum()) for img in (thin, thick, reference("4"))]
    # Without evening out, the thick drawing would carry ~10x the ink of the thin one.
    assert max(ink) / min(ink) < 1.35, ink


def test_different_digits_stay_different():
    """Normalising must not turn every drawing into the same blob."""
    refs = {s: reference(s) for s in SHAPES}
    assert corr(refs["7"], refs["1"]) < 0.6
    assert corr(refs["7"], refs["4"]) < 0.6
    assert corr(refs["1"], refs["4"]) < 0.6


def test_stroke_width_estimate():
    for width in (3, 8, 15, 30):
        mask = np.zeros((200, 200), bool)
        mask[20:180, 100 - width // 2 : 100 - width // 2 + width] = True
        assert abs(stroke_width(mask) - width) <= 1.5, width
    assert stroke_width(np.zeros((10, 10), bool)) == 0.0


# ---- input formats --------------------------------------------------------------------------------


def test_rgba_rgb_and_gray_inputs_agree():
    box = box_of("7", (120, 150), 150)
    rgba = canvas_to_mnist(draw("7", box, 12, mode="RGBA"))
    rgb = canvas_to_mnist(draw("7", box, 12, mode="RGB"))
    gray = canvas_to_mnist(draw("7", box, 12, mode="L"))
    gray3 = canvas_to_mnist(draw("7", box, 12, mode="L")[..., np.newaxis])
    floats = canvas_to_mnist(draw("7", box, 12, mode="L").astype(np.float32) / 255.0)
    for other in (rgb, gray, gray3, floats):
        np.testing.assert_allclose(rgba, other, atol=1e-5)


def test_transparent_canvas_strokes_are_read_whatever_their_colour():
    """A canvas without a background colour returns strokes on alpha 0."""
    expected = canvas_to_mnist(draw("7", box_of("7", (140, 140), 180), 14))
    for stroke in (255, 0, 90):
        canvas = draw("7", box_of("7", (140, 140), 180), 14).copy()
        alpha = canvas[..., 0].copy()
        canvas[..., :3] = stroke
        canvas[..., 3] = alpha
        assert corr(assert_mnist_like(canvas_to_mnist(canvas)), expected) > 0.98, stroke


@pytest.mark.parametrize("size", [(500, 200), (150, 420), (1000, 800)], ids=["wide", "tall", "large"])
def test_non_square_canvases(size):
    w, h = size
    height = 0.7 * min(w, h)
    img = draw("4", box_of("4", (0.3 * w, 0.6 * h), height), width=max(2, int(height / 10)), size=size)
    out = assert_mnist_like(canvas_to_mnist(img))
    assert corr(out, reference("4")) > 0.9


def test_photo_of_dark_ink_on_light_paper_is_inverted():
    """A JPEG 'photo': grey-brown paper, uneven light, sensor noise, dark pen."""
    rng = np.random.default_rng(1)
    pen = draw("7", box_of("7", (430, 330), 420), width=20, size=(900, 700), mode="L").astype(np.float32)
    light = np.linspace(140, 235, 900)[np.newaxis, :] * np.ones((700, 1))
    paper = light - pen / 255.0 * 110.0 + rng.normal(0, 6, pen.shape)
    photo = np.clip(np.dstack([paper, paper * 0.95, paper * 0.85]), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=80)
    out = assert_mnist_like(canvas_to_mnist(load_image_bytes(buffer.getvalue())))
    assert corr(out, reference("7")) > 0.9


def test_scan_black_on_white_equals_white_on_black():
    box = box_of("1", (140, 140), 200)
    scan = canvas_to_mnist(draw("1", box, 18, mode="L", ink=0, paper=255))
    canvas = canvas_to_mnist(draw("1", box, 18, mode="L"))
    np.testing.assert_allclose(scan, canvas, atol=1e-5)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((0, 0), np.uint8),
        np.zeros((10, 10, 2), np.uint8),
        np.zeros((4, 4, 4, 4), np.uint8),
        np.full((10, 10), np.nan),
        np.array([["a", "b"]]),
    ],
    ids=["empty", "two-channels", "4d", "nan", "strings"],
)
def test_bad_arrays_raise_value_error(bad):
    with pytest.raises(ValueError):
        canvas_to_mnist(bad)


# ---- real MNIST digits ----------------------------------------------------------------------------


def test_real_mnist_digits_come_back():
    """MNIST test digits, enlarged to 200 px and pasted off-centre, return close to the originals."""
    (_, _), (x_test, _) = load_mnist()
    scores = []
    for image in x_test[:60]:
        big = np.asarray(Image.fromarray(image).resize((200, 200), Image.Resampling.BILINEAR))
        canvas = np.zeros((300, 420), np.uint8)
        canvas[85:285, 200:400] = big
        out = assert_mnist_like(canvas_to_mnist(canvas))
        scores.append(corr(out, image / 255.0))
    assert np.median(scores) > 0.9, np.median(scores)
    assert np.percentile(scores, 10) > 0.8, np.percentile(scores, 10)


def test_mnist_images_themselves_pass_through():
    (_, _), (x_test, _) = load_mnist()
    scores = [corr(canvas_to_mnist(image), image / 255.0) for image in x_test[:60]]
    assert np.median(scores) > 0.88, np.median(scores)


# ---- uploads --------------------------------------------------------------------------------------


def _encode(array: np.ndarray, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kw)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_png_uploads_round_trip(mode):
    image = draw("4", box_of("4", (140, 140), 180), 12, mode=mode)
    loaded = load_image_bytes(_encode(image, "PNG"))
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, image)


def test_16_bit_png_is_rescaled_not_clipped():
    deep = np.zeros((120, 120), np.uint16)
    deep[20:100, 55:65] = 50_000
    loaded = load_image_bytes(_encode(deep, "PNG"))
    assert loaded.dtype == np.uint8 and loaded.max() == 50_000 // 257
    assert canvas_to_mnist(loaded) is not None


def test_jpeg_upload_and_size_reduction():
    image = draw("7", box_of("7", (1000, 700), 1000), 60, size=(2000, 1400), mode="RGB")
    loaded = load_image_bytes(_encode(image, "JPEG", quality=90))
    assert loaded.shape == (717, 1024, 3)  # reduced to UPLOAD_MAX_SIDE, aspect ratio kept
    assert corr(assert_mnist_like(canvas_to_mnist(loaded)), reference("7")) > 0.9


def test_upload_errors_are_plain_value_errors():
    with pytest.raises(ImageLoadError, match="not an image"):
        load_image_bytes(b"%PDF-1.4 this is a document, not a picture")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image_bytes(b"")
    png = _encode(np.zeros((64, 64), np.uint8), "PNG")
    with pytest.raises(ImageLoadError, match="too large"):
        load_image_bytes(png, max_bytes=len(png) - 1)
    with pytest.raises(ImageLoadError, match="PNG or JPEG"):
        load_image_bytes(_encode(np.zeros((64, 64), np.uint8), "GIF"))
    jpeg = _encode(np.full((200, 200, 3), 128, np.uint8), "JPEG")
    with pytest.raises(ImageLoadError, match="truncated or damaged"):
        load_image_bytes(jpeg[:300])
    with pytest.raises(ImageLoadError):
        load_image_bytes("a string")  # type: ignore[arg-type]
    assert issubclass(ImageLoadError, ValueError)


@pytest.mark.parametrize("shape", [(1, 1000), (5000, 1), (2, 20000), (10, 201)])
def test_a_strip_is_refused_in_words(shape):
    # The Draw page showed these at its canvas's width: a traceback ("height and width must be > 0").
    with pytest.raises(ImageLoadError, match="strip"):
        load_image_bytes(_encode(np.zeros(shape, np.uint8), "PNG"))


@pytest.mark.parametrize("shape", [(1, 1), (10, 200), (200, 10), (28, 28)])
def test_narrow_pictures_are_kept(shape):
    assert load_image_bytes(_encode(np.zeros(shape, np.uint8), "PNG")).shape == shape


def test_decompression_bomb_is_refused():
    bomb = _encode(np.zeros((7000, 7000), np.uint8), "PNG")  # 49 megapixels of zeros: tiny file
    assert len(bomb) < preprocess.MAX_UPLOAD_BYTES
    with pytest.raises(ImageLoadError, match="too large|too many pixels"):
        load_image_bytes(bomb)


# ---- prediction -----------------------------------------------------------------------------------


def _probs(**top: float) -> np.ndarray:
    """Ten probabilities with the given ones (d3=0.7 -> digit 3) and the rest shared equally."""
    p = np.zeros(10)
    for name, value in top.items():
        p[int(name[1:])] = value
    rest = [i for i in range(10) if p[i] == 0]
    p[rest] = (1.0 - p.sum()) / len(rest)
    return p


def test_verdict_flags_unsure_predictions():
    v = verdict(_probs(d9=0.91))
    assert (v.digit, v.unsure) == (9, False) and v.confidence == pytest.approx(0.91)
    assert verdict(_probs(d3=UNSURE_CONFIDENCE - 0.05)).unsure  # low top probability
    v = verdict(_probs(d1=0.62, d7=0.38))  # above 0.6 but the runner-up is close
    assert v.unsure and (v.digit, v.runner_up) == (1, 7) and v.runner_up_probability == pytest.approx(0.38)
    assert not verdict(_probs(d1=0.75, d7=0.25)).unsure
    with pytest.raises(ValueError):
        verdict(np.ones(3))


def test_predict_digit_with_a_keras_model():
    from nnlab._tf import keras

    probs_model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    logits_model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    flat_model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    img = canvas_to_mnist(draw("7", box_of("7", (140, 140), 200), 20))
    for model in (probs_model, logits_model, flat_model):
        probs = predict_digit(model, img)
        assert probs.shape == (10,) and probs.dtype == np.float32
        assert probs.min() >= 0 and probs.sum() == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(predict_digit(model, img[..., np.newaxis]), probs, atol=1e-6)
    # The same numbers as Keras' own predict.
    expected = probs_model.predict(img[np.newaxis, ..., np.newaxis], verbose=0)[0]
    np.testing.assert_allclose(predict_digit(probs_model, img), expected, atol=1e-5)
    with pytest.raises(ValueError, match="28 x 28"):
        predict_digit(probs_model, np.zeros((20, 20)))

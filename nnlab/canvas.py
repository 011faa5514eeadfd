"""Turn a drawing or an uploaded picture into the 28 x 28 image an MNIST network expects.

MNIST's digits were not just shrunk: each was cropped to its bounding box, scaled to fit a 20 x 20
box (keeping its aspect ratio, anti-aliased) and placed in a 28 x 28 field with its centre of mass at
the centre. ``canvas_to_mnist`` repeats those steps on anything a person draws or uploads, and also
evens out the stroke width, so that a digit drawn small in a corner, huge, thin or thick reaches the
network looking like the digits it learned from. Pure numpy / scipy / Pillow: no TensorFlow here.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from nnlab.ui.format import format_bytes

# ---- constants, measured on MNIST itself -------------------------------------------------------------

FIELD = 28  # output side
BOX = 20  # MNIST's digits fit a 20 x 20 box...
# ...we scale the long side to 19.5 px: placed at any sub-pixel offset, its solid part stays within 20.
FIT = 19.5
CENTRE = 14.0  # MNIST's centres of mass sit at (14.0, 14.0) (mean over the test set; std 0.29 px)
RESAMPLE = Image.Resampling.BOX  # area averaging: the anti-aliasing closest to MNIST's own
# Median of (stroke width / bounding-box long side) of MNIST test digits, enlarged and measured the
# way drawings are (``_work_mask`` then ``stroke_width``): 0.102-0.115 depending on the enlargement;
# the 10 %-90 % range across digits is about 0.08-0.16.
STROKE_RATIO = 0.107

MAX_SIDE = 400  # larger inputs (photos) are first reduced to this long side: plenty for a digit
MIN_CONTRAST = 0.2  # ink must stand out from the background by this fraction of full scale
MIN_EXTENT = 0.1  # the drawing's long side must cover this fraction of the picture's short side...
MIN_EXTENT_STROKES = 2.0  # ...and be this many stroke widths long (a dot or blob is not a digit)
MIN_WORK_SIDE = 64  # drawings are measured and re-stroked at a long side between these two
MAX_WORK_SIDE = 128
SPECK_FRACTION = 0.02  # ink components smaller than this share of all ink are noise

# ---- uploads --------------------------------------------------------------------------------------

MAX_UPLOAD_BYTES = 5_000_000  # 5 MB
MAX_UPLOAD_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
# MPO is how many phones save a photo: a JPEG with extra pictures (depth, other lenses) appended;
# Pillow reads its first picture like any JPEG.
ALLOWED_FORMATS = ("PNG", "JPEG", "MPO")
UPLOAD_MAX_SIDE = 1024  # uploads are reduced to this long side on loading
# A picture of one digit is never a strip: a side more than this many times the other is refused (a
# 1000 x 1 strip shrank to no pixels at all when shown, or when reduced to UPLOAD_MAX_SIDE).
MAX_UPLOAD_ASPECT = 20


class ImageLoadError(ValueError):
    """An uploaded file that cannot be used as a digit picture; the message is meant for the user."""


def load_image_bytes(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """Decode an uploaded PNG or JPEG into a uint8 array (H x W gray, H x W x 3 or H x W x 4).

    Checks size and type at the edge so that the page can show ``str(error)`` as is. Photos are
    turned upright (EXIF orientation) and reduced to at most ``UPLOAD_MAX_SIDE`` pixels a side.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageLoadError("Expected the bytes of an image file.")
    size = len(data)
    if size == 0:
        raise ImageLoadError("The file is empty.")
    if size > max_bytes:
        raise ImageLoadError(
            f"The file is too large ({format_bytes(size)}); the limit is {format_bytes(max_bytes)}. "
            "A photo of one digit needs far less: crop or shrink it first."
        )
    img = _standard_mode(_decode(bytes(data)))
    if max(img.size) > UPLOAD_MAX_SIDE:
        img.thumbnail((UPLOAD_MAX_SIDE, UPLOAD_MAX_SIDE), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8).copy()


def _decode(data: bytes) -> Image.Image:
    """The decoded, upright picture; every way decoding can fail becomes an ``ImageLoadError``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in ALLOWED_FORMATS:
                raise ImageLoadError(
                    f"This is a {img.format or 'unknown'} image; please upload a PNG or JPEG file."
                )
            if img.width * img.height > MAX_UPLOAD_PIXELS:
                raise ImageLoadError(
                    f"The image is too large ({img.width} x {img.height} pixels); the limit is "
                    f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels."
                )
            if max(img.size) > MAX_UPLOAD_ASPECT * min(img.size):
                raise ImageLoadError(
                    f"The picture is a strip ({img.width} x {img.height} pixels): one side is more than "
                    f"{MAX_UPLOAD_ASPECT} times the other. Crop it around the digit and upload it again."
                )
            if img.format in ("JPEG", "MPO"):
                img.draft("RGB", (UPLOAD_MAX_SIDE, UPLOAD_MAX_SIDE))  # decode big JPEGs reduced
            img.load()
            return ImageOps.exif_transpose(img)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        message = "This file is not an image; please upload a PNG or JPEG picture of a digit."
        raise ImageLoadError(message) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError("The image has too many pixels to be opened safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageLoadError("The image could not be read: the file seems truncated or damaged.") from None


def _standard_mode(img: Image.Image) -> Image.Image:
    """8-bit grey, RGB, or RGBA where the picture has transparency."""
    if img.mode in ("I", "I;16", "I;16B", "F"):  # 16-bit or float grey: rescale, do not clip
        grey = np.asarray(img, dtype=np.float32)
        return Image.fromarray(np.clip(grey / 257.0 if grey.max() > 255 else grey, 0, 255).astype(np.uint8))
    if img.mode in ("1", "L"):
        return img.convert("L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return img.convert("RGBA")
    return img.convert("RGB")


# ---- the conversion ---------------------------------------------------------------------------------


def canvas_to_mnist(image: np.ndarray) -> np.ndarray | None:
    """A drawing (H x W x 4 RGBA, H x W x 3 or H x W; any size) -> 28 x 28 float32 in [0, 1], or None.

    The result is a white digit on black, prepared like MNIST's images: stroke width evened out to
    MNIST's typical width, bounding box scaled into 20 x 20 keeping the aspect ratio (anti-aliased),
    centre of mass moved to the centre of the 28 x 28 field. Dark ink on light paper (a photo or scan)
    is detected and inverted. Returns None when there is nothing that looks like a digit (an empty
    canvas, a dot, faint noise), so the caller can ask the person to draw. Raises ValueError for an
    array that is not an image.
    """
    gray = _limit_size(_to_gray(image), MAX_SIDE)
    ink = _ink_map(gray)
    if ink is None:
        return None
    threshold = _otsu(ink)
    mask = _clean(ink > threshold)
    if not mask.any():
        return None
    r0, r1, c0, c1 = _bbox(mask)
    if max(r1 - r0, c1 - c0) < MIN_EXTENT * min(gray.shape):
        return None
    work = _work_mask(ink, mask, threshold)
    width = stroke_width(work)
    if max(work.shape) < MIN_EXTENT_STROKES * width:
        return None  # a dot or a blob, not a digit
    return _to_field(_crop(_normalize_stroke(work, width), margin=0))


def as_image28(image: np.ndarray) -> np.ndarray:
    """The one check of a prepared image: (28, 28) or (28, 28, 1), uint8 0-255 or floats in [0, 1].

    Returns float32 (28, 28) in [0, 1] (uint8 divided by 255, floats clipped). Raises ValueError in
    words for anything else (another shape, NaN or infinite values).
    """
    img = np.asarray(image)
    if img.shape == (FIELD, FIELD, 1):
        img = img[..., 0]
    if img.shape != (FIELD, FIELD):
        raise ValueError(f"Expected a 28 x 28 image, got shape {img.shape}.")
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(img.dtype, np.number) or np.issubdtype(img.dtype, np.complexfloating):
        raise ValueError(f"Expected image pixels as numbers, got {img.dtype}.")
    img = img.astype(np.float32)
    if not np.isfinite(img).all():
        raise ValueError("The image contains NaN or infinite values.")
    return np.clip(img, 0.0, 1.0)


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width of a binary drawing, in pixels: twice the median depth of its ridge.

    The ridge is where the distance to the background peaks across a stroke, so ends and junctions
    barely move the median. Returns 0.0 for an empty mask.
    """
    mask = np.pad(np.asarray(mask, dtype=bool), 1)  # the outside of the array is background
    depth = ndimage.distance_transform_edt(mask)
    ridge = mask & (depth >= ndimage.maximum_filter(depth, size=3))
    if not ridge.any():
        return 0.0
    # A ridge pixel at depth d (distance to the background, counted from pixel centres) sits in the
    # middle of a stroke about 2d - 1 pixels wide: d pixels on each side, the centre counted twice.
    return float(2.0 * np.median(depth[ridge]) - 1.0)


def _to_gray(image: np.ndarray) -> np.ndarray:
    """Any accepted input -> float32 gray levels 0-255 (transparent RGBA composited to contrast)."""
    a = np.asarray(image)
    if a.size == 0:
        raise ValueError("The image is empty (no pixels).")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"Expected an H x W, H x W x 3 or H x W x 4 image, got shape {a.shape}.")
    if a.dtype == np.bool_:
        a = a.astype(np.float32) * 255.0
    elif not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"Expected image pixels as numbers, got {a.dtype}.")
    if a.dtype != np.uint8:
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ValueError("The image contains NaN or infinite values.")
        if np.issubdtype(np.asarray(image).dtype, np.floating) and a.max() <= 1.0:
            a = a * 255.0  # floats in [0, 1]
        a = np.clip(a, 0.0, 255.0)
    if a.ndim == 2:
        return a.astype(np.float32, copy=False)
    lum = a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    if a.shape[2] == 3 or a[..., 3].min() >= 250:
        return lum  # opaque, e.g. the canvas with a background colour
    alpha = a[..., 3].astype(np.float32) / 255.0
    # Transparent background: paint the strokes over whichever of black / white they stand out on.
    opaque = alpha > 0.5
    if not opaque.any():
        return np.zeros(lum.shape, np.float32)
    backdrop = 255.0 if float(lum[opaque].mean()) < 128.0 else 0.0
    return lum * alpha + backdrop * (1.0 - alpha)


def _limit_size(gray: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink a big picture (area-averaged, so thin strokes fade rather than vanish)."""
    h, w = gray.shape
    if max(h, w) <= max_side:
        return gray
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BOX), dtype=np.float32)


def _ink_map(gray: np.ndarray) -> np.ndarray | None:
    """Ink strength in [0, 1] on a 0 background, or None when nothing stands out.

    The background is read from the picture's border; a light one (paper) means dark ink, which is
    inverted. Uneven lighting of photos is flattened with a grey opening larger than any stroke.
    """
    h, w = gray.shape
    edge = max(1, min(h, w) // 50)
    border = np.concatenate(
        [gray[:edge].ravel(), gray[-edge:].ravel(), gray[:, :edge].ravel(), gray[:, -edge:].ravel()]
    )
    background = float(np.median(border))
    ink = 255.0 - gray if background > 127.5 else gray.copy()
    background = 255.0 - background if background > 127.5 else background
    if background > 8.0 or float(np.percentile(border, 90)) - float(np.percentile(border, 10)) > 16.0:
        size = max(3, min(h, w) // 4)
        ink = ink - ndimage.grey_opening(ink, size=(size, size))  # remove the lighting, keep strokes
    else:
        ink = ink - background
    ink = np.clip(ink, 0.0, None)
    top = float(ink.max())
    if top < MIN_CONTRAST * 255.0:
        return None
    return ink / top


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of an ink map in [0, 1], kept within [0.25, 0.6] (anti-aliased edges vs noise)."""
    bins = 64
    hist = np.bincount(np.minimum(values * bins, bins - 1).astype(np.int32).ravel(), minlength=bins)
    hist = hist.astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mean1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    # Otsu: the threshold that best splits the values into two groups (background, ink) is the one
    # that maximises the variance between the groups, w0 * w1 * (mean0 - mean1)^2, with w the counts.
    between = w0 * w1 * (mean0 - mean1) ** 2
    threshold = float(edges[int(np.argmax(between)) + 1])
    return min(max(threshold, 0.25), 0.6)


def _clean(mask: np.ndarray) -> np.ndarray:
    """Drop specks: connected pieces holding under SPECK_FRACTION of all ink."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n <= 1:
        return mask
    areas = np.bincount(labels.ravel())
    areas[0] = 0
    keep = areas >= SPECK_FRACTION * areas.sum()
    return keep[labels]


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _crop(a: np.ndarray, margin: int) -> np.ndarray:
    r0, r1, c0, c1 = _bbox(a)
    return np.pad(a[r0:r1, c0:c1], margin)


def _work_mask(ink: np.ndarray, mask: np.ndarray, threshold: float) -> np.ndarray:
    """The cleaned drawing cropped to its box, at a working size of MIN_WORK_SIDE-MAX_WORK_SIDE.

    Tiny drawings are enlarged from the anti-aliased ink (smooth edges); big ones are reduced by
    whole blocks, a block being ink if any of its pixels is (a one-pixel line must not vanish).
    The size no longer matters after this: the output depends on shapes relative to the box.
    """
    r0, r1, c0, c1 = _bbox(mask)
    crop = mask[r0:r1, c0:c1]
    long_side = max(crop.shape)
    if long_side > MAX_WORK_SIDE:
        # -(-a // b) is ceil(a / b) in integers: the smallest block size that fits, and whole blocks
        k = -(-long_side // MAX_WORK_SIDE)
        h, w = -(-crop.shape[0] // k) * k, -(-crop.shape[1] // k) * k
        crop = np.pad(crop, ((0, h - crop.shape[0]), (0, w - crop.shape[1])))
        return crop.reshape(h // k, k, w // k, k).any(axis=(1, 3))
    if long_side >= MIN_WORK_SIDE:
        return crop
    region = np.where(crop, ink[r0:r1, c0:c1], 0.0).astype(np.float32)
    scale = MIN_WORK_SIDE / long_side
    size = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
    big = np.asarray(Image.fromarray(region).resize(size, Image.Resampling.BILINEAR)) > threshold
    return _crop(big, margin=0) if big.any() else crop


def _normalize_stroke(mask: np.ndarray, width: float) -> np.ndarray:
    """Thicken or thin the strokes to MNIST's width relative to the final bounding box.

    With drawn width w and bounding-box long side L, the strokes' centre lines span L - w; the target
    width t satisfies t = STROKE_RATIO * (L - w + t). Thickening grows the ink by (t - w) / 2 on every
    side, thinning erodes it by (w - t) / 2 (both through one distance transform). ``mask`` is a
    tight crop; the result is padded as needed.
    """
    long_side = max(mask.shape)
    target = STROKE_RATIO * max(long_side - width, 1.0) / (1.0 - STROKE_RATIO)
    delta = (target - width) / 2.0
    if abs(delta) < 0.5:
        return mask
    if delta > 0:
        grown = np.pad(mask, int(np.ceil(delta)) + 1)
        return ndimage.distance_transform_edt(~grown) <= delta
    mask = np.pad(mask, 1)
    thinned = ndimage.distance_transform_edt(mask) > -delta
    # Never let thinning erase part of the drawing: keep pieces that would vanish as they were.
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n > 1:
        survived = np.zeros(n + 1, bool)
        survived[np.unique(labels[thinned])] = True
        thinned |= (~survived[labels]) & mask
    return thinned if thinned.any() else mask


def _to_field(mask: np.ndarray) -> np.ndarray:
    """Binary crop -> scaled to fit BOX x BOX (anti-aliased), centre of mass at the field's centre.

    One resampling does both: the source window read into the 28 x 28 field is placed so that the
    drawing's centre of mass lands on CENTRE to a fraction of a pixel (rounding the shift to whole
    pixels would make the same drawing jump by one pixel as it moves). The drawing spans FIT
    pixels so that any sub-pixel offset still keeps its solid part within a BOX x BOX square.
    """
    scale = FIT / max(mask.shape)  # output pixels per source pixel
    com_r, com_c = ndimage.center_of_mass(mask)
    span = FIELD / scale
    # PIL's pixel j covers [j, j + 1]: source centre c + 0.5 must land on output centre CENTRE + 0.5.
    top = com_r + 0.5 - (CENTRE + 0.5) / scale
    left = com_c + 0.5 - (CENTRE + 0.5) / scale
    # A very lopsided drawing would be pushed partly out of the field: keep all of it in instead.
    top = min(max(top, mask.shape[0] - span), 0.0)
    left = min(max(left, mask.shape[1] - span), 0.0)
    pad = int(np.ceil(max(0.0, -top, -left, top + span - mask.shape[0], left + span - mask.shape[1]))) + 1
    src = Image.fromarray(np.pad(mask, pad).astype(np.float32))
    box = (left + pad, top + pad, left + pad + span, top + pad + span)
    field = np.asarray(src.resize((FIELD, FIELD), RESAMPLE, box=box), dtype=np.float32)
    field = np.clip(field, 0.0, 1.0)
    field[field < 1e-3] = 0.0
    return field

"""The demo's logic, shared by the interactive chapter and the Streamlit app: read an uploaded image as the
training data is read, run the cascade (the classifier, then the segmenter) and describe the result."""
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import metrics
from .pipeline import resize_slice

MAX_BYTES = 20 * 2**20  # an MRI slice is far smaller; a larger upload is refused with a message
MAX_PIXELS = 4096 * 4096
BRAIN_LEVEL = 0.05  # a pixel is brain (not background) where its mean intensity is above this share of the brightest
FORMATS = ("tif", "tiff", "png", "jpg", "jpeg")


class UploadError(ValueError):
    """An upload that is not an image the demo can use; the message says what to upload instead."""


def read_upload(data, name="the upload"):
    """An uploaded image file as a uint8 RGB array (H, W, 3), with notes on any conversion made."""
    if len(data) > MAX_BYTES:
        raise UploadError(f"{name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB. "
                          "Upload one slice (the data set's slices are about 200 kB).")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise UploadError(f"{name} is {image.width}x{image.height} pixels; the limit is {MAX_PIXELS:,} pixels. "
                              "Upload one slice (the data set's are 256x256).")
        image.load()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError) as err:
        if isinstance(err, UploadError):
            raise
        raise UploadError(f"{name} is not an image the demo can read ({type(err).__name__}). Upload a TIFF, PNG "
                          "or JPEG slice, such as <case>_<n>.tif from the data set.") from None
    return to_rgb(image)


def to_rgb(image):
    """A Pillow image as uint8 RGB (H, W, 3) and notes: 16-bit scaled to 0-255, one channel copied to
    three, an alpha channel dropped, only the first frame of a stack kept."""
    notes = []
    if getattr(image, "n_frames", 1) > 1:
        notes.append(f"The file holds {image.n_frames} images; the first is used.")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(), values.max()
        image = Image.fromarray(np.uint8(np.round(255 * (values - low) / max(high - low, 1e-12))))
        notes.append("The image has more than 8 bits per pixel: its intensities were scaled to 0-255 by their range.")
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        notes.append("The transparency (alpha) channel was dropped.")
    if len(image.getbands()) == 1 or image.mode in ("LA", "1"):
        notes.append("The image has one channel; it was copied into all three. The models were trained on three MRI "
                      "sequences (pre-contrast, FLAIR, post-contrast), so expect weaker predictions.")
    return np.asarray(image.convert("RGB")), notes


@dataclass
class Result:
    """What the cascade says about one slice."""

    tumour_probability: float | None  # the classifier's, or None without a classifier
    detected: bool  # the classifier's call (True without a classifier)
    mask: np.ndarray  # bool (H, W) at the image's own size
    brain_pixels: int

    @property
    def pixels(self):
        """Tumour pixels in the predicted mask."""
        return int(self.mask.sum())

    @property
    def brain_share(self):
        """The tumour's share of the brain area (pixels brighter than the background)."""
        return self.pixels / max(self.brain_pixels, 1)

    def message(self, threshold):
        """One sentence for the reader: no tumour detected, or the tumour's size."""
        said = "" if self.tumour_probability is None else f"the classifier's tumour probability is {self.tumour_probability:.2f}"
        if not self.detected:
            return f"No tumour detected: {said}, below its threshold of {threshold:.2f}."
        if self.pixels == 0:
            return f"No tumour outlined: {said or 'there is no classifier'}, but the segmenter marks no pixel."
        return f"Tumour: {self.pixels:,} pixels, {self.brain_share:.1%} of the brain area" + (f"; {said}." if said else ".")


def brain_pixels(image):
    """Pixels brighter than the background (mean over channels above ``BRAIN_LEVEL`` of the maximum)."""
    mean = image.astype(np.float64).mean(axis=-1)
    return int((mean > BRAIN_LEVEL * max(mean.max(), 1)).sum())


def model_input(image, size):
    """A uint8 RGB image as the (1, size, size, 3) float batch the models take (resized as in training)."""
    return (np.asarray(resize_slice(image, size), dtype=np.float32) / 255.0)[None]


def analyse(image, segmenter, classifier=None, threshold=0.5):
    """Run the cascade on a uint8 RGB image of any size: the classifier decides whether there is a tumour
    (probability at least ``threshold``); only then does the segmenter outline it, at the image's size."""
    x = model_input(image, segmenter.input_shape[1])
    probability = None if classifier is None else float(np.asarray(classifier(x, training=False))[0, 1])
    detected = probability is None or probability >= threshold
    mask = np.zeros(image.shape[:2], bool)
    if detected:
        small = np.asarray(segmenter(x, training=False))[0, ..., 0].astype(np.float32)
        mask = np.asarray(Image.fromarray(small).resize(image.shape[1::-1], Image.BILINEAR)) > metrics.THRESHOLD
    return Result(probability, detected, mask, brain_pixels(image))


def mask_png(mask):
    """A predicted mask as PNG bytes (tumour white, background black), the size of the uploaded image."""
    buffer = io.BytesIO()
    Image.fromarray(np.uint8(mask) * 255).save(buffer, format="PNG")
    return buffer.getvalue()


def example_slices(slices):
    """Two slices to try, as rows of ``slices``: the one with the largest tumour, and the tumour-free slice of
    the same patient nearest to it (so the two look alike, but one has no tumour)."""
    largest = slices.loc[slices.tumour_pixels.idxmax()]
    free = slices[(slices.case == largest.case) & ~slices.tumour]
    nearest = free.loc[(free.slice - largest.slice).abs().idxmin()]
    return {f"{largest.case} slice {largest.slice} (tumour)": largest,
            f"{nearest.case} slice {nearest.slice} (no tumour)": nearest}

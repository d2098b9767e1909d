"""The demo's logic: reading uploads of every kind (and refusing bad ones), the cascade, the mask file."""
import io

import keras
import numpy as np
import pytest
from PIL import Image

from lgg_utils import demo
from lgg_utils.pipeline import resize_slice

SIZE = 32


def encode(array, fmt="PNG", **options):
    """An array saved as an image file's bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def bright_flair_models():
    """Stand-in models that respond to content: the segmenter marks pixels whose FLAIR is above 0.5, the
    classifier says tumour when some FLAIR pixel is (its tumour logit is 20 x max FLAIR - 10)."""
    segmenter = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(1, 1, activation="sigmoid")])
    segmenter.layers[0].set_weights([np.array([0.0, 40.0, 0.0]).reshape(1, 1, 3, 1), np.array([-20.0])])
    classifier = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.GlobalMaxPooling2D(),
                                   keras.layers.Dense(2, activation="softmax")])
    classifier.layers[-1].set_weights([np.array([[0.0, 0.0], [0.0, 20.0], [0.0, 0.0]]), np.array([0.0, -10.0])])
    return segmenter, classifier


def brain(size=64, tumour=True):
    """A uint8 RGB slice: a grey disc of brain on black, with a bright 16x16 FLAIR square when ``tumour``."""
    yy, xx = np.mgrid[:size, :size]
    image = np.zeros((size, size, 3), np.uint8)
    image[(yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size * 0.4) ** 2] = 60
    if tumour:
        image[24:40, 24:40, 1] = 240
    return image


def test_reads_an_rgb_png_unchanged_without_notes():
    image = brain()
    read, notes = demo.read_upload(encode(image))
    assert np.array_equal(read, image) and notes == []


def test_reads_a_data_set_tiff_as_training_does(sample_slices):
    path = sample_slices.image_path.iloc[0]
    read, notes = demo.read_upload(open(path, "rb").read(), "slice.tif")
    assert np.array_equal(read, np.asarray(Image.open(path))) and notes == []


@pytest.mark.parametrize("mode, note", [("L", "one channel"), ("RGBA", "alpha"), ("I;16", "more than 8 bits")])
def test_converts_other_formats_to_rgb_with_a_note(mode, note):
    flair = brain()[..., 1]
    array = {"L": flair, "RGBA": np.dstack([brain(), np.full(flair.shape, 255, np.uint8)]),
             "I;16": flair.astype(np.uint16) * 256}[mode]
    read, notes = demo.read_upload(encode(array))
    assert read.shape == (64, 64, 3) and read.dtype == np.uint8
    assert any(note in n for n in notes), notes
    expected = np.round(255 * (flair / flair.max())) if mode == "I;16" else flair  # 16 bits: stretched to 0-255
    assert np.abs(read[..., 1].astype(int) - expected).max() <= 1


def test_jpeg_and_multi_frame_tiff():
    read, _ = demo.read_upload(encode(brain(), "JPEG", quality=95))
    assert read.shape == (64, 64, 3)
    frames = [Image.fromarray(brain()), Image.fromarray(brain(tumour=False))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    read, notes = demo.read_upload(buffer.getvalue())
    assert np.array_equal(read, brain()) and any("first" in n for n in notes)


@pytest.mark.parametrize("data, message", [
    (b"%PDF-1.4 a report, not a slice", "not an image"),
    (encode(brain())[:60], "not an image"),  # a truncated file
    (b"0" * (demo.MAX_BYTES + 1), "the limit is 20 MB"),
])
def test_refuses_what_is_not_a_usable_image(data, message):
    with pytest.raises(demo.UploadError, match=message):
        demo.read_upload(data, "upload.png")


def test_refuses_an_image_too_large(monkeypatch):
    monkeypatch.setattr(demo, "MAX_PIXELS", 32 * 32)
    with pytest.raises(demo.UploadError, match="64x64 pixels"):
        demo.read_upload(encode(brain()))


def test_cascade_outlines_a_tumour_at_the_image_size():
    segmenter, classifier = bright_flair_models()
    result = demo.analyse(brain(), segmenter, classifier, threshold=0.5)
    assert result.detected and result.tumour_probability > 0.99
    assert result.mask.shape == (64, 64) and abs(result.pixels - 16 * 16) <= 40
    assert 0 < result.brain_share < 0.3 and "Tumour: " in result.message(0.5)


def test_cascade_says_no_tumour_and_skips_the_segmenter():
    segmenter, classifier = bright_flair_models()
    result = demo.analyse(brain(tumour=False), segmenter, classifier, threshold=0.5)
    assert not result.detected and result.pixels == 0
    assert result.message(0.5).startswith("No tumour detected")


def test_without_a_classifier_every_slice_is_segmented():
    segmenter, _ = bright_flair_models()
    result = demo.analyse(brain(), segmenter)
    assert result.tumour_probability is None and result.detected and result.pixels > 0


def test_model_input_is_resized_as_in_training():
    image = brain(size=256)
    x = demo.model_input(image, SIZE)
    assert x.shape == (1, SIZE, SIZE, 3) and np.allclose(x[0] * 255, np.asarray(resize_slice(image, SIZE)))


def test_mask_png_round_trips():
    mask = brain()[..., 1] > 200
    back = np.asarray(Image.open(io.BytesIO(demo.mask_png(mask))))
    assert np.array_equal(back > 0, mask)


def test_examples_are_a_tumour_slice_and_a_tumour_free_neighbour(sample_slices):
    tumour, free = demo.example_slices(sample_slices).values()
    assert tumour.tumour_pixels == sample_slices.tumour_pixels.max()
    assert free.case == tumour.case and not free.tumour


def test_changing_the_module_threshold_changes_the_demo_mask(monkeypatch):
    from lgg_utils import metrics

    segmenter, _ = bright_flair_models()
    default = demo.analyse(brain(), segmenter).pixels
    monkeypatch.setattr(metrics, "THRESHOLD", 0.999999)
    assert demo.analyse(brain(), segmenter).pixels < default

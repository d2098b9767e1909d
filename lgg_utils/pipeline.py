"""The tf.data input pipeline: TIFF files -> resized, scaled, batched tensors.

read (Pillow, in parallel) -> [cropped to the brain: cut out its square] -> resize to the profile's size ->
cache (uint8, in memory) -> [training: shuffle] -> scale to [0, 1] -> [training: augment] ->
[per volume: z-score] -> batch -> prefetch.
Training with ``weights`` draws the cached rows by weight instead of shuffling them, anew each epoch. A table
``with_neighbours`` gives each slice its neighbours' sequences as extra channels (2.5-D input).
"""
import os

import numpy as np
import tensorflow as tf

from .augmentation import augment
from .data import DataError, read_slice
from .volumes import BOX, STATS

AUTOTUNE = tf.data.AUTOTUNE
TARGETS = ("mask", "label", "both")
SCALED = np.array([0, 255, 0, 0, 0, 1, 1, 1], np.float32)  # the ``volumes.STATS`` under which x / 255 is all
SEQUENCES = 3  # channels of one slice: pre-contrast, FLAIR, post-contrast
NEIGHBOURS = ("previous_path", "next_path")  # the image files of a slice's neighbours (``with_neighbours``)
WITH_NEIGHBOURS = SEQUENCES * (1 + len(NEIGHBOURS))  # channels of a slice with its neighbours' sequences


def crop_square(array, box):
    """The square ``box`` (top, left, side, ...; side 0: the whole array) cut out of an (H, W, C) array, 0 where
    it reaches past the array."""
    top, left, side = (int(v) for v in box[:3])
    if side == 0:
        return array
    padded = np.pad(array, ((side, side), (side, side), (0, 0)))
    return padded[top + side:top + 2 * side, left + side:left + 2 * side]


def uncrop(masks, boxes):
    """Masks predicted on cropped slices (N, size, size, 1) put back in place in their whole slices, at the same
    size: the inverse of ``crop_square`` for each row of ``boxes`` (``box_rows``)."""
    size, placed = masks.shape[1], masks.copy()
    for k, (top, left, side, height, width) in enumerate(boxes):
        if side == 0:
            continue
        canvas = np.zeros((height + 2 * side, width + 2 * side, 1), masks.dtype)
        canvas[top + side:top + 2 * side, left + side:left + 2 * side] = tf.image.resize(masks[k], [side, side])
        placed[k] = tf.image.resize(canvas[side:side + height, side:side + width], [size, size], antialias=True)
    return placed


def _read_pair(image_path, mask_path, box, neighbour_paths):
    """Read one slice (followed by its ``neighbour_paths``' sequences) and its mask with Pillow (paths arrive as
    bytes, or arrays when run eagerly), all cut to ``box`` (``crop_square``)."""
    image_path, mask_path = (os.fsdecode(np.asarray(p).item()) for p in (image_path, mask_path))
    paths = [image_path, *map(os.fsdecode, np.asarray(neighbour_paths).tolist())]
    images = [read_slice(path) for path in paths]
    if len({image.shape for image in images}) > 1:
        raise DataError(f"A slice and its neighbours differ in size: {', '.join(paths)} are "
                        f"{', '.join('x'.join(map(str, image.shape[:2])) for image in images)} pixels; a volume's "
                        "slices must share one size.")
    return crop_square(np.concatenate(images, axis=-1), box), crop_square(read_slice(mask_path, mask=True), box)


def resize_slice(image, size, channels=SEQUENCES):
    """A uint8 slice (H, W, channels) resized to (size, size, channels) uint8, antialiased (as every slice the
    models see)."""
    image = tf.image.resize(tf.ensure_shape(image, [None, None, channels]), [size, size], antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(image, 0, 255)), tf.uint8)


def load_pair(image_path, mask_path, size, box=(0, 0, 0), neighbour_paths=()):
    """Read, crop to ``box`` (``crop_square``; by default not), resize and binarize one slice: uint8 image
    (size, size, 3 per slice: its own sequences, then each of ``neighbour_paths``') and uint8 mask in {0, 1}."""
    neighbour_paths = tf.convert_to_tensor(neighbour_paths, tf.string)
    # Not stateful: a file's pixels depend on its path alone, so tf.data keeps reading in parallel when
    # TensorFlow's deterministic ops are on (it runs stateful functions serially then).
    image, mask = tf.numpy_function(_read_pair, [image_path, mask_path, box, neighbour_paths], [tf.uint8, tf.uint8],
                                    stateful=False)
    mask = tf.image.resize(tf.ensure_shape(mask, [None, None, 1]), [size, size])
    return resize_slice(image, size, SEQUENCES * (1 + neighbour_paths.shape[0])), tf.cast(mask >= 128, tf.uint8)


def with_neighbours(slices):
    """The slice table with each row's neighbours in its patient's volume (``NEIGHBOURS``: the image files of the
    slices numbered one before and one after it; where the table has no such slice, as at either end of the
    volume, its own): the pipeline then gives each slice their sequences as extra channels (2.5-D input, as in
    Buda et al.'s first code), so a network sees how the tumour continues across slices."""
    ordered = slices.sort_values(["patient", "slice"])
    by_patient = ordered.groupby("patient", sort=False)
    neighbours = {}
    for name, step in zip(NEIGHBOURS, (1, -1)):
        beside = by_patient.slice.shift(step) == ordered.slice - step
        neighbours[name] = by_patient.image_path.shift(step).where(beside, ordered.image_path)
    return slices.assign(**neighbours)


def for_channels(slices, channels):
    """The slice table from which the pipeline makes images of ``channels`` channels: without its neighbours for
    one slice's sequences, ``with_neighbours`` (unless it has them already) for three slices'."""
    if channels == SEQUENCES:
        return slices.drop(columns=list(NEIGHBOURS), errors="ignore")
    if channels == WITH_NEIGHBOURS:
        return slices if set(NEIGHBOURS) <= set(slices.columns) else with_neighbours(slices)
    raise ValueError(f"A model taking {channels} channels: the pipeline makes {SEQUENCES} (one slice's sequences) or "
                     f"{WITH_NEIGHBOURS} (with its neighbours'); train it with training.train_model.")


def neighbour_rows(slices):
    """Each row's ``NEIGHBOURS`` (none without ``with_neighbours``): an (N, 0 or 2) array of paths."""
    present = set(NEIGHBOURS) <= set(slices.columns)
    return np.asarray(slices[list(NEIGHBOURS)] if present else np.empty((len(slices), 0)), dtype=str)


def intensity_rows(slices, volumes=None):
    """Each row's intensity statistics (``volumes.STATS``): its patient's row of ``volumes`` (a
    ``volumes.volume_table``), or ``SCALED`` (plain division by 255) without one."""
    if volumes is None:
        return np.tile(SCALED, (len(slices), 1))
    missing = sorted(set(slices.patient) - set(volumes.index))
    if missing:
        raise ValueError(f"No volume statistics for patient(s) {', '.join(missing[:5])}: build the volume table "
                         "(volumes.volume_table) from the same slice table.")
    return volumes.loc[slices.patient, STATS].to_numpy(np.float32)


def box_rows(slices, volumes=None):
    """Each row's square around the brain and slice size (``volumes.BOX``) where ``volumes`` holds them (a
    ``volumes.volume_table`` made with ``crop``), else zeros: not cropped."""
    if volumes is None or not set(BOX) <= set(volumes.columns):
        return np.zeros((len(slices), len(BOX)), np.int32)
    return volumes.loc[slices.patient, BOX].to_numpy(np.int32)


def to_float(image, mask, stats=SCALED):
    """Scale a uint8 image to [0, 1] between its volume's clip range (``stats``' low and high: 0 and 255 for
    ``SCALED``), clipping outside it, and a {0, 1} mask to float32."""
    image = tf.clip_by_value((tf.cast(image, tf.float32) - stats[0]) / (stats[1] - stats[0]), 0.0, 1.0)
    return image, tf.cast(mask, tf.float32)


def standardise(image, stats):
    """Subtract each channel's volume mean and divide by its standard deviation (``SCALED``: unchanged); a
    neighbour's sequences take the same volume's statistics."""
    stacked = image.shape[-1] // SEQUENCES
    return (image - tf.tile(stats[2:5], [stacked])) / tf.tile(stats[5:8], [stacked])


def with_target(image, mask, target):
    """The (inputs, targets) pair a model trains on: the mask, the slice label (1 = tumour), or both."""
    label = tf.cast(tf.reduce_max(mask) > 0, tf.int32)
    return image, {"mask": mask, "label": label, "both": (mask, label)}[target]


def make_dataset(slices, size, batch_size, training=False, target="mask", seed=42, augmentation=augment,
                 tumour_share=None, volumes=None, weights=None):
    """A batched dataset over the rows of a slice table (``image_path``, ``mask_path``).

    Training datasets are shuffled each epoch and augmented by ``augmentation`` (a function of image, mask and
    seed, like ``augmentation.augment``; None or False: not augmented); with ``tumour_share``
    they draw tumour slices with that probability, with ``weights`` (one per row) each slice with probability
    proportional to its weight (``tumour_area_weights``): either way an epoch stays ``len(slices)`` slices long.
    Evaluation datasets ignore both and keep the table's order, so predictions line up with its rows. With ``volumes``
    (``volumes.volume_table``) intensities are prepared per patient volume, else divided by 255; a table made
    with ``crop`` also cuts each slice to its volume's square around the brain. A table ``with_neighbours``
    gives each slice its neighbours' sequences as extra channels.
    """
    if target not in TARGETS:
        raise ValueError(f"target={target!r}: use one of {TARGETS}.")
    if len(slices) == 0:
        raise ValueError("The slice table is empty: nothing to load (check the split and the data folder).")
    if training and tumour_share is not None and weights is not None:
        raise ValueError("Give tumour_share or weights, not both: each sets how training slices are drawn.")
    if training and tumour_share is not None:
        return _balanced(slices, size, batch_size, target, seed, augmentation, tumour_share, volumes)
    columns = (np.asarray(slices["image_path"], dtype=str), np.asarray(slices["mask_path"], dtype=str),
               intensity_rows(slices, volumes), box_rows(slices, volumes), neighbour_rows(slices))
    data = tf.data.Dataset.from_tensor_slices(columns)
    data = data.map(lambda i, m, s, b, n: (*load_pair(i, m, size, b, n), s), num_parallel_calls=AUTOTUNE).cache()
    if training and weights is not None:
        data = _drawn(data, weights, seed)
    elif training:
        data = data.shuffle(len(slices), seed=seed, reshuffle_each_iteration=True)
    data = data.map(lambda i, m, s: (*to_float(i, m, s), s), num_parallel_calls=AUTOTUNE)
    if training and augmentation:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip(data, seeds).map(lambda t, s: (*augmentation(t[0], t[1], s), t[2]),
                                                    num_parallel_calls=AUTOTUNE)
    data = data.map(lambda i, m, s: with_target(standardise(i, s), m, target), num_parallel_calls=AUTOTUNE)
    return data.batch(batch_size).prefetch(AUTOTUNE)


def _balanced(slices, size, batch_size, target, seed, augmentation, tumour_share, volumes):
    """Training batches that draw a tumour slice with probability ``tumour_share``."""
    tumour = slices.tumour_pixels > 0
    if not 0 < tumour_share < 1 or tumour.all() or not tumour.any():
        raise ValueError(f"tumour_share={tumour_share} needs 0 < share < 1 and slices with and without tumour.")
    streams = [make_dataset(slices[part], size, batch_size, True, target, seed + k, augmentation, volumes=volumes)
               .unbatch().repeat() for k, part in enumerate((tumour, ~tumour))]
    data = tf.data.Dataset.sample_from_datasets(streams, [tumour_share, 1 - tumour_share], seed=seed,
                                                rerandomize_each_iteration=True)
    return data.batch(batch_size).take(max(1, len(slices) // batch_size)).prefetch(AUTOTUNE)


def _drawn(data, weights, seed):
    """``len(weights)`` rows of ``data`` (one per weight, in order) drawn anew each epoch, each with probability
    proportional to its weight: the shuffled rows go round and round, each kept with probability weight / largest
    weight (rejection sampling: tf.data draws from whole datasets by weight, not from single rows). An epoch passes
    over the cached rows about largest / mean weight times: a few seconds on a CPU for Buda et al.'s weights."""
    weights, rows = np.asarray(weights, np.float64), int(data.cardinality())
    if len(weights) != rows:
        raise ValueError(f"weights: got {len(weights)} for {rows} slices; compute one per row of the same slice "
                         "table (e.g. pipeline.tumour_area_weights(slices)).")
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any() or weights.sum() <= 0:
        raise ValueError(f"weights must be finite, at least 0 and not all 0: {bad.sum()} of {rows} are negative or "
                         f"not finite, and the others sum to {weights[~bad].sum():g}.")
    keep = tf.data.Dataset.from_tensor_slices((weights / weights.max()).astype(np.float32))
    data = tf.data.Dataset.zip(data, keep).shuffle(rows, seed=seed, reshuffle_each_iteration=True).repeat()
    coins = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    kept = tf.data.Dataset.zip(data, coins).filter(lambda row, coin: tf.random.stateless_uniform([], coin) < row[1])
    return kept.map(lambda row, coin: row[0]).take(rows).apply(tf.data.experimental.assert_cardinality(rows))


def tumour_area_weights(slices):
    """Buda et al.'s sampling weights, one per row of ``slices``, summing to 1: every patient drawn equally often,
    and within a patient each slice in proportion to its tumour area plus a tenth of the patient's mean area per
    slice (the floor empty slices get; Buda et al. average over the slices with brain, as they drop the others).
    A patient without tumour has its slices drawn uniformly."""
    area = slices.tumour_pixels.astype(float)
    patient = area.groupby(slices.patient)
    weight = (area + 0.1 * patient.transform("mean")).where(patient.transform("sum") > 0, 1.0)
    return (weight / weight.groupby(slices.patient).transform("sum") / slices.patient.nunique()).to_numpy()


def load_arrays(slices, size, volumes=None):
    """Every slice of a table as NumPy arrays: images (N, size, size, 3 per slice read) float32 and masks
    (N, size, size, 1)."""
    data = make_dataset(slices, size, batch_size=64, volumes=volumes)
    images, masks = zip(*((x.numpy(), y.numpy()) for x, y in data))
    return np.concatenate(images), np.concatenate(masks)

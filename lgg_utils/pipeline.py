"""The tf.data input pipeline: TIFF files -> resized, scaled, batched tensors.

read (Pillow, in parallel) -> resize to the profile's size -> cache (uint8, in memory) ->
[training: shuffle] -> scale to [0, 1] -> [training: augment] -> batch -> prefetch.
"""
import os

import numpy as np
import tensorflow as tf

from .augmentation import augment
from .data import read_slice

AUTOTUNE = tf.data.AUTOTUNE
TARGETS = ("mask", "label", "both")


def _read_pair(image_path, mask_path):
    """Read one slice and its mask with Pillow (paths arrive as bytes, or 0-d arrays when run eagerly)."""
    image_path, mask_path = (os.fsdecode(np.asarray(p).item()) for p in (image_path, mask_path))
    return read_slice(image_path), read_slice(mask_path, mask=True)


def resize_slice(image, size):
    """A uint8 slice (H, W, 3) resized to (size, size, 3) uint8, antialiased (as every slice the models see)."""
    image = tf.image.resize(tf.ensure_shape(image, [None, None, 3]), [size, size], antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(image, 0, 255)), tf.uint8)


def load_pair(image_path, mask_path, size):
    """Read, resize and binarize one slice: uint8 image (size, size, 3) and uint8 mask in {0, 1}."""
    # Not stateful: a file's pixels depend on its path alone, so tf.data keeps reading in parallel when
    # TensorFlow's deterministic ops are on (it runs stateful functions serially then).
    image, mask = tf.numpy_function(_read_pair, [image_path, mask_path], [tf.uint8, tf.uint8], stateful=False)
    mask = tf.image.resize(tf.ensure_shape(mask, [None, None, 1]), [size, size])
    return resize_slice(image, size), tf.cast(mask >= 128, tf.uint8)


def to_float(image, mask):
    """Scale a uint8 image to [0, 1] float32 and a {0, 1} mask to float32."""
    return tf.cast(image, tf.float32) / 255.0, tf.cast(mask, tf.float32)


def with_target(image, mask, target):
    """The (inputs, targets) pair a model trains on: the mask, the slice label (1 = tumour), or both."""
    label = tf.cast(tf.reduce_max(mask) > 0, tf.int32)
    return image, {"mask": mask, "label": label, "both": (mask, label)}[target]


def make_dataset(slices, size, batch_size, training=False, target="mask", seed=42, augmentation=True,
                 tumour_share=None):
    """A batched dataset over the rows of a slice table (``image_path``, ``mask_path``).

    Training datasets are shuffled each epoch and (if ``augmentation``) augmented; with ``tumour_share``
    they draw tumour slices with that probability (an epoch stays ``len(slices)`` slices long).
    Evaluation datasets keep the table's order so predictions line up with its rows.
    """
    if target not in TARGETS:
        raise ValueError(f"target={target!r}: use one of {TARGETS}.")
    if len(slices) == 0:
        raise ValueError("The slice table is empty: nothing to load (check the split and the data folder).")
    if training and tumour_share is not None:
        return _balanced(slices, size, batch_size, target, seed, augmentation, tumour_share)
    paths = (np.asarray(slices["image_path"], dtype=str), np.asarray(slices["mask_path"], dtype=str))
    data = tf.data.Dataset.from_tensor_slices(paths)
    data = data.map(lambda i, m: load_pair(i, m, size), num_parallel_calls=AUTOTUNE).cache()
    if training:
        data = data.shuffle(len(slices), seed=seed, reshuffle_each_iteration=True)
    data = data.map(to_float, num_parallel_calls=AUTOTUNE)
    if training and augmentation:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip(data, seeds).map(lambda pair, s: augment(*pair, s), num_parallel_calls=AUTOTUNE)
    data = data.map(lambda i, m: with_target(i, m, target), num_parallel_calls=AUTOTUNE)
    return data.batch(batch_size).prefetch(AUTOTUNE)


def _balanced(slices, size, batch_size, target, seed, augmentation, tumour_share):
    """Training batches that draw a tumour slice with probability ``tumour_share``."""
    tumour = slices.tumour_pixels > 0
    if not 0 < tumour_share < 1 or tumour.all() or not tumour.any():
        raise ValueError(f"tumour_share={tumour_share} needs 0 < share < 1 and slices with and without tumour.")
    streams = [make_dataset(slices[part], size, batch_size, True, target, seed + k, augmentation)
               .unbatch().repeat() for k, part in enumerate((tumour, ~tumour))]
    data = tf.data.Dataset.sample_from_datasets(streams, [tumour_share, 1 - tumour_share], seed=seed,
                                                rerandomize_each_iteration=True)
    return data.batch(batch_size).take(max(1, len(slices) // batch_size)).prefetch(AUTOTUNE)


def load_arrays(slices, size):
    """Every slice of a table as NumPy arrays: images (N, size, size, 3) float32 and masks (N, size, size, 1)."""
    data = make_dataset(slices, size, batch_size=64)
    images, masks = zip(*((x.numpy(), y.numpy()) for x, y in data))
    return np.concatenate(images), np.concatenate(masks)

"""Training-time augmentation with stateless (reproducible) random ops.

Geometric changes (a left-right flip; in ``geometric`` and ``augment_rotated``, also a small rotation and
scaling) move image and mask together; photometric changes (brightness, contrast, per-channel gain "colour
jitter", channel dropout, as in the study) touch the image only.
"""
import math

import keras
import tensorflow as tf

BRIGHTNESS = 0.1  # largest shift added to every pixel
CONTRAST = (0.8, 1.2)  # contrast factor range
CHANNEL_GAIN = 0.1  # each sequence is scaled by a factor in [1 - gain, 1 + gain]
CHANNEL_DROPOUT = 0.1  # probability that one random sequence is zeroed
ROTATION = 15.0  # largest rotation, in degrees (Buda et al.'s)
SCALE = 0.05  # largest relative change of size (Buda et al.'s)


def flip(image, mask, seed):
    """Flip image and mask left-right together, with probability 1/2."""
    both = tf.image.stateless_random_flip_left_right(tf.concat([image, mask], axis=-1), seed)
    return both[..., :-1], both[..., -1:]


def channel_gain(image, seed, gain=CHANNEL_GAIN):
    """Scale each channel (MRI sequence) by its own random factor in [1 - gain, 1 + gain]."""
    factors = tf.random.stateless_uniform([1, 1, image.shape[-1]], seed, 1 - gain, 1 + gain)
    return image * factors


def channel_dropout(image, seed, rate=CHANNEL_DROPOUT):
    """With probability ``rate``, zero one randomly chosen channel (a missing sequence)."""
    draw_seed, pick_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    drop = tf.random.stateless_uniform([], draw_seed) < rate
    channel = tf.random.stateless_uniform([], pick_seed, 0, image.shape[-1], dtype=tf.int32)
    keep = 1.0 - tf.cast(drop, image.dtype) * tf.one_hot(channel, image.shape[-1], dtype=image.dtype)
    return image * keep


def augment(image, mask, seed):
    """Augment one float image in [0, 1] (H, W, 3) and its mask (H, W, 1) from a [2] int seed."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 5))
    image, mask = flip(image, mask, seeds[0])
    image = tf.image.stateless_random_brightness(image, BRIGHTNESS, seeds[1])
    image = tf.image.stateless_random_contrast(image, *CONTRAST, seeds[2])
    image = channel_gain(image, seeds[3])
    image = channel_dropout(image, seeds[4])
    return tf.clip_by_value(image, 0.0, 1.0), mask


def rotate_scale(image, mask, seed, degrees=ROTATION, scale=SCALE):
    """Rotate by up to ``degrees`` and scale by up to ``scale`` about the centre, image and mask together
    (bilinear; the mask is thresholded back to {0, 1}; pixels from outside the slice are 0, as background)."""
    angle_seed, size_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    angle = tf.random.stateless_uniform([], angle_seed, -degrees, degrees) * math.pi / 180
    factor = tf.random.stateless_uniform([], size_seed, 1 - scale, 1 + scale)
    centre = (tf.cast(tf.shape(image)[0], tf.float32) - 1) / 2
    cos, sin = tf.cos(angle) / factor, tf.sin(angle) / factor  # maps each output pixel back to its source
    transform = tf.stack([cos, sin, centre - cos * centre - sin * centre,
                          -sin, cos, centre + sin * centre - cos * centre, 0.0, 0.0])
    both = keras.ops.image.affine_transform(tf.concat([image, mask], axis=-1), transform)
    return both[..., :-1], tf.cast(both[..., -1:] >= 0.5, mask.dtype)


def geometric(image, mask, seed):
    """Buda et al.'s augmentation: a left-right flip, a rotation of up to ``ROTATION`` degrees and a scaling of
    up to ``SCALE``; intensities untouched."""
    flip_seed, transform_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    return rotate_scale(*flip(image, mask, flip_seed), transform_seed)


def augment_rotated(image, mask, seed):
    """The study's augmentation (``augment``) after a rotation and scaling (``rotate_scale``), so the corners the
    rotation brings in take the same brightness and contrast as the rest."""
    rotate_seed, study_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    return augment(*rotate_scale(image, mask, rotate_seed), study_seed)

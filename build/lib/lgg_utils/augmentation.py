"""Training-time augmentation with stateless (reproducible) random ops.

Geometric changes (a left-right flip) move image and mask together; photometric changes (brightness,
contrast, per-channel gain "colour jitter", channel dropout, as in the study) touch the image only.
"""
import tensorflow as tf

BRIGHTNESS = 0.1  # largest shift added to every pixel
CONTRAST = (0.8, 1.2)  # contrast factor range
CHANNEL_GAIN = 0.1  # each sequence is scaled by a factor in [1 - gain, 1 + gain]
CHANNEL_DROPOUT = 0.1  # probability that one random sequence is zeroed


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

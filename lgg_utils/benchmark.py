"""Is the input pipeline fast enough? Its images/s against a training step's, and what TensorFlow's
deterministic ops cost a training step, each measured in one run; and how long a model would train on a
Colab T4, estimated from its FLOPs.

Run ``python -m lgg_utils.benchmark`` (honours ``LGG_PROFILE`` and ``LGG_DATA_DIR``), or call
``pipeline_report`` from a chapter.
"""
import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from .models import unet
from .pipeline import make_dataset
from .training import compile_model


def images_per_second(dataset):
    """Iterate a batched dataset once; return (images, seconds, images per second)."""
    start, count = time.perf_counter(), 0
    for images, _ in dataset:
        count += int(images.shape[0])
    seconds = time.perf_counter() - start
    return count, seconds, count / seconds


def train_step_rate(model, size, batch_size, steps=10):
    """Images per second of ``model.fit`` on random batches held in memory (after one warm-up step)."""
    rng = np.random.default_rng(0)
    images = rng.random((batch_size, size, size, 3), dtype=np.float32)
    masks = (rng.random((batch_size, size, size, 1)) > 0.9).astype(np.float32)
    data = tf.data.Dataset.from_tensors((images, masks)).repeat()
    compile_model(model, "binary_crossentropy")
    model.fit(data, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return steps * batch_size / (time.perf_counter() - start)


def pipeline_report(slices, profile, steps=10):
    """A table of images/s for: first epoch (read + decode + resize), later epochs (cache + augment), UNet step."""
    data = make_dataset(slices, profile.image_size, profile.batch_size, training=True, seed=profile.seed)
    first = images_per_second(data)[2]
    cached = images_per_second(data)[2]
    model = unet((profile.image_size, profile.image_size, 3), width=profile.width)
    step = train_step_rate(model, profile.image_size, profile.batch_size, steps=steps)
    table = pd.DataFrame({"stage": ["pipeline, first epoch (read, decode, resize)",
                                    "pipeline, later epochs (cache, shuffle, augment)",
                                    "UNet training step"],
                          "images_per_s": [first, cached, step]}).set_index("stage")
    table["times_model_rate"] = table.images_per_s / step
    return table


def determinism_cost(profile, steps=30, rounds=3):
    """A UNet training step's images/s with TensorFlow's deterministic ops off and on, measured in one run:
    the median of ``rounds`` alternating measurements of each (a fresh model each, as the switch acts when
    TensorFlow builds its kernels)."""
    from tensorflow.python.framework import config as tf_config  # the switch off is not in the public API

    was_on, rates = tf_config.is_op_determinism_enabled(), {"off": [], "on": []}
    for _ in range(rounds):
        for on in (False, True):
            (tf_config.enable_op_determinism if on else tf_config.disable_op_determinism)()
            model = unet((profile.image_size, profile.image_size, 3), width=profile.width)
            rates["on" if on else "off"].append(train_step_rate(model, profile.image_size, profile.batch_size, steps))
    (tf_config.enable_op_determinism if was_on else tf_config.disable_op_determinism)()
    table = pd.Series({f"deterministic ops {key}": np.median(values) for key, values in rates.items()},
                      name="images_per_s").rename_axis("UNet training step").to_frame()
    return table.assign(times_off_rate=table.images_per_s / table.images_per_s.iloc[0])


T4_FLOPS = 10e12  # FLOP/s a Colab T4 is assumed to sustain in mixed precision: ~15% of its 65 TFLOPS float16 peak
TRAINING_FLOPS = 3  # a training step costs about three forward passes (forward, and the backward's two products)


def forward_flops(model):
    """FLOPs of one image's forward pass through the model's convolutions and dense layers (2 per
    multiply-add; batch normalisation, activations and pooling are left out: they are memory-bound)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flops(layer)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            spatial = layer.input.shape[1:3] if isinstance(layer, keras.layers.Conv2DTranspose) else layer.output.shape[1:3]
            total += 2 * np.prod(spatial) * np.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * np.prod(layer.kernel.shape)
    return int(total)


def t4_minutes(model, images, epochs):
    """Estimated minutes to train ``model`` for ``epochs`` epochs of ``images`` images on a Colab T4 in mixed
    precision (``T4_FLOPS``): a lower bound for small networks, whose time goes to memory rather than FLOPs."""
    return TRAINING_FLOPS * forward_flops(model) * images * epochs / T4_FLOPS / 60


def main():
    """Print the report for the active profile and data folder."""
    from .config import get_profile
    from .data import find_data_dir, slice_table

    profile = get_profile()
    slices = slice_table(find_data_dir())
    print(f"profile {profile.name}: {len(slices)} slices at {profile.image_size}x{profile.image_size}, "
          f"batch {profile.batch_size}, width {profile.width}")
    print(pipeline_report(slices, profile).round(2).to_string())
    print(determinism_cost(profile).round(2).to_string())


if __name__ == "__main__":
    main()

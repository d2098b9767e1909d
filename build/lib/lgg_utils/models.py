"""Keras 3 functional models of the study, built from small named blocks."""
import keras
from keras import layers

UNET_FILTERS = (64, 128, 256, 512)  # encoder widths in the study; the bottleneck has twice the last


def scaled(filters, width):
    """A layer width scaled by the profile's ``width`` (never below 4 channels)."""
    return max(4, int(round(filters * width)))


def conv_block(x, filters, name):
    """Two 3x3 convolutions, each followed by batch norm and ReLU."""
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def decoder_block(x, skip, filters, name):
    """Upsample 2x with a transposed convolution, concatenate the encoder's skip, then a conv block."""
    x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_up")(x)
    x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    return conv_block(x, filters, name)


def unet(input_shape=(256, 256, 3), width=1.0, name="unet"):
    """UNet (Ronneberger et al.): 4 encoder blocks, a bottleneck, 4 decoder blocks, a 1x1 sigmoid mask."""
    inputs = keras.Input(input_shape, name="image")
    x, skips = inputs, []
    for level, filters in enumerate(UNET_FILTERS, start=1):
        x = conv_block(x, scaled(filters, width), f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = conv_block(x, scaled(2 * UNET_FILTERS[-1], width), "bottleneck")
    for level in reversed(range(1, len(UNET_FILTERS) + 1)):
        x = decoder_block(x, skips[level - 1], scaled(UNET_FILTERS[level - 1], width), f"dec{level}")
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)

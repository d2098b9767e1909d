"""Keras 3 functional models of the study, built from small named blocks.

``width`` scales every channel count (1.0 = the paper's widths) so the same architectures fit a CPU.
ImageNet weights (``weights='imagenet'``) need the backbone at full width; ``imagenet`` says whether they are cached.
"""
import os
import warnings
from pathlib import Path

import keras
from keras import layers

UNET_FILTERS = (64, 128, 256, 512)  # encoder widths; the bottleneck has twice the last
RESUNET_FILTERS = (16, 32, 64, 128)  # encoder widths; the bottleneck has twice the last
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))  # (filters, convolutions) per block
# A segmenter trained with BCE starts its mask bias at a small tumour share (Lin et al. 2017's prior), so
# BCE does not spend its first epochs learning that most pixels are background: sigmoid(-4) = 1.8%.
# (Not with the overlap losses alone: from there their gradients are too small to start on some seeds.)
MASK_PRIOR_LOGIT = -4.0
BN_MOMENTUM = 0.9  # Keras' 0.99 lets running statistics lag behind the weights when epochs are few steps long
KERAS_WEIGHTS = {  # the files keras.applications caches in ~/.keras/models
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


def scaled(filters, width):
    """A layer width scaled by the profile's ``width`` (never below 4 channels)."""
    return max(4, int(round(filters * width)))


def imagenet(backbone, allow_download=False):
    """'imagenet' if the backbone's ImageNet weights are in the Keras cache (or may be downloaded), else None.

    Without them the model starts from random weights, and a warning says so.
    """
    cache = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "models"
    if allow_download or (cache / KERAS_WEIGHTS[backbone]).is_file():
        return "imagenet"
    warnings.warn(f"No ImageNet weights for {backbone} in {cache} and no download allowed: "
                  "starting from random weights.", stacklevel=2)
    return None


def imagenet_inputs(x, backbone):
    """[0, 1] images as the backbone's ImageNet weights expect them: 0-255, then keras.applications' own
    ``preprocess_input`` (for ResNet50 and VGG19: RGB to BGR, minus the ImageNet channel means)."""
    return getattr(keras.applications, backbone).preprocess_input(layers.Rescaling(255.0, name="to_255")(x))


def conv_block(x, filters, name):
    """Two 3x3 convolutions, each followed by batch norm and ReLU."""
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def residual_block(x, filters, name):
    """A conv block whose input, projected by a 1x1 convolution, is added back before the last ReLU."""
    shortcut = layers.Conv2D(filters, 1, name=f"{name}_shortcut")(x)
    shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_shortcut_bn")(shortcut)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn1")(x)
    x = layers.Activation("relu", name=f"{name}_relu1")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn2")(x)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.Activation("relu", name=f"{name}_relu2")(x)


def decoder_block(x, skip, filters, name, dropout=0.0):
    """Upsample 2x with a transposed convolution, concatenate the encoder's skip, then a conv block."""
    x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_up")(x)
    x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return conv_block(x, filters, name)


def mask_head(x):
    """The 1x1 convolution with a sigmoid that turns features into tumour probabilities."""
    return layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)


def encoder(x, filters, block, width):
    """Encoder stages of ``block`` (each followed by 2x max pooling) and a bottleneck of twice the last
    width; returns the bottleneck's output and each stage's output as a skip."""
    skips = []
    for level, f in enumerate(filters, start=1):
        x = block(x, scaled(f, width), f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    return block(x, scaled(2 * filters[-1], width), "bottleneck"), skips


def unet(input_shape=(256, 256, 3), width=1.0, name="unet"):
    """UNet (Ronneberger et al.): 4 encoder blocks, a bottleneck, 4 decoder blocks, a 1x1 sigmoid mask."""
    inputs = keras.Input(input_shape, name="image")
    x, skips = encoder(inputs, UNET_FILTERS, conv_block, width)
    for level in reversed(range(1, len(UNET_FILTERS) + 1)):
        x = decoder_block(x, skips[level - 1], scaled(UNET_FILTERS[level - 1], width), f"dec{level}")
    return keras.Model(inputs, mask_head(x), name=name)


def resunet(input_shape=(256, 256, 3), width=1.0, name="resunet"):
    """ResUNet: residual blocks of 16 to 128 filters, a 256-filter bottleneck, upsampling merged with the
    matching encoder stage and refined by a residual block, a 1x1 sigmoid mask."""
    inputs = keras.Input(input_shape, name="image")
    x, skips = encoder(inputs, RESUNET_FILTERS, residual_block, width)
    for level in reversed(range(1, len(RESUNET_FILTERS) + 1)):
        x = layers.UpSampling2D(2, name=f"dec{level}_up")(x)
        x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level - 1]])
        x = residual_block(x, scaled(RESUNET_FILTERS[level - 1], width), f"dec{level}")
    return keras.Model(inputs, mask_head(x), name=name)


def vgg19_encoder(inputs, width=1.0):
    """VGG19's convolutional blocks (layer names as in keras.applications, so ImageNet weights load by
    name); returns the last block's output and the four earlier blocks' outputs as skips. Without batch
    norm, 16 ReLU layers need He initialisation to train from random weights."""
    x, skips = inputs, []
    for block, (filters, convs) in enumerate(VGG19_BLOCKS, start=1):
        if block > 1:
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"block{block - 1}_pool")(x)
        for i in range(1, convs + 1):
            x = layers.Conv2D(scaled(filters, width), 3, padding="same", activation="relu",
                              kernel_initializer="he_normal", name=f"block{block}_conv{i}")(x)
    return x, skips


def vgg19_unet(input_shape=(256, 256, 3), width=1.0, weights=None, dropout=0.3, name="vgg19_unet"):
    """VGG19-UNet: the VGG19 encoder, its fifth block as bottleneck, four decoder blocks (transposed
    convolutions, skips, dropout, batch norm) back to full size with 64 channels, a 1x1 sigmoid mask.
    ``weights='imagenet'`` (full width only) loads VGG19's ImageNet weights into the encoder."""
    inputs = keras.Input(input_shape, name="image")
    x, skips = vgg19_encoder(imagenet_inputs(inputs, "vgg19") if weights == "imagenet" else inputs, width)
    for level in reversed(range(1, len(skips) + 1)):
        filters = scaled(VGG19_BLOCKS[level - 1][0], width)
        x = decoder_block(x, skips[level - 1], filters, f"dec{level}", dropout=dropout)
    model = keras.Model(inputs, mask_head(x), name=name)
    if weights == "imagenet":
        _copy_weights(keras.applications.VGG19(include_top=False, weights="imagenet", input_shape=input_shape), model)
    return model


def _copy_weights(source, target):
    """Copy weights layer by layer wherever ``target`` has a layer of the same name."""
    names = {layer.name for layer in target.layers}
    for layer in source.layers:
        if layer.name in names and layer.weights:
            target.get_layer(layer.name).set_weights(layer.get_weights())


def resnet50_classifier(input_shape=(256, 256, 3), width=1.0, weights=None, dropout=0.3,
                         name="resnet50_classifier"):
    """The study's classifier: ResNet50 without top, average pooling, flatten, dropout, two dense ReLU
    layers of 256 (the second followed by dropout), and a 2-way softmax (no tumour, tumour).
    ``width`` scales the dense layers only: ResNet50 itself keeps its widths (and so its ImageNet weights)."""
    inputs = keras.Input(input_shape, name="image")
    backbone = keras.applications.ResNet50(include_top=False, weights=weights, input_shape=input_shape)
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    x = backbone(imagenet_inputs(inputs, "resnet50") if weights == "imagenet" else inputs)
    x = layers.AveragePooling2D(max(1, min(4, x.shape[1])), name="pooling")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(scaled(256, width), activation="relu", name="dense1")(x)
    x = layers.Dense(scaled(256, width), activation="relu", name="dense2")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(2, activation="softmax", name="label")(x)
    return keras.Model(inputs, outputs, name=name)

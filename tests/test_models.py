import keras
import numpy as np
import pytest

from lgg_utils import models


def conv(k, cin, cout):
    """Parameters of a k x k convolution with bias."""
    return k * k * cin * cout + cout


def conv_block(cin, cout):
    """Two 3x3 convolutions, each with batch norm (4 parameters per channel)."""
    return conv(3, cin, cout) + 4 * cout + conv(3, cout, cout) + 4 * cout


def unet_parameters(widths=(64, 128, 256, 512, 1024), channels=3):
    """The UNet's parameter count from its description: encoder, bottleneck, decoder, 1x1 output."""
    ins = (channels,) + widths[:-1]
    total = sum(conv_block(cin, cout) for cin, cout in zip(ins, widths))
    for below, f in zip(widths[:0:-1], widths[-2::-1]):
        total += conv(2, below, f) + conv_block(2 * f, f)
    return total + conv(1, widths[0], 1)


def test_unet_at_full_width_matches_the_paper_architecture():
    model = models.unet((64, 64, 3), width=1.0)
    assert model.count_params() == unet_parameters()
    assert 31e6 < model.count_params() < 31.1e6


def test_unet_width_scales_every_layer():
    model = models.unet((32, 32, 3), width=0.25)
    assert model.count_params() == unet_parameters((16, 32, 64, 128, 256))
    assert model.get_layer("bottleneck_conv2").filters == 256


def test_unet_maps_a_batch_to_probability_masks():
    model = models.unet((32, 32, 3), width=0.125)
    out = model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    assert out.shape == (2, 32, 32, 1) and ((0 <= out) & (out <= 1)).all()


def vgg19_unet_parameters(width=1.0):
    """VGG19-UNet's parameter count: VGG19's conv blocks (no batch norm), 4 decoder blocks, 1x1 output."""
    blocks = [(models.scaled(f, width), n) for f, n in models.VGG19_BLOCKS]
    total, cin = 0, 3
    for filters, convs in blocks:
        total += conv(3, cin, filters) + sum(conv(3, filters, filters) for _ in range(convs - 1))
        cin = filters
    below = blocks[-1][0]
    for filters, _ in reversed(blocks[:-1]):
        total += conv(2, below, filters) + conv_block(2 * filters, filters)
        below = filters
    return total + conv(1, blocks[0][0], 1)


def residual_block(cin, cout):
    """A conv block plus a 1x1 projection shortcut with batch norm."""
    return conv_block(cin, cout) + conv(1, cin, cout) + 4 * cout


def resunet_parameters(widths=(16, 32, 64, 128, 256), channels=3):
    ins = (channels,) + widths[:-1]
    total = sum(residual_block(cin, cout) for cin, cout in zip(ins, widths))
    for below, f in zip(widths[:0:-1], widths[-2::-1]):
        total += residual_block(below + f, f)  # upsampling has no weights; concat then residual block
    return total + conv(1, widths[0], 1)


def test_vgg19_unet_matches_its_description_and_keras_vgg19_layer_names():
    model = models.vgg19_unet((64, 64, 3))
    assert model.count_params() == vgg19_unet_parameters()
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(64, 64, 3))
    encoder = sum(layer.count_params() for layer in vgg.layers)
    assert 19.9e6 < encoder < 20.1e6  # the study's "about 20 M" is the encoder
    for layer in (layer for layer in vgg.layers if layer.weights):
        assert model.get_layer(layer.name).count_params() == layer.count_params(), layer.name


def test_resunet_matches_its_description():
    assert models.resunet((32, 32, 3)).count_params() == resunet_parameters()


def test_resnet50_classifier_outputs_two_class_probabilities():
    model = models.resnet50_classifier((64, 64, 3))
    out = model.predict(np.zeros((2, 64, 64, 3), np.float32), verbose=0)
    assert out.shape == (2, 2) and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    assert model.get_layer("dense1").units == model.get_layer("dense2").units == 256
    assert models.resnet50_classifier((64, 64, 3), width=0.25).get_layer("dense1").units == 64  # head only
    backbone_norms = [l for l in model.get_layer("resnet50").layers if isinstance(l, models.layers.BatchNormalization)]
    assert backbone_norms and all(l.momentum == models.BN_MOMENTUM for l in backbone_norms)


def test_missing_imagenet_weights_fall_back_to_random_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="starting from random weights"):
        assert models.imagenet("vgg19") is None
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / models.KERAS_WEIGHTS["vgg19"]).write_bytes(b"")
    assert models.imagenet("vgg19") == "imagenet"


def test_every_model_builds_and_predicts_at_full_size():
    """The full profile's smoke test: 256x256, full widths, a forward pass of one image each (training steps are
    exercised at smaller sizes by the other tests and every chapter; the code does not depend on the size)."""
    image = np.random.default_rng(0).random((1, 256, 256, 3)).astype("float32")
    for build in (models.unet, models.resunet, models.vgg19_unet):
        mask = build((256, 256, 3), width=1.0)(image, training=False)
        assert mask.shape == (1, 256, 256, 1) and np.isfinite(mask).all()
    probabilities = models.resnet50_classifier((256, 256, 3))(image, training=False)
    assert probabilities.shape == (1, 2) and np.isfinite(probabilities).all()


def test_a_bce_trained_segmenter_starts_from_a_small_tumour_share_the_others_from_one_half():
    import dataclasses

    from lgg_utils import config, losses, training

    profile = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "32", "LGG_WIDTH": "0.0625"})
    bias = lambda model: model.get_layer("mask").get_weights()[1]  # noqa: E731
    assert bias(training.build("unet", profile)) == pytest.approx([models.MASK_PRIOR_LOGIT])  # BCE
    assert bias(training.build("resunet", profile)) == pytest.approx([0.0])  # Tversky
    dice = dataclasses.replace(training.RECIPES["unet"], loss=losses.dice_loss)
    assert bias(training.build("unet", profile, recipe=dice)) == pytest.approx([0.0])


@pytest.mark.parametrize("backbone", ["resnet50", "vgg19"])
def test_imagenet_inputs_are_keras_own_preprocessing_and_survive_a_safe_reload(backbone, tmp_path):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, models.imagenet_inputs(inputs, backbone))
    model.save(tmp_path / "m.keras")
    images = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    expected = getattr(keras.applications, backbone).preprocess_input(images * 255.0)
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(images, verbose=0), expected, atol=1e-3)

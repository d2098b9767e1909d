import numpy as np

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

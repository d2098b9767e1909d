import numpy as np
import pytest
import tensorflow as tf

from lgg_utils import augmentation


def example():
    """A float image with distinct channels and a mask in its left half."""
    rng = np.random.default_rng(0)
    image = tf.constant(rng.uniform(0.2, 0.8, (16, 16, 3)), tf.float32)
    mask = np.zeros((16, 16, 1), np.float32)
    mask[4:12, 2:6] = 1
    return image, tf.constant(mask)


def test_same_seed_same_augmentation_other_seed_other():
    image, mask = example()
    a = augmentation.augment(image, mask, tf.constant([1, 2]))
    b = augmentation.augment(image, mask, tf.constant([1, 2]))
    c = augmentation.augment(image, mask, tf.constant([3, 4]))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_flip_moves_image_and_mask_together():
    image, mask = example()
    flips = 0
    for seed in range(20):
        flipped_image, flipped_mask = augmentation.flip(image, mask, tf.constant([seed, 0]))
        if np.array_equal(flipped_mask, mask):
            assert np.array_equal(flipped_image, image)
        else:
            flips += 1
            assert np.array_equal(flipped_mask, mask[:, ::-1]) and np.array_equal(flipped_image, image[:, ::-1])
    assert 0 < flips < 20


def test_photometric_changes_leave_the_mask_and_the_range_alone():
    image, mask = example()
    for seed in range(20):
        out_image, out_mask = augmentation.augment(image, mask, tf.constant([seed, 7]))
        assert set(np.unique(out_mask)) == {0.0, 1.0} and out_mask.numpy().sum() == mask.numpy().sum()
        assert 0.0 <= out_image.numpy().min() and out_image.numpy().max() <= 1.0


def test_channel_dropout_zeroes_one_whole_channel_or_none():
    image, _ = example()
    dropped = 0
    for seed in range(100):
        out = augmentation.channel_dropout(image, tf.constant([seed, 1]), rate=0.5).numpy()
        zero = [c for c in range(3) if not out[..., c].any()]
        assert len(zero) <= 1
        dropped += len(zero)
    assert 30 < dropped < 70


def test_channel_gain_scales_each_channel_by_one_factor():
    image, _ = example()
    out = augmentation.channel_gain(image, tf.constant([5, 5]), gain=0.1).numpy()
    ratios = out / image.numpy()
    for c in range(3):
        assert np.allclose(ratios[..., c], ratios[0, 0, c]) and 0.9 <= ratios[0, 0, c] <= 1.1


def bright_square():
    """A dark 32x32 image with a bright 10x10 square off centre (0.8 in every channel), and its mask."""
    image = np.zeros((32, 32, 3), np.float32)
    mask = np.zeros((32, 32, 1), np.float32)
    image[10:20, 12:22], mask[10:20, 12:22] = 0.8, 1
    return image, mask


@pytest.mark.parametrize("augment", [augmentation.geometric, augmentation.augment_rotated])
def test_geometric_augmentation_moves_image_and_mask_together_and_keeps_the_mask_binary(augment):
    image, mask = bright_square()
    for seed in range(5):
        out_image, out_mask = (t.numpy() for t in augment(image, mask, tf.constant([seed, 3])))
        bright, inside = out_image.max(axis=-1) > 0.4, out_mask[..., 0] == 1  # a channel may be dropped
        assert set(np.unique(out_mask)) <= {0.0, 1.0}
        assert (bright & inside).sum() / (bright | inside).sum() > 0.9
        assert 0.8 * 100 < inside.sum() < 1.2 * 100  # at most 5% larger or smaller per side


def test_augment_rotated_rotates_or_scales_and_changes_intensities():
    image, mask = bright_square()
    moved, changed = [], []
    for seed in range(5):
        out_image, out_mask = (t.numpy() for t in augmentation.augment_rotated(image, mask, tf.constant([seed, 3])))
        moved.append(not (np.array_equal(out_mask, mask) or np.array_equal(out_mask, mask[:, ::-1])))  # not a flip only
        changed.append(not np.allclose(out_image[out_mask[..., 0] == 1].max(axis=-1), 0.8, atol=0.01))  # photometric
    assert any(moved) and all(changed)  # a rotation of a degree or two can leave the mask as it was


def test_no_rotation_and_no_scaling_changes_nothing():
    image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    mask = (image[..., :1] > 0.5).astype(np.float32)
    out_image, out_mask = augmentation.rotate_scale(image, mask, tf.constant([1, 1]), degrees=0.0, scale=0.0)
    assert np.allclose(out_image, image) and np.array_equal(out_mask, mask)

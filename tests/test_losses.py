import numpy as np
import pytest

from lgg_utils import losses


def batch(*rows):
    """Stack 1-D probability rows into a float32 batch of (1, W, 1) slices."""
    return np.array(rows, dtype="float32")[:, None, :, None]


TRUTH = batch([1, 1, 1, 1, 0, 0, 0, 0])
PRED = batch([0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0])  # soft TP 2.5, FP 1.5, FN 1.5


def as_numpy(value):
    return np.asarray(value, dtype=float)


def test_soft_tversky_index_matches_numpy():
    tp, fp, fn = 2.5, 1.5, 1.5
    expected = (tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1)
    assert as_numpy(losses.soft_tversky_index(TRUTH, PRED))[0] == pytest.approx(expected, rel=1e-6)
    assert as_numpy(losses.tversky_loss(TRUTH, PRED))[0] == pytest.approx(1 - expected, rel=1e-5)
    assert as_numpy(losses.focal_tversky_loss(TRUTH, PRED))[0] == pytest.approx((1 - expected) ** 0.75, rel=1e-5)


def test_dice_loss_matches_numpy():
    tp, fp, fn = 2.5, 1.5, 1.5
    expected = 1 - (tp + 1) / (tp + 0.5 * fp + 0.5 * fn + 1)
    assert as_numpy(losses.dice_loss(TRUTH, PRED))[0] == pytest.approx(expected, rel=1e-5)


def test_bce_matches_numpy():
    pred = batch([0.1, 0.5, 0.9, 0.8, 0.7, 0.4, 0.2, 0.1])
    t, p = TRUTH.ravel(), pred.ravel().astype(float)
    expected = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert as_numpy(losses.bce(TRUTH, pred))[0] == pytest.approx(expected, rel=1e-4)
    assert as_numpy(losses.bce_dice_loss(TRUTH, pred))[0] == pytest.approx(
        expected + as_numpy(losses.dice_loss(TRUTH, pred))[0], rel=1e-4)


@pytest.mark.parametrize("loss", [losses.tversky_loss, losses.focal_tversky_loss, losses.dice_loss])
def test_empty_truth_predicted_empty_costs_nothing_and_a_perfect_mask_costs_nothing(loss):
    empty = batch([0, 0, 0, 0])
    assert as_numpy(loss(empty, empty))[0] == pytest.approx(0.0, abs=1e-6)
    assert as_numpy(loss(TRUTH, TRUTH))[0] == pytest.approx(0.0, abs=1e-6)
    assert as_numpy(loss(empty, batch([1, 1, 1, 1])))[0] > 0.5


def test_tversky_loss_punishes_missed_tumour_more_than_false_alarm_and_dice_does_not():
    missed = batch([1, 1, 1, 0]), batch([1, 1, 0, 0])  # truth, prediction: TP 2, FN 1
    alarm = batch([1, 1, 0, 0]), batch([1, 1, 1, 0])  # TP 2, FP 1
    assert as_numpy(losses.tversky_loss(*missed))[0] > as_numpy(losses.tversky_loss(*alarm))[0]
    assert as_numpy(losses.dice_loss(*missed))[0] == pytest.approx(as_numpy(losses.dice_loss(*alarm))[0])


def test_changing_the_module_focal_gamma_takes_effect(monkeypatch):
    plain = as_numpy(losses.tversky_loss(TRUTH, PRED))
    assert as_numpy(losses.focal_tversky_loss(TRUTH, PRED)) == pytest.approx(plain ** 0.75)
    monkeypatch.setattr(losses, "FOCAL_GAMMA", 2.0)
    assert as_numpy(losses.focal_tversky_loss(TRUTH, PRED)) == pytest.approx(plain ** 2)


def test_focal_tversky_gradient_stays_finite_when_a_tumour_free_slice_is_predicted_confidently_empty():
    import tensorflow as tf

    logits = tf.Variable(tf.fill((2, 16, 16, 1), -40.0))  # sigmoid: 4e-18, so T rounds to exactly 1
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(losses.focal_tversky_loss(tf.zeros((2, 16, 16, 1)), tf.sigmoid(logits)))
    assert np.isfinite(tape.gradient(loss, logits).numpy()).all()

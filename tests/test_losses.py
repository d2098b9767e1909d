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


@pytest.mark.parametrize("loss", [losses.tversky_loss, losses.pooled_tversky_loss, losses.focal_tversky_loss,
                                  losses.pooled_focal_tversky_loss, losses.dice_loss, losses.pooled_dice_loss])
def test_empty_truth_predicted_empty_costs_nothing_and_a_perfect_mask_costs_nothing(loss):
    empty = batch([0, 0, 0, 0])
    assert as_numpy(loss(empty, empty)).ravel()[0] == pytest.approx(0.0, abs=1e-6)
    assert as_numpy(loss(TRUTH, TRUTH)).ravel()[0] == pytest.approx(0.0, abs=1e-6)
    assert as_numpy(loss(empty, batch([1, 1, 1, 1]))).ravel()[0] > 0.5


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


@pytest.mark.parametrize("loss", [losses.focal_tversky_loss, losses.pooled_focal_tversky_loss])
def test_focal_tversky_gradient_stays_finite_when_a_tumour_free_slice_is_predicted_confidently_empty(loss):
    import tensorflow as tf

    logits = tf.Variable(tf.fill((2, 16, 16, 1), -40.0))  # sigmoid: 4e-18, so T rounds to exactly 1
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(loss(tf.zeros((2, 16, 16, 1)), tf.sigmoid(logits)))
    assert np.isfinite(tape.gradient(value, logits).numpy()).all()


@pytest.mark.parametrize("loss", [losses.pooled_tversky_loss, losses.pooled_focal_tversky_loss,
                                  losses.pooled_dice_loss])
def test_a_model_trains_on_the_pooled_loss_one_number_per_batch(loss):
    import keras

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")])
    model.compile("adam", loss)
    truth = np.zeros((4, 8, 8, 1), "float32")
    truth[0, 2:5, 2:5] = 1
    assert np.isfinite(model.train_on_batch(np.random.default_rng(0).random(truth.shape), truth))


TVERSKY = (losses.TVERSKY_ALPHA, losses.TVERSKY_BETA)


@pytest.mark.parametrize("loss, weights, exponent", [(losses.pooled_tversky_loss, TVERSKY, 1.0),
                                                      (losses.pooled_focal_tversky_loss, TVERSKY, losses.FOCAL_GAMMA),
                                                      (losses.pooled_dice_loss, (0.5, 0.5), 1.0)])
def test_pooled_loss_counts_the_whole_batch_as_one_image(loss, weights, exponent):
    truth, pred = batch([1, 1, 0, 0], [0, 0, 0, 0]), batch([1, 0.5, 0.5, 0], [0.2, 0, 0, 0])
    tp, fp, fn = 1.5, 0.7, 0.5
    alpha, beta = weights
    index = (tp + 1) / (tp + alpha * fp + beta * fn + 1)
    assert np.shape(loss(truth, pred)) == ()
    assert as_numpy(loss(truth, pred)) == pytest.approx((1 - index) ** exponent, rel=1e-5)


@pytest.mark.parametrize("per_slice_loss, pooled_loss", [(losses.tversky_loss, losses.pooled_tversky_loss),
                                                          (losses.focal_tversky_loss, losses.pooled_focal_tversky_loss),
                                                          (losses.dice_loss, losses.pooled_dice_loss)])
def test_per_slice_overlap_loss_rewards_silence_and_the_pooled_one_does_not(per_slice_loss, pooled_loss):
    """A tumour slice found exactly beside a tumour-free slice with a faint 0.1 everywhere, against an empty
    prediction of both: per slice, the faint slice costs nearly a whole slice's loss, so with this much stray
    probability silence is slightly cheaper; pooled, it weighs against the tumour's pixels and finding the
    tumour is far cheaper."""
    side = 64
    tumour = np.zeros((side, side), "float32")
    tumour[:8, :8] = 1  # 1.6% of the slice
    truth = np.stack([tumour, np.zeros_like(tumour)])[..., None]
    found = np.stack([tumour, np.full_like(tumour, 0.1)])[..., None]
    silent = np.zeros_like(truth)

    def per_slice(pred):
        return as_numpy(per_slice_loss(truth, pred)).mean()

    def pooled(pred):
        return as_numpy(pooled_loss(truth, pred))

    assert per_slice(silent) < per_slice(found)
    assert pooled(found) < pooled(silent) - 0.2


def test_named_pooled_tversky_loss_matches_the_default_one_and_is_told_apart():
    from lgg_utils import artifacts

    missed = batch([1, 1, 1, 0]), batch([1, 1, 0, 0])  # truth, prediction: TP 2, FN 1
    default = losses.pooled_tversky_loss_with(losses.TVERSKY_ALPHA, losses.TVERSKY_BETA)
    assert as_numpy(default(*missed)) == pytest.approx(as_numpy(losses.pooled_tversky_loss(*missed)))
    swapped = losses.pooled_tversky_loss_with(0.7, 0.3)
    assert as_numpy(swapped(*missed)) < as_numpy(default(*missed))  # a miss now costs less
    assert artifacts.fingerprint(loss=swapped) != artifacts.fingerprint(loss=default)
